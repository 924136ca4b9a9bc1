"""The store writer process: commits the sessions of one engine process to its state.db.

An engine that persists its sessions starts one of these (``python -m formicary.store.writer
DB PARENT_PID``, see :mod:`formicary.store.writer_link`) and sends it each session's events in
pickled chunks over a pipe. Everything else happens here, in a process of its own, so none
of it competes with the engine for its interpreter lock: decoding the chunks, deriving the
task, attempt and session rows, SQLite's work, the heartbeat (every second) and the control
commands other processes queue (read every 0.2 s and sent back to the engine).

The messages are :mod:`formicary.store.writer_protocol`'s (which lists them, with their answers):
:class:`~formicary.store.writer_protocol.Open`, :class:`~formicary.store.writer_protocol.Events` and
:class:`~formicary.store.writer_protocol.Close` come in, matched on their class in
:meth:`StoreWriter.handle` (anything else in is a
:class:`~formicary.store.writer_protocol.ProtocolError`, which ends the writer with a ``Fatal``);
``Written``, ``Failed``, ``CommandTaken``, ``Closed``, ``Lost`` and ``Fatal`` go out.

The writer ends when its input closes: when the engine has closed every session, or when
the engine died. After the engine's death it commits what it had already received (those
events happened) but beats no heartbeat and takes no command, and each of its transactions
checks that the session is still the dead engine's, so an adopter is never written over.
SIGINT is ignored: Ctrl-C in a terminal is for the engine, which closes its sessions and
then this process.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from formicary.run.events import Event
from formicary.store import frames
from formicary.store.codec import decode_fields
from formicary.store.schema import connect
from formicary.store.session_writer import SessionWriter
from formicary.store.writer_protocol import (
    Close,
    Closed,
    CommandTaken,
    Events,
    Failed,
    Fatal,
    FromWriter,
    Lost,
    Open,
    ProtocolError,
    Wire,
    Written,
    decode,
)

COMMAND_INTERVAL = 0.2
BUSY_POLL = 0.005
BUSY_FOR = 0.1  # seconds without a message before waiting on the pipe again
_FIELDS = len(Event._fields)


class StoreWriter:
    """Applies the engine's messages to the store, one transaction per session per batch.

    Args:
        db: A connection to the state.db (from :func:`formicary.store.schema.connect`).
        out: The file descriptor messages to the engine go to.
        parent: The engine's pid: once this process's parent is another, the engine died.
    """

    def __init__(self, db: sqlite3.Connection, out: int, parent: int) -> None:
        self.db = db
        self.out = out
        self.parent = parent
        self.writers: dict[int, SessionWriter] = {}
        self._next_commands = 0.0
        self._engine_gone = False

    def run(self, source: int) -> None:
        """Handle the messages read from ``source`` until it closes.

        While messages keep coming, the writer sleeps between reads instead of waiting on
        the pipe: a process woken by a pipe write is run on the writer's CPU by Linux, on
        the assumption that the writer is about to sleep, and the engine never is, so each
        batch used to stall it for as long as committing took (measured: 1 to 4 ms per
        batch). A sleep ends on a timer, and the process runs on the other CPU. Once a read
        finds nothing, it waits on the pipe again (with a timeout for the heartbeat).
        """
        os.set_blocking(source, False)
        reader = frames.Reader()
        busy_until = 0.0
        while True:
            if time.monotonic() < busy_until:
                time.sleep(BUSY_POLL)
            else:
                timeout = max(0.0, self._next_commands - time.time()) if self.writers else None
                select.select([source], [], [], timeout)
            data = _read_available(source)
            batch: list[Wire | None] = list(reader.feed(data)) if data else []
            if data is None:
                batch.append(None)
            if data:
                busy_until = time.monotonic() + BUSY_FOR
            ended = self.handle(batch)
            self.tick()
            if ended:
                return

    def handle(self, batch: list[Wire | None]) -> bool:
        """Apply a batch of messages in their wire form, None for the end of the input (the
        chunks of a session in one transaction); True when the input has closed.

        Raises:
            ProtocolError: A message is not one the writer takes: nothing after it is
                applied (and :func:`main` ends the writer with a ``Fatal``).
        """
        chunks: dict[int, list[tuple[bytes, list[Any]]]] = {}
        ended = False
        for wire in batch:
            if wire is None:
                # The engine closed every session, or died: either way nobody listens now.
                ended = self._engine_gone = True
                break
            match decode(wire):
                case Events(sid, chunk):
                    if sid in self.writers:
                        chunks.setdefault(sid, []).append((chunk, decode_fields(chunk)))
                case Open(sid, names, states, pid, host):
                    self.writers[sid] = SessionWriter(sid, names, states, (pid, host))
                case Close(sid):
                    self._commit(sid, chunks.pop(sid, []), closing=True)
                    if self.writers.pop(sid, None) is not None:
                        self._send(Closed(sid))
                case other:
                    raise ProtocolError(
                        f"the store writer takes no {type(other).__name__} message "
                        "(only the writer sends those)"
                    )
        if ended:
            # The engine is gone with these sessions open: commit what it sent with a last
            # snapshot, so whoever adopts them has fewer events to replay.
            for sid in list(self.writers):
                self._commit(sid, chunks.pop(sid, []), closing=True)
        for sid, pending in chunks.items():
            self._commit(sid, pending)
        return ended

    def tick(self) -> None:
        """Beat the heartbeats that are due and take queued commands (while the engine
        lives)."""
        if not self.writers or not self._engine_alive():
            return
        now = time.time()
        for sid, writer in list(self.writers.items()):
            if writer.beat_due(now):
                self._commit(sid, [])
        if now < self._next_commands:
            return
        self._next_commands = now + COMMAND_INTERVAL
        for sid, writer in list(self.writers.items()):
            try:
                rows = writer.take_commands(self.db)
            except sqlite3.Error:
                continue  # the queue is read again in 0.2 s
            if writer.lost:
                self._lose(sid)
                continue
            for row in rows:
                self._send(CommandTaken(sid, row))

    def _commit(
        self, sid: int, chunks: list[tuple[bytes, list[Any]]], closing: bool = False
    ) -> None:
        writer = self.writers.get(sid)
        if writer is None:
            return
        try:
            seq = writer.commit(self.db, chunks, beat=self._engine_alive(), closing=closing)
        except Exception:
            import traceback  # here: only a failure needs it

            last = max((fields[-_FIELDS] for _, fields in chunks if fields), default=None)
            self._send(Failed(sid, last, traceback.format_exc(limit=3)))
            return
        if writer.lost:
            self._lose(sid)
            return
        if seq is not None:
            self._send(Written(sid, seq))

    def _lose(self, sid: int) -> None:
        self.writers.pop(sid, None)
        self._send(Lost(sid, f"session {sid} now belongs to another process"))

    def _engine_alive(self) -> bool:
        if not self._engine_gone and os.getppid() != self.parent:
            self._engine_gone = True
        return not self._engine_gone

    def _send(self, message: FromWriter) -> None:
        if self._engine_gone:
            return
        try:
            frames.send(self.out, message)
        except OSError:
            self._engine_gone = True


def _read_available(source: int) -> bytes | None:
    """Everything ``source`` holds now (``b""`` if nothing), or None once it is closed and
    drained."""
    parts: list[bytes] = []
    while True:
        try:
            part = os.read(source, 1 << 20)
        except BlockingIOError:
            break
        if not part:
            return b"".join(parts) if parts else None
        parts.append(part)
    return b"".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the writer for the engine ``argv[1]`` (pid) on the store ``argv[0]``."""
    path, parent = (argv if argv is not None else sys.argv[1:])[:2]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Messages go to a copy of stdout; stdout itself points nowhere, so a stray print
    # cannot garble them.
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    db = connect(Path(path))
    writer = StoreWriter(db, out, int(parent))
    try:
        writer.run(sys.stdin.fileno())
    except Exception:
        import traceback

        writer._send(Fatal(traceback.format_exc(limit=5)))
        return 1
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
