"""The store writer process: its lifetime, its pipe, and what it does when things go wrong."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
from pathlib import Path
from typing import Any

import pytest
from formicary.model.records import SessionStatus
from formicary.run.events import Event, EventKind
from formicary.store import frames
from formicary.store.codec import encode_events
from formicary.store.database import Command, Store, db_path, this_host
from formicary.store.schema import connect
from formicary.store.writer import StoreWriter
from formicary.store.writer_link import WriterLink
from formicary.store.writer_protocol import (
    KINDS,
    Close,
    Closed,
    CommandTaken,
    Events,
    Failed,
    Fatal,
    Lost,
    Message,
    Open,
    ProtocolError,
    Reply,
    Written,
    decode,
    encode,
)

from tests.engine_support import DEADLINE, eventually, process_alive, start

GATED: dict[str, dict[str, Any]] = {
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
    with caplog.at_level(logging.ERROR, logger="formicary.store.persist"):
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
    with caplog.at_level(logging.ERROR, logger="formicary.store.persist"):
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
    messages: list[Message] = [
        Events(7, b"x" * 70_000),
        Written(7, 12),
        CommandTaken(7, (1, 7, "pause", None, "{}")),
    ]
    data = b"".join(frames.pack(message) for message in messages)
    for step in (1, 3, 4096, len(data)):
        reader = frames.Reader()
        got = []
        for start_at in range(0, len(data), step):
            got += reader.feed(data[start_at : start_at + step])
        assert [decode(wire) for wire in got] == messages, step


def test_frames_over_a_real_pipe() -> None:
    read_fd, write_fd = os.pipe()
    message = Events(1, pickle.dumps(list(range(1000))))
    frames.send(write_fd, message)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        data = stream.read()
    reader = frames.Reader()
    assert [decode(wire) for wire in reader.feed(data)] == [message]
    assert reader.feed(b"") == []


# -- the protocol ----------------------------------------------------------------------------

SAMPLES: list[Message] = [
    Open(3, ["a", "b"], ["pending", "completed"], 1234, "host"),
    Events(3, b"\x80\x05chunk"),
    Close(3),
    Written(3, 41),
    Failed(3, None, "Traceback ..."),
    CommandTaken(3, (9, 3, "cancel", "a", '{"force": true}')),
    Closed(3),
    Lost(3, "session 3 now belongs to another process"),
    Fatal("Traceback ..."),
]
_PLAIN = (str, int, bytes, list, tuple, type(None))


def _plain(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return type(value) in (list, tuple) and all(map(_plain, value))
    return type(value) in _PLAIN


def test_every_message_kind_round_trips_through_the_wire() -> None:
    """Each kind goes on the pipe as a plain tuple (no class reference for pickle to look
    up) and comes back as the same NamedTuple."""
    assert [type(message) for message in SAMPLES] == list(KINDS)
    for message in SAMPLES:
        wire = encode(message)
        assert type(wire) is tuple and _plain(wire), message
        assert b"writer_protocol" not in frames.pack(message)
        (got,) = frames.Reader().feed(frames.pack(message))
        back = decode(got)
        assert back == message and type(back) is type(message)
    assert len({encode(message)[0] for message in SAMPLES}) == len(SAMPLES), "tags differ"


@pytest.mark.parametrize(
    ("wire", "says"),
    [
        (("bogus", 3), "not a store writer message"),
        (("events", 3), "Events message has 2 fields, not 1"),
        (("written", 3, 4, 5), "Written message has 2 fields, not 3"),
        (["events", 3, b""], "not a store writer message"),
        ((), "not a store writer message"),
        ((["events"], 3), "not a store writer message"),
        ("events", "not a store writer message"),
    ],
)
def test_what_is_not_a_message_is_refused(wire: object, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        decode(wire)


def test_only_the_protocols_classes_are_encoded() -> None:
    with pytest.raises(ProtocolError, match="not a store writer message"):
        encode(("events", 3, b""))  # type: ignore[arg-type]


def _writer_answers(read_fd: int) -> list[Message]:
    """What the in-process writer has sent to ``read_fd`` so far."""
    data = b""
    while True:
        try:
            part = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            break
        data += part
    return [decode(wire) for wire in frames.Reader().feed(data)]


def test_the_writer_dispatches_each_message_it_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open, Events and Close reach their handlers in the writer (run in this process, on a
    real store), which answers with Written, Failed, CommandTaken, Closed and Lost."""
    path = tmp_path / "state.db"
    store = Store(path)
    ids = [
        store.create_session(
            project="p",
            workflow="w",
            params={},
            definition="{}",
            project_root=str(tmp_path),
            tasks=["a"],
            max_parallel=None,
        )
        for _ in range(2)
    ]
    sid, other = ids
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    db = connect(path)
    writer = StoreWriter(db, write_fd, os.getppid())  # this process's parent: "alive"
    owner = (os.getpid(), this_host())

    def events(session: int, seq: int) -> Events:
        event = Event(seq, 1.0, str(session), EventKind.SESSION_PAUSED)
        return Events(session, encode_events([event]))

    try:
        writer.handle([encode(Open(session, ["a"], ["pending"], *owner)) for session in ids])
        assert set(writer.writers) == {sid, other}
        assert not writer.handle([encode(events(sid, 1))])
        assert _writer_answers(read_fd) == [Written(sid, 1)]

        store.enqueue(sid, "pause")
        writer._next_commands = 0.0
        writer.tick()
        (taken,) = _writer_answers(read_fd)
        assert isinstance(taken, CommandTaken) and taken.session_id == sid
        assert taken.row[:4] == (1, sid, "pause", None)

        def fail(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the disk is on fire")

        monkeypatch.setattr(writer.writers[sid], "commit", fail)
        writer.handle([encode(events(sid, 2))])
        (failed,) = _writer_answers(read_fd)
        assert isinstance(failed, Failed) and failed[:2] == (sid, 2)
        assert "the disk is on fire" in failed.text
        monkeypatch.undo()

        with store.transaction() as tx:
            tx.execute("UPDATE sessions SET owner_pid = 1 WHERE id = ?", (other,))
        writer.handle([encode(events(other, 1))])
        assert _writer_answers(read_fd) == [
            Lost(other, f"session {other} now belongs to another process")
        ]

        assert not writer.handle([encode(Close(sid))])
        assert _writer_answers(read_fd) == [Closed(sid)] and not writer.writers

        for wrong in (Written(sid, 1), Fatal("x")):
            with pytest.raises(ProtocolError, match=f"takes no {type(wrong).__name__}"):
                writer.handle([encode(wrong)])
        with pytest.raises(ProtocolError, match="not a store writer message"):
            writer.handle([("bogus", sid)])
        assert writer.handle([None])
    finally:
        db.close()
        store.close()
        os.close(read_fd)
        os.close(write_fd)


class _Recorder:
    """A receiver that keeps what the link hands it."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.messages: list[Reply] = []
        self.gone: list[int | None] = []

    def receive(self, message: Reply) -> None:
        self.messages.append(message)

    def writer_gone(self, exit_code: int | None) -> None:
        self.gone.append(exit_code)


async def test_the_link_hands_each_answer_to_its_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Replies go to their session's receiver; Fatal, what only engines send and what does
    not decode are logged, not handed on (the bytes are what the writer would send)."""
    first, second = _Recorder(3), _Recorder(4)
    link = WriterLink.acquire(tmp_path / "state.db", first)
    assert WriterLink.acquire(tmp_path / "state.db", second) is link
    replies = [message for message in SAMPLES if isinstance(message, Reply)]
    bogus = pickle.dumps(("bogus", 3), protocol=5)
    data = b"".join(
        [
            *map(frames.pack, replies),
            frames.pack(Written(4, 7)),
            frames.pack(Written(99, 1)),  # no such session here: dropped
            frames.pack(Fatal("the writer broke")),
            frames.pack(Open(3, [], [], 1, "h")),
            struct.pack("<I", len(bogus)) + bogus,
            frames.pack(Closed(3)),
        ]
    )
    try:
        with caplog.at_level(logging.ERROR, logger="formicary.store.writer_link"):
            link._dispatch(data)
    finally:
        await link.release(first)
        await link.release(second)
    assert not process_alive(link.pid)
    assert first.messages == [*replies, Closed(3)] and second.messages == [Written(4, 7)]
    assert not first.gone and not second.gone
    assert "the store writer failed: the writer broke" in caplog.text
    assert "sent a Open message, which only engines send" in caplog.text
    assert "not a message: not a store writer message: ('bogus', 3)" in caplog.text


async def test_the_persister_handles_each_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handle = start(tmp_path, GATED, persist=True)
    persister = handle.persister
    assert persister is not None
    sid = persister.session_id
    commands: list[Command] = []
    persister._on_command = commands.append  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="formicary.store.persist"):
        persister.receive(Written(sid, 10**9))
        assert persister._written_seq == 10**9
        persister.receive(CommandTaken(sid, (5, sid, "cancel", "wait", '{"force": true}')))
        assert commands == [Command(5, sid, "cancel", "wait", {"force": True})]
        persister.receive(Failed(sid, None, "no room"))
        assert persister.errors == 1 and "could not persist session" in caplog.text
        persister.receive(Closed(sid))
        assert persister._closed
        persister.receive(Lost(sid, "adopted elsewhere"))
        assert persister._gone and "adopted elsewhere" in caplog.text
        (tmp_path / "go").touch()
        assert await handle.wait() is SessionStatus.COMPLETED
        await handle.close()
    assert not process_alive(persister._link.pid)


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
