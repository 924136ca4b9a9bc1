"""The store and the logs are private to their owner (security finding 7): ``.formicary``
and every folder below it 0700, every file in it 0600 (state.db with its ``-wal`` and
``-shm``, the attempts' logs), an older store's loose modes tightened when a run opens it,
and the files the tasks themselves create keep the user's umask."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from formicary.model.records import SessionStatus
from formicary.run.events import EventKind
from formicary.run.executors.local import _LazyLog
from formicary.store.schema import db_path, state_dir

from tests.conftest import WriteProject
from tests.engine_support import record, start
from tests.test_cli_foundation import FORMICARY

SECRET = {"DB_PASSWORD": "hunter2"}


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask 022, so a file a task creates is expected at 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    """Every entry under ``folder`` (and the folder itself, as ``"."``) → its permission
    bits, with a trailing ``/`` on folders."""
    found = {"./": stat.S_IMODE(os.lstat(folder).st_mode)}
    for parent, folders, files in os.walk(folder):
        for name in folders:
            path = Path(parent, name)
            found[f"{path.relative_to(folder)}/"] = stat.S_IMODE(os.lstat(path).st_mode)
        for name in files:
            path = Path(parent, name)
            found[str(path.relative_to(folder))] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def loose(folder: Path) -> dict[str, str]:
    """The entries under ``folder`` that are not 0700 (folders) or 0600 (files)."""
    return {
        name: oct(mode)
        for name, mode in modes(folder).items()
        if mode != (0o700 if name.endswith("/") else 0o600)
    }


def file_mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


async def test_a_run_leaves_the_store_and_logs_private(tmp_path: Path) -> None:
    tasks: dict[str, dict[str, Any]] = {
        "talk": {"run": 'echo "password $DB_PASSWORD"; echo data > made.txt', "env": SECRET},
        "gate": {"run": "echo waiting; while [ ! -e go ]; do sleep 0.01; done"},
        "quiet": {"run": "true", "depends_on": ["talk"]},
    }
    handle = start(tmp_path, tasks, persist=True)
    recorder = record(handle)
    store_dir = state_dir(tmp_path)
    try:
        await recorder.until(
            lambda: (
                {"talk", "gate"} <= {e.task for e in recorder.events if e.kind is EventKind.OUTPUT}
            )
        )
        # While the session runs, the store is open: its -wal and -shm exist.
        during = modes(store_dir)
        assert {"state.db", "state.db-wal", "state.db-shm"} <= set(during)
        assert f"logs/{handle.session_id}/talk.1.log" in during
        assert f"logs/{handle.session_id}/gate.1.log" in during
        assert loose(store_dir) == {}
        (tmp_path / "go").touch()
        assert await handle.wait() is SessionStatus.COMPLETED
    finally:
        await handle.close()
    assert loose(store_dir) == {}
    assert "hunter2" in (store_dir / "logs" / handle.session_id / "talk.1.log").read_text()
    # What the task made in the project keeps the user's umask: nothing was changed for it.
    assert file_mode(tmp_path / "made.txt") == 0o644


async def test_an_older_stores_loose_modes_are_tightened_when_a_run_opens_it(
    tmp_path: Path,
) -> None:
    # A store as an older formicary left it: 0755 folders, 0644 files, a reader holding it
    # open (so its -wal and -shm exist), and an old session's log.
    store_dir = state_dir(tmp_path)
    store_dir.mkdir(mode=0o755)
    old_logs = store_dir / "logs" / "41"
    old_logs.mkdir(parents=True, mode=0o755)
    (old_logs / "build.1.log").write_text("password hunter2\n")
    crash = store_dir / "logs" / "dashboard-crash-20260101-000000.log"
    crash.write_text("Traceback\n")
    # A file of another user's (when this test may make one) is not this process's to change.
    foreign = store_dir / "logs" / "someone-elses.log"
    foreign.write_text("theirs\n")
    others = os.geteuid() == 0
    if others:
        os.chown(foreign, 54321, 54321)
    left_alone = {"logs/someone-elses.log": "0o644"} if others else {}
    reader = sqlite3.connect(db_path(tmp_path))
    try:
        reader.execute("PRAGMA journal_mode = WAL")
        reader.execute("CREATE TABLE IF NOT EXISTS leftover (x)")
        reader.execute("INSERT INTO leftover VALUES (1)")
        reader.commit()
        before = modes(store_dir)
        assert before["./"] == 0o755 and before["state.db-wal"] == 0o644
        outside = tmp_path / "notes.txt"
        outside.write_text("not the store's\n")
        workspace_mode = file_mode(tmp_path)

        handle = start(tmp_path, {"t": {"run": "echo hi", "env": SECRET}}, persist=True)
        try:
            assert await handle.wait() is SessionStatus.COMPLETED
            assert {"state.db-wal", "state.db-shm"} <= set(modes(store_dir))
            assert loose(store_dir) == left_alone
        finally:
            await handle.close()
    finally:
        reader.close()
    assert loose(store_dir) == left_alone
    # Only the store was tightened: the workspace and its other files are left alone.
    assert file_mode(outside) == 0o644
    assert file_mode(tmp_path) == workspace_mode


def test_formicary_run_keeps_the_store_private(tmp_path: Path, write_project: WriteProject) -> None:
    write_project(
        """
        [project]
        name = "p"

        [workflows.main.tasks.make]
        run = "echo password $DB_PASSWORD; echo data > out.txt"
        env = { DB_PASSWORD = "hunter2" }

        [workflows.main.tasks.after]
        run = "echo done"
        depends_on = ["make"]
        """
    )
    result = subprocess.run(
        [FORMICARY, "-w", str(tmp_path), "run", "p"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    store_dir = state_dir(tmp_path)
    assert "state.db" in modes(store_dir)
    assert any(name.endswith("make.1.log") for name in modes(store_dir))
    assert loose(store_dir) == {}
    assert file_mode(tmp_path / "proj" / "out.txt") == 0o644


async def test_a_silent_persisted_sessions_log_folder_is_private_too(tmp_path: Path) -> None:
    """No log file is written, so only the persister's preparing makes the folder private
    (the scheduler creates it with the umask's mode)."""
    handle = start(tmp_path, {"quiet": {"run": "true"}}, persist=True)
    try:
        assert await handle.wait() is SessionStatus.COMPLETED
    finally:
        await handle.close()
    store_dir = state_dir(tmp_path)
    assert f"logs/{handle.session_id}/" in modes(store_dir)
    assert loose(store_dir) == {}


async def test_a_session_that_is_not_persisted_keeps_its_logs_private(tmp_path: Path) -> None:
    handle = start(tmp_path, {"t": {"run": "echo password $DB_PASSWORD", "env": SECRET}})
    try:
        assert await handle.wait() is SessionStatus.COMPLETED
    finally:
        await handle.close()
    store_dir = state_dir(tmp_path)
    assert f"logs/{handle.session_id}/t.1.log" in modes(store_dir)
    assert loose(store_dir) == {}


def test_the_executors_log_file_is_private_from_its_creation(tmp_path: Path) -> None:
    """The shell and Dask executors' log (``_LazyLog``), even where no folder exists yet."""
    path = state_dir(tmp_path) / "logs" / "9" / "t.1.log"
    log = _LazyLog(str(path))
    try:
        log.write(b"password hunter2\n")
        log.write(b"more\n")
    finally:
        log.close()
    assert path.read_bytes() == b"password hunter2\nmore\n"
    assert loose(state_dir(tmp_path)) == {}
