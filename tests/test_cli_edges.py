"""Command-line edges: ``--version``, a ``-w`` that names no folder, what ``status --json``
says of each task's latest attempt and of the session's parameters, ``logs SESSION``
listing every attempt's log, and the declared commands: each listed by ``--help`` and its
handler found, the parser built for one command answering as the full one, and the read-only
commands importing only what they use."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import pytest
from formicary.cli import main
from formicary.store.database import Store
from formicary.store.schema import db_path

from tests.conftest import REPO, marked_processes
from tests.test_cli_foundation import FORMICARY

PROJECT = """\
[project]
name = "proj"

[workflows.w]
params = { day = "2026-01-01", rounds = 3 }

[workflows.w.tasks.ok]
run = "echo hello {day}"

[workflows.w.tasks.bad]
run = "echo oops; exit 3"
retries = 1
retry_delay = 0.01

[workflows.w.tasks.after]
run = "true"
depends_on = ["bad"]
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console script to its end."""
    return subprocess.run(
        [FORMICARY, *args], capture_output=True, text=True, timeout=60, check=False
    )


def assert_no_processes_left() -> None:
    """Nothing this test started is still running (a process on its way out gets up to
    5 s to go; the conftest guard checks again after the test)."""
    deadline = time.monotonic() + 5.0
    left = marked_processes()
    while left and time.monotonic() < deadline:
        psutil.wait_procs(left, timeout=0.2)
        left = marked_processes()
    assert left == [], [p.pid for p in left]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace with one finished session of ``proj``: ``ok`` completed, ``bad`` failed
    twice (exit 3), ``after`` blocked; run with ``--param day=2026-02-02``."""
    workspace = tmp_path_factory.mktemp("edges")
    (workspace / "proj").mkdir()
    (workspace / "proj" / "formicary.toml").write_text(PROJECT, encoding="utf-8")
    result = cli("-w", str(workspace), "run", "proj", "--plain", "--param", "day=2026-02-02")
    assert result.returncode == 1, result.stdout + result.stderr
    assert_no_processes_left()
    yield workspace


# -- --version ------------------------------------------------------------------------


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"formicary {metadata.version('formicary')}\n"
    assert result.stderr == ""


def test_version_falls_back_to_pyproject_when_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from formicary.cli import package_version

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert package_version() == pyproject["project"]["version"]


# -- -w/--workspace -------------------------------------------------------------------

COMMANDS = [
    ["sessions"],
    ["status", "1", "--json"],
    ["logs", "1"],
    ["run", "proj"],
    ["validate"],
    ["new", "fresh"],
    ["dash"],
    ["mcp"],
    ["retry", "1"],
    ["resume"],
    ["prune", "--keep", "1"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda words: words[0])
def test_a_workspace_that_does_not_exist_is_exit_2_for_every_command(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["-w", str(missing), *command]) == 2
    err = capsys.readouterr().err
    assert err == f"formicary: error: -w/--workspace {missing}: no such folder\n"
    assert not missing.exists()


def test_a_workspace_option_after_the_command_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["docs", "-w", str(missing), "proj"]) == 2
    assert (
        capsys.readouterr().err == f"formicary: error: -w/--workspace {missing}: no such folder\n"
    )


def test_a_workspace_that_is_a_file_is_exit_2_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x", encoding="utf-8")
    result = cli("-w", str(file), "sessions")
    assert result.returncode == 2
    assert result.stderr == f"formicary: error: -w/--workspace {file}: not a folder\n"
    assert result.stdout == ""


# -- status --json: timing, worker, params ----------------------------------------------


def latest_attempts(store: Store, session: int) -> dict[str, dict[str, Any]]:
    """Each task's latest attempt from the full records: what the summaries must say."""
    tasks, attempts = store.tasks_and_attempts(session)
    by_key = {(a.task, a.number): a for a in attempts}
    found = {}
    for task in tasks:
        attempt = by_key.get((task.name, task.attempts))
        found[task.name] = {
            "started_at": None if attempt is None else attempt.started_at,
            "ended_at": None if attempt is None else attempt.ended_at,
            "worker": None if attempt is None else attempt.worker,
        }
    return found


def assert_timing_agrees(
    summaries: list[dict[str, Any]], expected: dict[str, dict[str, Any]], now: float
) -> None:
    for summary in summaries:
        want = expected[summary["name"]]
        assert summary["worker"] == want["worker"]
        for key in ("started_at", "ended_at"):
            if want[key] is None:
                assert summary[key] is None, (summary, key)
            else:
                assert summary[key] == pytest.approx(want[key], abs=1e-4), (summary, key)
        if want["started_at"] is None:
            assert summary["duration_s"] is None
        else:
            until = now if want["ended_at"] is None else want["ended_at"]
            assert summary["duration_s"] == pytest.approx(until - want["started_at"], abs=2e-3)


def test_status_json_gives_each_latest_attempt_and_the_params(finished: Path) -> None:
    result = cli("-w", str(finished), "status", "1", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["params"] == {"day": "2026-02-02", "rounds": 3}
    tasks = {task["name"]: task for task in document["tasks"]}
    assert tasks["ok"]["started_at"] <= tasks["ok"]["ended_at"]
    assert tasks["ok"]["worker"] is None
    assert tasks["after"]["started_at"] is None and tasks["after"]["duration_s"] is None
    store = Store(db_path(finished))
    try:
        bad = store.attempts(1, "bad")
        assert [a.number for a in bad] == [1, 2]
        # The latest attempt's times, not the first's.
        assert tasks["bad"]["started_at"] == pytest.approx(bad[1].started_at, abs=1e-4)
        assert_timing_agrees(document["tasks"], latest_attempts(store, 1), now=0.0)
    finally:
        store.close()


async def test_timed_summaries_agree_with_the_full_records_live_and_replayed(
    tmp_path: Path,
) -> None:
    """Whether read from the snapshot rows or replayed from the events logged after them,
    each task's timing is its latest attempt's; a running one counts up to ``now``."""
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
    store = Store(db_path(tmp_path))
    session = int(handle.session_id)
    try:
        await recorder.until(lambda: "blocked" in recorder.states("after"))
        await recorder.until(lambda: "running" in recorder.states("gate"))
        assert handle.persister is not None
        await handle.persister.flush()
        expected = latest_attempts(store, session)
        started = expected["gate"]["started_at"]
        assert started is not None and expected["gate"]["ended_at"] is None
        now = started + 42.5
        during = store.task_summaries(session, timing=True, now=now)
        assert_timing_agrees(during, expected, now)
        gate = next(s for s in during if s["name"] == "gate")
        assert gate["duration_s"] == pytest.approx(42.5, abs=2e-3)
        assert json.loads(store.task_summaries_json(session, timing=True, now=now)) == during
        (tmp_path / "go").touch()
        await handle.wait()
        await handle.persister.flush()
    finally:
        await handle.close()
    after = store.task_summaries(session, timing=True)
    assert_timing_agrees(after, latest_attempts(store, session), now=0.0)
    # The untimed summaries (the MCP tools') keep their six fields.
    assert set(store.task_summaries(session)[0]) == {
        "name",
        "state",
        "attempts",
        "exit_code",
        "reason",
        "held",
    }
    # Everything from the events alone: no snapshot rows, every timing replayed.
    with store.transaction() as db:
        db.execute("DELETE FROM tasks")
        db.execute("DELETE FROM attempts")
        db.execute("UPDATE sessions SET snapshot_seq = 0")
    replayed = store.task_summaries(session, timing=True)
    for got, want in zip(replayed, after, strict=True):
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == (
                pytest.approx(value, abs=2e-3) if isinstance(value, float) else value
            )
    store.close()
    assert_no_processes_left()


def test_an_orphaned_running_attempt_counts_until_the_last_heartbeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A session whose engine is gone: its unfinished attempt ran, as far as anyone knows,
    until the last heartbeat; the Dask worker it ran on is named."""
    store = Store(db_path(tmp_path))
    session = store.create_session(
        project="p",
        workflow="w",
        params={"n": 1},
        definition="{}",
        project_root=str(tmp_path),
        tasks=["remote", "waiting"],
        max_parallel=None,
        executor="dask",
    )
    with store.transaction() as db:
        db.execute(
            "UPDATE sessions SET status = 'running', owner_pid = NULL, heartbeat = 1000.0, "
            "started_at = 899.0 WHERE id = ?",
            (session,),
        )
        # The task's row carries its latest attempt's start and worker, as the store
        # writer keeps it (schema version 7).
        db.execute(
            "INSERT INTO tasks (session_id, name, state, attempts, updated_at, position, "
            "started_at, worker) "
            "VALUES (?, 'remote', 'running', 1, 900.0, 0, 900.0, 'tcp://10.0.0.7:40001')",
            (session,),
        )
        db.execute(
            "INSERT INTO attempts (session_id, task, number, started_at, worker, log_path) "
            "VALUES (?, 'remote', 1, 900.0, 'tcp://10.0.0.7:40001', '/x/remote.1.log')",
            (session,),
        )
    store.close()
    assert main(["-w", str(tmp_path), "status", str(session), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "orphaned"
    assert document["params"] == {"n": 1}
    remote, waiting = document["tasks"]
    assert remote == {
        "name": "remote",
        "state": "running",
        "attempts": 1,
        "exit_code": None,
        "reason": "",
        "held": False,
        "started_at": 900.0,
        "ended_at": None,
        "duration_s": 100.0,
        "worker": "tcp://10.0.0.7:40001",
    }
    assert waiting["state"] == "pending"
    assert [waiting[k] for k in ("started_at", "ended_at", "duration_s", "worker")] == [None] * 4


# -- logs SESSION ---------------------------------------------------------------------


def test_logs_without_a_task_lists_every_attempt(finished: Path) -> None:
    result = cli("-w", str(finished), "logs", "1")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["task", "attempt", "state", "exit", "bytes", "log"]
    logs = finished / ".formicary" / "logs" / "1"
    rows = {(row[0], row[1]): row[2:] for row in lines[1:]}
    assert len(lines) == 5
    for task, number, state, code in (
        ("ok", "1", "succeeded", "0"),
        ("bad", "1", "failed", "3"),
        ("bad", "2", "failed", "3"),
    ):
        log = logs / f"{task}.{number}.log"
        assert rows[task, number] == [state, code, str(log.stat().st_size), str(log)]
    assert rows["after", "-"] == ["blocked", "-", "-", "-"]
    # With a TASK it prints the log, as before.
    result = cli("-w", str(finished), "logs", "1", "bad", "--attempt", "1")
    assert (result.returncode, result.stdout) == (0, "oops\n"), result.stderr


@pytest.mark.parametrize("option", ["--attempt", "--follow"])
def test_logs_options_that_need_a_task_are_exit_2(finished: Path, option: str) -> None:
    extra = ["1"] if option == "--attempt" else []
    result = cli("-w", str(finished), "logs", "1", option, *extra)
    assert result.returncode == 2
    assert result.stderr.startswith(f"formicary: error: {option}: needs a TASK")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


# -- the declared commands ----------------------------------------------------------------


def test_every_declared_command_is_in_the_help_in_order_and_its_handler_resolves() -> None:
    from formicary.cli.commands import COMMANDS

    result = cli("--help")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^    (\S+)", result.stdout, re.MULTILINE)
    assert listed == [command.name for command in COMMANDS]
    for command in COMMANDS:
        assert callable(command.resolve()), command.handler


def test_help_asked_for_before_the_command_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The parser is built with only the named command when it can be; help (``-h status``,
    ``--he status``) is not such a case: it lists them all."""
    from formicary.cli.commands import COMMANDS

    for option in ("-h", "--he", "-vh"):
        with pytest.raises(SystemExit) as ended:
            main([option, "status"])
        assert ended.value.code == 0
        listed = re.findall(r"^    (\S+)", capsys.readouterr().out, re.MULTILINE)
        assert listed == [command.name for command in COMMANDS], option


def test_a_workspace_named_like_a_command_is_not_taken_for_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-vw run sessions``: ``run`` is the workspace, ``sessions`` the command."""
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["-vw", "run", "sessions"]) == 2
    assert capsys.readouterr().err == "formicary: error: run: no sessions recorded here yet\n"


@pytest.mark.parametrize(
    ("command", "unwanted"),
    [
        (["status", "1", "--json"], ("textual", "asyncio", "rich", "formicary.api")),
        (["sessions", "--json"], ("textual", "asyncio", "rich", "formicary.api")),
        (["status", "1"], ("textual", "asyncio", "formicary.api", "formicary.run.scheduler")),
        (["sessions"], ("textual", "asyncio", "formicary.api", "formicary.run.scheduler")),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_read_only_commands_import_only_what_they_use(
    finished: Path, command: list[str], unwanted: tuple[str, ...]
) -> None:
    """Scripts poll ``status --json``: declaring every command must not import any
    command's implementation, and reading the store needs no engine, UI or event loop."""
    script = (
        "import contextlib, io, sys\n"
        "from formicary.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({['-w', str(finished), *command]!r})\n"
        "print(code, *sorted(name for name, m in sys.modules.items() if m is not None))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    code, *loaded = result.stdout.split()
    assert code == "0", result.stderr
    wrong = [n for n in loaded if n in unwanted or n.startswith(tuple(u + "." for u in unwanted))]
    assert wrong == []
