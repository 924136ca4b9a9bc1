"""The store writer process: its lifetime, its pipe, and what it does when things go wrong."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
from pathlib import Path

import pytest

from engine import frames
from engine.model import SessionStatus
from engine.store import Store, db_path, this_host
from engine.writer_link import WriterLink
from tests.engine_support import DEADLINE, eventually, process_alive, start

GATED = {
    "wait": {"run": "while [ ! -e go ]; do sleep 0.01; done"},
    "after": {"run": "true", "depends_on": ["wait"]},
}


def _link(handle: object) -> WriterLink:
    return handle.persister._link  # type: ignore[attr-defined, no-any-return]


async def test_one_writer_serves_the_loop_and_ends_with_its_last_session(tmp_path: Path) -> None:
    first = start(tmp_path, GATED, persist=True)
    second = start(tmp_path, {"t": {"run": "true"}}, persist=True)
    link = _link(first)
    assert _link(second) is link and process_alive(link.pid)
    assert await second.wait() is SessionStatus.COMPLETED
    await second.close()
    assert process_alive(link.pid), "the writer ended while a session was still open"
    (tmp_path / "go").touch()
    assert await first.wait() is SessionStatus.COMPLETED
    await first.close()
    assert not process_alive(link.pid)
    store = Store(db_path(tmp_path))
    for record in store.sessions():
        assert record.status is SessionStatus.COMPLETED
        assert record.last_seq == max(event.seq for event in store.events(record.id))
    store.close()


async def test_a_killed_writer_does_not_stop_the_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handle = start(tmp_path, GATED, persist=True)
    await handle.persister.flush()  # type: ignore[union-attr]
    link = _link(handle)
    os.kill(link.pid, signal.SIGKILL)
    await eventually(lambda: not process_alive(link.pid))
    (tmp_path / "go").touch()
    with caplog.at_level(logging.ERROR, logger="engine.persist"):
        assert await asyncio.wait_for(handle.wait(), DEADLINE) is SessionStatus.COMPLETED
        await asyncio.wait_for(handle.close(), DEADLINE)
    assert "is no longer recorded" in caplog.text


async def test_an_adopted_session_is_never_written_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handle = start(tmp_path, GATED, persist=True)
    persister = handle.persister
    assert persister is not None
    await persister.flush()
    store = Store(db_path(tmp_path))
    session = int(handle.session_id)
    before = store.last_seq(session)
    # Another process takes the session over (as `formicary resume` does).
    with store.transaction() as db:
        db.execute("UPDATE sessions SET owner_pid = 1, owner_host = ? WHERE id = ?", ("x", session))
    (tmp_path / "go").touch()
    with caplog.at_level(logging.ERROR, logger="engine.persist"):
        assert await handle.wait() is SessionStatus.COMPLETED
        await handle.close()
    assert handle.scheduler.bus.last_seq(handle.session_id) > before
    assert store.last_seq(session) == before
    assert store.session(session).owner_pid == 1
    assert "now belongs to another process" in caplog.text
    store.close()


async def test_claim_compares_the_owner_not_the_heartbeat(tmp_path: Path) -> None:
    handle = start(tmp_path, {"t": {"run": "true"}}, persist=True)
    await handle.wait()
    await handle.close()
    store = Store(db_path(tmp_path))
    session = int(handle.session_id)
    with store.transaction() as db:
        db.execute("UPDATE sessions SET owner_pid = 1, heartbeat = 5 WHERE id = ?", (session,))
    assert not store.claim(session, (2, this_host()))
    assert store.claim(session, (1, this_host()))
    assert store.session(session).owner_pid == os.getpid()
    store.close()


def test_frames_come_back_whole_however_the_bytes_are_cut() -> None:
    messages = [("events", 7, b"x" * 70_000), ("written", 7, 12), ("command", 7, (1, "a"))]
    data = b"".join(frames.pack(message) for message in messages)
    for step in (1, 3, 4096, len(data)):
        reader = frames.Reader()
        got = []
        for start_at in range(0, len(data), step):
            got += reader.feed(data[start_at : start_at + step])
        assert got == messages, step


def test_frames_over_a_real_pipe() -> None:
    read_fd, write_fd = os.pipe()
    message = ("events", 1, pickle.dumps(list(range(1000))))
    frames.send(write_fd, message)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        data = stream.read()
    reader = frames.Reader()
    assert reader.feed(data) == [message]
    assert reader.feed(b"") == []


def test_the_writer_of_a_killed_engine_leaves_a_snapshot_and_ends(tmp_path: Path) -> None:
    """kill -9 of the engine: its writer commits what it had, with a last snapshot (less to
    replay for whoever resumes), beats no more, and ends."""
    import subprocess
    import time

    import psutil

    from tests.test_cli_foundation import FORMICARY

    folder = tmp_path / "gated"
    folder.mkdir()
    (folder / "formicary.toml").write_text(
        '[project]\nname = "gated"\n[workflows.main.tasks.first]\n'
        'run = "while [ ! -e go1 ]; do sleep 0.01; done"\n'
        '[workflows.main.tasks.wait]\nrun = "while [ ! -e go ]; do sleep 0.01; done"\n'
        'depends_on = ["first"]\n'
    )
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(tmp_path), "run", "gated", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = db_path(tmp_path)
    try:
        deadline = time.monotonic() + DEADLINE
        while not (path.exists() and _state(path, "first") == "running"):
            assert time.monotonic() < deadline, "the first task never ran"
            time.sleep(0.02)
        (folder / "go1").touch()  # what follows comes after the snapshot of the start
        while _state(path, "wait") != "running":
            assert time.monotonic() < deadline, "the gated task never ran"
            time.sleep(0.02)
        writers = [
            p for p in psutil.Process(engine.pid).children() if str(path) in " ".join(p.cmdline())
        ]
        assert len(writers) == 1
        engine.kill()
        engine.wait()
        _, alive = psutil.wait_procs(writers, timeout=DEADLINE)
        assert not alive, "the writer outlived its engine"
    finally:
        (folder / "go1").touch()  # the killed engine's tasks end on their own
        (folder / "go").touch()
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    store = Store(path)
    row = store._one("SELECT snapshot_seq, last_seq, heartbeat FROM sessions WHERE id = 1")
    assert row is not None and row[0] == row[1]
    assert dict(store._all("SELECT name, state FROM tasks", plain=True))["wait"] == "running"
    store.close()


def _state(path: Path, task: str) -> str:
    store = Store(path)
    try:
        return {summary["name"]: summary["state"] for summary in store.task_summaries(1)}.get(
            task, ""
        )
    except Exception:  # the session row may not be written yet
        return ""
    finally:
        store.close()
