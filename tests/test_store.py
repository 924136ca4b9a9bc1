"""The store: kill -9 recovery, migrations, readers beside a writer, cross-process control."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from formicary.cli import main
from formicary.errors import SQLiteTooOldError
from formicary.model.records import SessionStatus
from formicary.store.database import Store
from formicary.store.schema import SCHEMA_VERSION, connect, db_path

from tests.crash_trial import fresh, run_trial
from tests.engine_support import store_at_version
from tests.test_cli_foundation import FORMICARY


@pytest.mark.parametrize("trial", range(10))
def test_kill_9_at_a_random_moment_then_resume(trial: int, tmp_path: Path) -> None:
    result = run_trial(fresh(tmp_path / "ws"), random.Random(1000 + trial))
    assert result.problems == [], result


def test_older_schema_opens_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = store_at_version(path, 1)
    old.execute(
        "INSERT INTO sessions (project, workflow, params, definition, project_root, status, "
        "created_at) VALUES ('p', 'w', '{}', '{}', '/x', 'completed', 1.0)"
    )
    old.close()
    store = Store(path)
    assert store._connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    record = store.session(1)
    assert record.project == "p" and record.executor == "local"
    assert store.integrity_check() == "ok"
    store.close()


def test_version_4_tasks_get_their_summaries_after_migrating(tmp_path: Path) -> None:
    """Version 5 rebuilds the tasks table with a stored summary; a row from before version 4
    (no exit code of its own) takes its latest attempt's on the way."""
    path = tmp_path / "state.db"
    old = store_at_version(path, 4)
    old.execute(
        "INSERT INTO sessions (project, workflow, params, definition, project_root, status, "
        "created_at, task_names) VALUES ('p', 'w', '{}', '{}', '/x', 'failed', 1.0, "
        '\'["a", "b", "c"]\')'
    )
    old.executemany(
        "INSERT INTO tasks (session_id, name, state, attempts, held, reason, updated_at, "
        "position, exit_code) VALUES (1, ?, ?, ?, ?, ?, 1.0, ?, ?)",
        [("a", "failed", 2, 0, "exit 3", 0, None), ("b", "paused", 0, 1, "", 1, None)],
    )
    old.executemany(
        "INSERT INTO attempts (session_id, task, number, outcome, exit_code) VALUES (1, 'a', ?, "
        "'failed', ?)",
        [(1, 1), (2, 3)],
    )
    old.close()
    store = Store(path)
    assert store._connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.task_summaries(1) == [
        {
            "name": "a",
            "state": "failed",
            "attempts": 2,
            "exit_code": 3,
            "reason": "exit 3",
            "held": False,
        },
        {
            "name": "b",
            "state": "paused",
            "attempts": 0,
            "exit_code": None,
            "reason": "",
            "held": True,
        },
        {
            "name": "c",
            "state": "pending",
            "attempts": 0,
            "exit_code": None,
            "reason": "",
            "held": False,
        },
    ]
    assert json.loads(store.task_summaries_json(1)) == store.task_summaries(1)
    assert store.integrity_check() == "ok"
    store.close()


def test_an_sqlite_without_generated_columns_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect(db_path(tmp_path)).close()
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 26, 0))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.26.0")
    with pytest.raises(SQLiteTooOldError, match=r"needs SQLite 3\.31\.0 or newer"):
        connect(db_path(tmp_path))
    assert main(["-w", str(tmp_path), "sessions"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "SQLite 3.26.0" in line


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this formicary"):
        connect(path)
    # On the command line: one line naming the file, exit 2.
    result = subprocess.run(
        [FORMICARY, "-w", str(tmp_path), "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "state.db" in result.stderr


def write_long_project(workspace: Path, tasks: int, command: str = "true") -> None:
    folder = workspace / "wide"
    folder.mkdir(parents=True)
    lines = [
        '[project]\nname = "wide"\n',
        "[workflows.main]\nmax_parallel = 8\n",
        "[workflows.main.tasks]",
    ]
    lines += [f't{i:05d} = {{ run = "{command}" }}' for i in range(tasks)]
    (folder / "formicary.toml").write_text("\n".join(lines) + "\n")


def test_readers_never_see_database_is_locked(tmp_path: Path) -> None:
    write_long_project(tmp_path, 1500)
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(tmp_path), "run", "wide", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    polls = 0

    def read() -> None:
        nonlocal polls
        while engine.poll() is None:
            result = subprocess.run(
                [FORMICARY, "-w", str(tmp_path), "status", "1", "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if result.returncode == 0:
                json.loads(result.stdout)
                polls += 1
            elif "no sessions recorded" not in result.stderr and "unknown session" not in (
                result.stderr
            ):
                errors.append(result.stderr)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    _, stderr = engine.communicate(timeout=300)
    for reader in readers:
        reader.join(timeout=60)
    assert engine.returncode == 0, stderr
    assert "locked" not in stderr
    assert errors == []
    assert polls >= 3
    store = Store(db_path(tmp_path))
    assert store.session(1).status is SessionStatus.COMPLETED
    store.close()


def test_cli_controls_a_session_run_by_another_process(tmp_path: Path) -> None:
    folder = tmp_path / "ctl"
    folder.mkdir()
    (folder / "formicary.toml").write_text(
        '[project]\nname = "ctl"\n[workflows.main]\nmax_parallel = 4\n'
        '[workflows.main.tasks.gate]\nrun = "test -f ok"\n'
        '[workflows.main.tasks.after]\nrun = "true"\ndepends_on = ["gate"]\n'
        '[workflows.main.tasks.long]\nrun = "sleep 60"\n'
        '[workflows.main.tasks.later]\nrun = "echo later > later.txt"\n'
        'depends_on = ["gate"]\n'
    )
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(tmp_path), "run", "ctl", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FORMICARY, "-w", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def state(task: str) -> str:
        document = json.loads(cli("status", "1", "--json").stdout)
        return {t["name"]: t["state"] for t in document["tasks"]}[task]

    def until(condition: object, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.05)

    until(lambda: db_path(tmp_path).exists() and cli("status", "1").returncode == 0)
    until(lambda: state("gate") == "failed" and state("long") == "running")
    paused = cli("pause", "1")
    assert paused.returncode == 0 and "pause: ok" in paused.stdout
    (folder / "ok").touch()
    retried = cli("retry", "1", "gate")
    assert retried.returncode == 0, retried.stderr
    time.sleep(0.5)  # a paused session must not dispatch: give it the chance to misbehave
    assert state("gate") == "ready"
    assert cli("resume", "1").returncode == 0
    until(lambda: state("after") == "completed" and state("later") == "completed")
    cancelled = cli("cancel", "1", "long")
    assert cancelled.returncode == 0
    out, _ = engine.communicate(timeout=60)
    assert engine.returncode == 1  # long was cancelled
    assert "⊘ long cancelled" in out
    refused = cli("retry", "1", "after")
    assert refused.returncode == 2 and "cannot retry task after: it is completed" in (
        refused.stderr
    )


def test_unknown_session_and_task_exit_2(tmp_path: Path) -> None:
    write_long_project(tmp_path, 1)
    assert (
        subprocess.run(
            [FORMICARY, "-w", str(tmp_path), "run", "wide"], capture_output=True, check=False
        ).returncode
        == 0
    )
    for args, message in (
        (["status", "9"], "unknown session '9'"),
        (["status", "abc"], "unknown session 'abc'"),
        (["logs", "1", "nope"], "unknown task 'nope'"),
        (["retry", "1", "nope"], "unknown task 'nope'"),
    ):
        result = subprocess.run(
            [FORMICARY, "-w", str(tmp_path), *args], capture_output=True, text=True, check=False
        )
        assert result.returncode == 2, args
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    write_long_project(tmp_path, 2, "echo hi")
    for _ in range(3):
        subprocess.run(
            [FORMICARY, "-w", str(tmp_path), "run", "wide"], check=True, capture_output=True
        )
    logs = tmp_path / ".formicary" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["1", "2", "3"]
    result = subprocess.run(
        [FORMICARY, "-w", str(tmp_path), "prune", "--keep", "1", "--yes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert sorted(p.name for p in logs.iterdir()) == ["3"]
    store = Store(db_path(tmp_path))
    assert [r.id for r in store.sessions()] == [3]
    store.close()


async def test_task_summaries_agree_with_the_full_records(tmp_path: Path) -> None:
    """``status --json`` reads only what it prints and replays the events logged since the
    snapshot onto it; it must say what the full task and attempt records say."""
    from formicary.store.database import Store as FullStore

    from tests.engine_support import record, start

    tasks = {
        "ok": {"run": "true"},
        "bad": {"run": "exit 3", "retries": 1, "retry_delay": 0.01},
        "after": {"run": "true", "depends_on": ["bad"]},
        "gate": {"run": "while [ ! -e go ]; do sleep 0.01; done; exit 4"},
        "later": {"run": "true", "depends_on": ["gate"]},
    }
    handle = start(tmp_path, tasks, persist=True)
    recorder = record(handle)
    store = FullStore(db_path(tmp_path))

    def expected() -> list[dict[str, object]]:
        tasks_now, attempts = store.tasks_and_attempts(int(handle.session_id))
        codes = {attempt.task: attempt.exit_code for attempt in attempts}
        return [
            {
                "name": task.name,
                "state": task.state,
                "attempts": task.attempts,
                "exit_code": codes.get(task.name),
                "reason": task.reason,
                "held": task.held,
            }
            for task in tasks_now
        ]

    await recorder.until(lambda: "blocked" in recorder.states("after"))
    await recorder.until(lambda: "running" in recorder.states("gate"))
    assert handle.persister is not None
    await handle.persister.flush()
    during = store.task_summaries(int(handle.session_id))
    assert during == expected()
    by_name = {summary["name"]: summary for summary in during}
    assert by_name["bad"]["attempts"] == 2 and by_name["bad"]["exit_code"] == 3
    assert by_name["gate"]["state"] == "running" and by_name["gate"]["exit_code"] is None
    assert by_name["later"]["state"] == "pending"
    (tmp_path / "go").touch()
    await handle.wait()
    await handle.persister.flush()
    assert store.task_summaries(int(handle.session_id)) == expected()
    await handle.close()
    after = store.task_summaries(int(handle.session_id))
    assert after == expected()
    assert {summary["name"]: summary["exit_code"] for summary in after}["gate"] == 4
    # The snapshot keeps each task's latest exit code (read without looking at attempts).
    codes = dict(store._all("SELECT name, exit_code FROM tasks", plain=True))
    assert codes["gate"] == 4 and codes["bad"] == 3 and codes["ok"] == 0
    # The same from the events alone: no snapshot rows, everything replayed.
    with store.transaction() as db:
        db.execute("DELETE FROM tasks")
        db.execute("DELETE FROM attempts")
        db.execute("UPDATE sessions SET snapshot_seq = 0")
    assert store.task_summaries(int(handle.session_id)) == after == expected()
    store.close()
