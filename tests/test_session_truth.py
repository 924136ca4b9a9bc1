"""What the store says of a session stays true: control calls never rewrite an ended
session's history, one rule decides a session's final status, a reopened session counts only
its active time, a control call whose engine stopped expires visibly, and prune asks first
and never hands a session number out twice.

Every test here failed on the code before these fixes (checked by reverting them).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from formicary.api.outcome import Outcome
from formicary.api.session_client import wait_for_outcome
from formicary.cli import main
from formicary.errors import UsageError
from formicary.model.durations import span
from formicary.model.records import SessionStatus, TaskStatus
from formicary.model.states import final_session_status, task_tally
from formicary.run.events import EventKind
from formicary.store.database import COMMAND_EXPIRED, Store, this_host
from formicary.store.schema import SCHEMA_VERSION, connect, db_path
from formicary.store.session_writer import SessionWriter

from tests.engine_support import DEADLINE, record, start, store_at_version
from tests.test_cli_foundation import FORMICARY

S = TaskStatus
GATE = "while [ ! -e go ]; do sleep 0.02; done"
TABLES = ("sessions", "tasks", "attempts", "events", "commands", "samples")


# -- helpers -----------------------------------------------------------------------------


def write_project(workspace: Path, name: str, tasks: dict[str, dict[str, Any]]) -> Path:
    """A project folder ``name`` in ``workspace`` with one workflow ``main`` of ``tasks``."""
    folder = workspace / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'[project]\nname = "{name}"\n[workflows.main]\nmax_parallel = 4\n']
    for task, fields in tasks.items():
        lines.append(f"[workflows.main.tasks.{task}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
    (folder / "formicary.toml").write_text("\n".join(lines) + "\n")
    return folder


def rows(workspace: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in a stable order (read-only)."""
    db = sqlite3.connect(f"file:{db_path(workspace)}?mode=ro", uri=True)
    try:
        return {
            table: sorted(map(tuple, db.execute(f"SELECT * FROM {table}")), key=repr)
            for table in TABLES
        }
    finally:
        db.close()


def cli(capsys: pytest.CaptureFixture[str], workspace: Path, *args: str) -> tuple[int, str, str]:
    """Run the command line in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(["-w", str(workspace), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a process of its own."""
    return subprocess.run(
        [FORMICARY, "-w", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Wait for a condition another process brings about (polled: nothing announces it);
    fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {timeout:g} s"
        time.sleep(0.02)


def processes_of(folder: Path) -> list[psutil.Process]:
    """Processes started for tasks of the project in ``folder`` that still exist."""
    found = []
    for process in psutil.process_iter():
        try:
            environment = process.environ()
            if (
                environment.get("FORMICARY_PROJECT_DIR") == str(folder)
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail the test if a process it started (an engine, a store writer, a task) remains."""
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    yield

    def ours() -> list[psutil.Process]:
        left = []
        for child in me.children(recursive=True):
            try:
                if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE:
                    left.append(child)
            except psutil.NoSuchProcess:
                continue
        return left

    until(lambda: not ours(), "rid of the processes this test started")


def session_events(workspace: Path, session: int = 1) -> list[tuple[EventKind, dict[str, Any]]]:
    """The session's events other than task states and samples, as (kind, data)."""
    store = Store.for_workspace(workspace, create=False)
    try:
        return [
            (event.kind, dict(event.data))
            for event in store.events(session)
            if event.kind not in (EventKind.TASK_STATE, EventKind.RESOURCE_SAMPLE)
        ]
    finally:
        store.close()


# -- 1. control calls never rewrite an ended session -----------------------------------


def test_control_calls_on_an_ended_session_are_refused_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    write_project(
        tmp_path,
        "p",
        {
            "ok": {"run": "true"},
            "bad": {"run": "exit 3"},
            "after": {"run": "true", "depends_on": ["bad"]},
        },
    )
    write_project(tmp_path, "fine", {"only": {"run": "true"}})
    assert cli(capsys, tmp_path, "run", "p", "--plain")[0] == 1
    assert cli(capsys, tmp_path, "run", "fine", "--plain")[0] == 0
    before = rows(tmp_path)
    refused = [
        (("cancel", "1"), "session 1 already ended: failed"),
        (("cancel", "1", "after"), "session 1 already ended: failed"),
        (("pause", "1"), "session 1 already ended: failed"),
        (("hold", "1", "after"), "session 1 already ended: failed"),
        (("release", "1", "after"), "session 1 already ended: failed"),
        (("skip", "1", "bad"), "session 1 already ended: failed"),
        (("retry", "1", "ok"), "cannot retry task ok: it is completed"),
        (("retry", "1", "nope"), "unknown task 'nope'"),
        (("cancel", "2"), "session 2 already ended: completed"),
        (("retry", "2"), "session 2 already ended: completed; no task of it failed"),
    ]
    for args, message in refused:
        code, _, err = cli(capsys, tmp_path, *args)
        assert code == 2, (args, err)
        assert err.strip().splitlines()[-1].startswith(f"formicary: error: {message}"), err
        assert rows(tmp_path) == before, f"{' '.join(args)} changed the store"


# -- 2. a reopened session counts the time it was active -------------------------------


def test_a_session_reopened_by_a_retry_records_it_and_counts_only_active_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    folder = write_project(
        tmp_path,
        "p",
        {"fix_me": {"run": "test -f fixed"}, "after": {"run": "true", "depends_on": ["fix_me"]}},
    )
    assert cli(capsys, tmp_path, "run", "p", "--plain")[0] == 1
    # As if it had ended 1000 s ago: waiting that long for real is what a user does.
    db = sqlite3.connect(db_path(tmp_path))
    db.execute("UPDATE sessions SET started_at = started_at - 1000, ended_at = ended_at - 1000")
    db.commit()
    db.close()
    (folder / "fixed").touch()
    assert cli(capsys, tmp_path, "retry", "1", "fix_me", "--plain")[0] == 0

    kinds = [
        (kind, data.get("status") or data.get("reopened"))
        for kind, data in session_events(tmp_path)
    ]
    assert kinds == [
        (EventKind.SESSION_STARTED, None),
        (EventKind.SESSION_FINISHED, "failed"),
        (EventKind.SESSION_RESUMED, True),
        (EventKind.SESSION_FINISHED, "completed"),
    ]
    store = Store.for_workspace(tmp_path, create=False)
    record = store.session(1)
    active = store.active_seconds([record])[1]
    store.close()
    assert record.status is SessionStatus.COMPLETED
    assert record.started_at is not None and record.ended_at is not None
    assert record.ended_at - record.started_at > 1000  # the wall clock, idle time and all
    assert active is not None and active < 100  # what it took: two short runs
    # sessions, sessions --json and status agree.
    code, out, _ = cli(capsys, tmp_path, "sessions", "--json")
    assert code == 0
    (shown,) = json.loads(out)["sessions"]
    assert shown["active_s"] == round(active, 3)
    code, out, _ = cli(capsys, tmp_path, "sessions")
    assert code == 0 and out.splitlines()[1].split()[6] == span(active)
    code, out, _ = cli(capsys, tmp_path, "status", "1")
    assert code == 0 and out.splitlines()[0].endswith(f"· completed · {span(active)}")
    code, out, _ = cli(capsys, tmp_path, "status", "1", "--json")
    assert code == 0 and json.loads(out)["active_s"] == round(active, 3)


async def test_a_session_reopened_in_its_own_process_counts_only_active_time(
    tmp_path: Path,
) -> None:
    """The dashboard reopens a session it still owns: no adoption, the writer folds the
    span that ended into ``active_s`` when it records the reopening."""
    handle = start(tmp_path, {"fix_me": {"run": "test -f fixed"}}, persist=True)
    assert await handle.wait() is SessionStatus.FAILED
    assert handle.persister is not None and handle.store is not None
    await handle.persister.flush()
    db = sqlite3.connect(db_path(tmp_path))
    db.execute("UPDATE sessions SET started_at = started_at - 1000, ended_at = ended_at - 1000")
    db.commit()
    db.close()
    (tmp_path / "fixed").touch()
    handle.retry("fix_me")
    assert await handle.wait() is SessionStatus.COMPLETED
    await handle.persister.flush()
    store = Store.for_workspace(tmp_path, create=False)
    (session,) = store.sessions()
    active = store.active_seconds([session])[session.id]
    store.close()
    await handle.close()
    assert session.status is SessionStatus.COMPLETED
    assert active is not None and active < 100


# -- 3. hold, release and skip adopt an orphaned session ---------------------------------


def make_orphan(workspace: Path, folder: Path) -> None:
    """Run the project in ``folder`` in an engine of its own, wait until its task ``gate``
    runs, and kill -9 the engine; return once its store writer has stopped too."""
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", folder.name, "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def gate_runs() -> bool:
            if not db_path(workspace).exists():
                return False
            store = Store.for_workspace(workspace, create=False)
            try:
                return any(a.task == "gate" and a.pid for a in store.attempts(1))
            except LookupError:
                return False
            finally:
                store.close()

        until(gate_runs, "running gate")
        writers = [
            child
            for child in psutil.Process(engine.pid).children()
            if "formicary.store.writer" in " ".join(child.cmdline())
        ]
        assert writers, "the engine has no store writer"
    finally:
        engine.kill()
        engine.wait(timeout=60)
    _, alive = psutil.wait_procs(writers, timeout=DEADLINE)
    assert not alive, "the dead engine's store writer did not stop"
    store = Store.for_workspace(workspace, create=False)
    assert store.session(1).shown_status == "orphaned"
    store.close()


def test_hold_and_release_adopt_an_orphaned_session_and_pause_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    folder = write_project(
        tmp_path,
        "orph",
        {
            # A retry left: the attempt lost with the engine runs again once adopted.
            "gate": {"run": GATE, "retries": 1, "retry_delay": 0.01},
            "after": {"run": "true", "depends_on": ["gate"]},
        },
    )
    make_orphan(tmp_path, folder)
    before = rows(tmp_path)
    code, _, err = cli(capsys, tmp_path, "pause", "1")
    assert code == 2 and "session 1 has no running engine" in err
    assert rows(tmp_path) == before

    holder = subprocess.Popen(
        [FORMICARY, "-w", str(tmp_path), "hold", "1", "after", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def held_by_holder() -> bool:
            assert holder.poll() is None, holder.communicate()[0]
            store = Store.for_workspace(tmp_path, create=False)
            try:
                record = store.session(1)
                tasks = {task.name: task for task in store.tasks(1)}
                return (
                    record.owner_pid == holder.pid
                    and record.owner_alive
                    and tasks["after"].held
                    and tasks["after"].state == "paused"
                    and tasks["gate"].state == "running"
                )
            finally:
                store.close()

        until(held_by_holder, "adopted by `formicary hold` with after held")
        (folder / "go").touch()
        store = Store.for_workspace(tmp_path, create=False)
        until(lambda: store.tasks(1)[0].state == "completed", "gate completed")
        assert store.tasks(1)[1].state == "paused"  # held: the session waits for it
        store.close()
        released = run_cli(tmp_path, "release", "1", "after")
        assert released.returncode == 0 and "release after: ok" in released.stdout
        out, _ = holder.communicate(timeout=120)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert holder.returncode == 0, out
    store = Store.for_workspace(tmp_path, create=False)
    assert store.session(1).status is SessionStatus.COMPLETED
    assert [t.state for t in store.tasks(1)] == ["completed", "completed"]
    store.close()
    assert processes_of(folder) == []


def test_skip_adopts_an_orphaned_session_after_checking_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    folder = write_project(
        tmp_path,
        "orph",
        {
            "early": {"run": "true"},
            "gate": {"run": GATE, "depends_on": ["early"]},
            "after": {"run": "true", "depends_on": ["gate"]},
        },
    )
    make_orphan(tmp_path, folder)
    # A call its task's state refuses is refused before adopting: nothing changes.
    before = rows(tmp_path)
    code, _, err = cli(capsys, tmp_path, "skip", "1", "early", "--plain")
    assert code == 2 and "cannot skip task early: it is completed" in err
    assert rows(tmp_path) == before
    code, out, err = cli(capsys, tmp_path, "skip", "1", "gate", "--plain")
    assert code == 0, out + err
    store = Store.for_workspace(tmp_path, create=False)
    assert store.session(1).status is SessionStatus.COMPLETED
    assert [t.state for t in store.tasks(1)] == ["completed", "skipped", "completed"]
    store.close()
    assert processes_of(folder) == []


# -- 4. one rule for a session's final status --------------------------------------------


def test_final_session_status_rule() -> None:
    assert final_session_status({S.FAILED: 1, S.BLOCKED: 1, S.CANCELLED: 1}) is (
        SessionStatus.FAILED
    )
    assert final_session_status({"cancelled": 1, "blocked": 2}) is SessionStatus.CANCELLED
    assert final_session_status({"completed": 3, "skipped": 1}) is SessionStatus.COMPLETED
    assert final_session_status({"completed": 1, "failed": 0}) is SessionStatus.COMPLETED
    assert task_tally({S.COMPLETED: 2, S.FAILED: 1, S.BLOCKED: 1, S.CANCELLED: 1}) == (
        2,
        1,
        2,
        5,
    )


async def _session_of(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tasks: dict[str, dict[str, Any]],
    act: Callable[[Any], None],
    waits_for: dict[str, TaskStatus],
) -> tuple[SessionStatus, str, str]:
    """Run ``tasks`` (persisted), apply ``act`` once the tasks of ``waits_for`` are in
    their states there; the session's final status, its tasks column in ``formicary
    sessions`` and in the dashboard's list."""
    from formicary.tui.screens.sessions import _cells

    handle = start(tmp_path, tasks, persist=True)
    recorder = record(handle)
    await recorder.until(
        lambda: all(handle.state(task) is state for task, state in waits_for.items())
    )
    act(handle)
    status = await handle.wait()
    await handle.close()
    code, out, _ = cli(capsys, tmp_path, "sessions")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[6] == "done/failed/other/total"
    store = Store.for_workspace(tmp_path, create=False)
    assert store.session(1).status is status
    dashboard = _cells(store.session(1))[6].plain
    store.close()
    return status, row.split()[7], dashboard


async def test_failed_blocked_and_cancelled_is_failed_with_one_failure_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    tasks = {
        "bad": {"run": "exit 1"},
        "child": {"run": "true", "depends_on": ["bad"]},
        "long": {"run": GATE, "depends_on": ["bad_done"]},
        "bad_done": {"run": "true"},
    }

    status, column, dashboard = await _session_of(
        tmp_path,
        capsys,
        tasks,
        lambda handle: handle.cancel("long"),
        {"long": S.RUNNING, "bad": S.FAILED},
    )
    assert status is SessionStatus.FAILED
    assert column == dashboard == "1/1/2/4"  # bad_done done, bad failed; blocked, cancelled


async def test_cancelled_and_blocked_without_a_failure_is_cancelled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    tasks = {"long": {"run": GATE}, "after": {"run": "true", "depends_on": ["long"]}}
    status, column, dashboard = await _session_of(
        tmp_path, capsys, tasks, lambda handle: handle.cancel("long"), {"long": S.RUNNING}
    )
    assert status is SessionStatus.CANCELLED
    assert column == dashboard == "0/0/2/2"


async def test_completed_and_skipped_is_completed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    tasks = {"ok": {"run": "true"}, "long": {"run": GATE}}
    status, column, dashboard = await _session_of(
        tmp_path, capsys, tasks, lambda handle: handle.skip("long"), {"long": S.RUNNING}
    )
    assert status is SessionStatus.COMPLETED
    assert column == dashboard == "1/0/1/2"


# -- 5. a command whose engine stopped expires -------------------------------------------


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _orphaned_session(store: Store) -> tuple[int, int]:
    """A running session in ``store`` whose engine (a dead pid on this host) is gone."""
    session = store.create_session(
        project="p",
        workflow="w",
        params={},
        definition="{}",
        project_root="/nowhere",
        tasks=["a"],
        max_parallel=None,
    )
    pid = _dead_pid()
    with store.transaction() as db:
        db.execute(
            "UPDATE sessions SET status = 'running', owner_pid = ? WHERE id = ?", (pid, session)
        )
    return session, pid


async def test_a_command_for_a_dead_engine_expires_visibly(tmp_path: Path) -> None:
    store = Store(db_path(tmp_path))
    session, _ = _orphaned_session(store)
    command = store.enqueue(session, "cancel")
    assert await wait_for_outcome(store, command, DEADLINE) == COMMAND_EXPIRED
    taken_at, outcome = store.command_outcome(command)
    assert outcome == COMMAND_EXPIRED and taken_at is not None
    store.close()


async def test_an_expired_command_is_a_refused_outcome(tmp_path: Path) -> None:
    store = Store(db_path(tmp_path))
    session, _ = _orphaned_session(store)
    text = await wait_for_outcome(store, store.enqueue(session, "cancel"), DEADLINE)
    assert text is not None
    outcome = Outcome.from_stored(text, session, "cancel")
    assert not outcome.ok
    with pytest.raises(UsageError, match="cancel expired: the session's engine stopped"):
        outcome.unwrap()
    store.close()


def test_adopting_expires_what_was_queued_for_the_dead_engine(tmp_path: Path) -> None:
    store = Store(db_path(tmp_path))
    session, pid = _orphaned_session(store)
    command = store.enqueue(session, "cancel")
    assert store.claim(session, (pid, this_host()))
    assert store.command_outcome(command)[1] == COMMAND_EXPIRED
    # The adopter's writer takes nothing: the dead engine's call is never applied.
    writer = SessionWriter(session, ["a"], ["pending"], (os.getpid(), this_host()))
    db = connect(db_path(tmp_path))
    assert writer.take_commands(db) == []
    db.close()
    # A call queued after the adoption is the new owner's.
    later = store.enqueue(session, "pause")
    db = connect(db_path(tmp_path))
    assert [row[0] for row in writer.take_commands(db)] == [later]
    db.close()
    store.close()


# -- 6. prune asks, lists, and never reuses a number -------------------------------------


def _finished_sessions(workspace: Path, count: int) -> list[int]:
    store = Store.for_workspace(workspace)
    ids = []
    for _ in range(count):
        session = store.create_session(
            project="p",
            workflow="w",
            params={},
            definition="{}",
            project_root=str(workspace),
            tasks=["a"],
            max_parallel=None,
        )
        (workspace / ".formicary" / "logs" / str(session)).mkdir(parents=True)
        ids.append(session)
    with store.transaction() as db:
        db.execute("UPDATE sessions SET status = 'completed'")
    store.close()
    return ids


class _Terminal(io.StringIO):
    """Standard input that is a terminal, with the user's answer in it."""

    def isatty(self) -> bool:
        return True


def _ids(workspace: Path) -> list[int]:
    store = Store.for_workspace(workspace, create=False)
    try:
        return [record.id for record in store.sessions()]
    finally:
        store.close()


def test_prune_asks_on_a_terminal_and_refuses_without_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _finished_sessions(tmp_path, 3)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    code, _, err = cli(capsys, tmp_path, "prune", "--keep", "1")
    assert code == 2 and "--yes" in err
    assert _ids(tmp_path) == [3, 2, 1]

    code, out, err = cli(capsys, tmp_path, "prune", "--keep", "1", "--dry-run")
    assert code == 0 and out.splitlines() == [
        "session 2: p:w completed",
        "session 1: p:w completed",
    ]
    assert "would delete 2 session(s)" in err
    assert _ids(tmp_path) == [3, 2, 1]

    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    code, out, _ = cli(capsys, tmp_path, "prune", "--keep", "1")
    assert code == 0 and "Delete 2 session(s) and their logs? [y/N]" in out
    assert _ids(tmp_path) == [3, 2, 1]

    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    code, out, _ = cli(capsys, tmp_path, "prune", "--keep", "1")
    assert code == 0 and "removed 2 session(s)" in out
    assert _ids(tmp_path) == [3]
    logs = tmp_path / ".formicary" / "logs"
    assert sorted(path.name for path in logs.iterdir()) == ["3"]


def test_session_numbers_are_never_reused_after_a_prune(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _finished_sessions(tmp_path, 3) == [1, 2, 3]
    code, out, _ = cli(capsys, tmp_path, "prune", "--keep", "0", "--yes")
    assert code == 0 and "removed 3 session(s)" in out
    assert _ids(tmp_path) == []
    assert _finished_sessions(tmp_path, 1) == [4]


def test_an_old_store_migrates_keeping_every_session(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = store_at_version(path, 5)
    old.executemany(
        "INSERT INTO sessions (id, project, workflow, params, definition, project_root, "
        "status, created_at, started_at, ended_at, task_names) "
        "VALUES (?, 'p', 'w', '{}', '{}', '/x', 'completed', 1.0, 10.0, 12.5, '[\"a\"]')",
        [(1,), (2,), (7,)],
    )
    old.close()
    store = Store(path)
    assert store._connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    records = store.sessions()
    assert [record.id for record in records] == [7, 2, 1]
    assert store.active_seconds(records) == {7: 2.5, 2: 2.5, 1: 2.5}
    assert store.delete_sessions(records) == [7, 2, 1]
    created = store.create_session(
        project="p",
        workflow="w",
        params={},
        definition="{}",
        project_root="/x",
        tasks=["a"],
        max_parallel=None,
    )
    assert created == 8  # after the highest number the old store had used
    assert store.integrity_check() == "ok"
    store.close()
