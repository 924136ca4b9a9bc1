"""The engine's end of its store writer process: start it, talk to it, end it.

One writer process (:mod:`formicary.store.writer`) serves the persisted sessions that one
event loop of this process runs on one state.db. It starts with the first such session and
ends when the last one closes, so a process that persists nothing never has one and none
outlives its sessions.

The link has no thread: the pipes are non-blocking. A message is written at once when the
pipe has room (what does not fit waits in a buffer, watched by the loop, until it has).
The writer's answers are read when a session sends its next batch (:meth:`WriterLink.poll`)
and, while a session waits for one, as they arrive: an engine woken from its loop's wait
by a pipe write is moved by Linux to the writer's CPU, where they would then compete.

The messages both ways are :mod:`formicary.store.writer_protocol`'s. The link routes what the writer
sends to the session it is about (a :class:`~formicary.store.writer_protocol.Reply`, by its
``session_id``), logs a :class:`~formicary.store.writer_protocol.Fatal`, and logs and drops anything
it cannot decode: a writer's bug must not be misread as an answer.

The writer is started with ``python -I`` and loads this very ``engine`` package from its
folder, whatever ``sys.path`` or the current folder would have found. It runs in a session
of its own, so a Ctrl-C meant for the engine does not reach it; it ends when its input
closes, which also happens when the engine dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from formicary.store import frames
from formicary.store.writer_protocol import (
    Closed,
    CommandTaken,
    Failed,
    Fatal,
    Lost,
    ProtocolError,
    Reply,
    ToWriter,
    Written,
    decode,
)

log = logging.getLogger(__name__)

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_BOOTSTRAP = (
    "import importlib.util, sys\n"
    "path, parent, folder = sys.argv[1:4]\n"
    "spec = importlib.util.spec_from_file_location("
    "'formicary', folder + '/__init__.py', submodule_search_locations=[folder])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['formicary'] = module\n"
    "spec.loader.exec_module(module)\n"
    "from formicary.store.writer import main\n"
    "sys.exit(main([path, parent]))\n"
)
_STOP_TIMEOUT = 30.0
_PIPE_SIZE = 1 << 20  # room for what comes while the writer starts
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Receiver(Protocol):
    """What a link hands the writer's messages to (a session's persister)."""

    session_id: int

    def receive(self, message: Reply) -> None:
        """One message from the writer about this session."""

    def writer_gone(self, exit_code: int | None) -> None:
        """The writer process ended while the session was open."""


class WriterLink:
    """A running store writer process and the sessions it serves, on one event loop."""

    _links: dict[tuple[Path, asyncio.AbstractEventLoop], WriterLink] = {}

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.path = path
        self.dead = False
        self._loop = loop
        self._receivers: dict[int, Receiver] = {}
        self._outgoing = bytearray()
        self._incoming = frames.Reader()
        self._drained: asyncio.Future[None] | None = None
        self._watchers = 0
        command = [sys.executable, "-I"]  # -I drops PYTHON* variables: keep this bytecode
        if sys.dont_write_bytecode:
            command.append("-B")
        if sys.pycache_prefix:
            command += ["-X", f"pycache_prefix={sys.pycache_prefix}"]
        command += ["-c", _BOOTSTRAP, str(path), str(os.getpid()), str(_PACKAGE_DIR)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._input = self._process.stdin.fileno()
        self._output = self._process.stdout.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._input, _F_SETPIPE_SZ, _PIPE_SIZE)
        os.set_blocking(self._input, False)
        os.set_blocking(self._output, False)

    @classmethod
    def acquire(cls, path: Path, receiver: Receiver) -> WriterLink:
        """The link to ``path``'s writer for the running loop (started if need be), with
        ``receiver`` registered for its session's messages."""
        loop = asyncio.get_running_loop()
        link = cls._links.get((path, loop))
        if link is None or link.dead:
            link = cls._links[(path, loop)] = cls(path, loop)
        link._receivers[receiver.session_id] = receiver
        return link

    @property
    def pid(self) -> int:
        """The writer process's pid."""
        return self._process.pid

    def send(self, message: ToWriter) -> bool:
        """Send one message to the writer without waiting; False when it is gone."""
        if self.dead:
            return False
        data = frames.pack(message)
        if self._outgoing:
            self._outgoing += data
            return True
        try:
            written = os.write(self._input, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self._gone()
            return False
        if written < len(data):
            self._outgoing += memoryview(data)[written:]
            self._loop.add_writer(self._input, self._on_writable)
        return True

    async def release(self, receiver: Receiver) -> None:
        """Forget ``receiver``'s session; after the last one, end the writer and wait for it.

        The writer ends once it has read everything sent before, so nothing is cut short.
        """
        self._receivers.pop(receiver.session_id, None)
        if self._receivers:
            return
        if self._links.get((self.path, self._loop)) is self:
            del self._links[(self.path, self._loop)]
        if self._outgoing and not self.dead:
            self._drained = self._loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drained), _STOP_TIMEOUT)
        self._stop_writing()
        try:
            with self.watching():
                await asyncio.wait_for(asyncio.to_thread(self._process.wait), _STOP_TIMEOUT)
        except TimeoutError:
            log.error("the store writer %d did not end; killing it", self._process.pid)
            self._process.kill()
            await asyncio.to_thread(self._process.wait)
        self._stop_reading()

    def poll(self) -> None:
        """Handle the answers the writer has sent so far."""
        if not self.dead:
            self._on_readable()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Handle the writer's answers as they arrive, for the duration."""
        if self._watchers == 0 and not self._stopped_reading:
            self._loop.add_reader(self._output, self._on_readable)
        self._watchers += 1
        try:
            yield
        finally:
            self._watchers -= 1
            if self._watchers == 0 and not self._stopped_reading:
                self._loop.remove_reader(self._output)

    def _on_writable(self) -> None:
        try:
            written = os.write(self._input, self._outgoing)
        except BlockingIOError:
            return
        except OSError:
            self._gone()
            return
        del self._outgoing[:written]
        if not self._outgoing:
            self._loop.remove_writer(self._input)
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    def _on_readable(self) -> None:
        if self._stopped_reading:
            return
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(self._output, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._dispatch(b"".join(chunks))
                self._stop_reading()
                self._gone()
                return
            chunks.append(data)
        if chunks:
            self._dispatch(b"".join(chunks))

    def _dispatch(self, data: bytes) -> None:
        """Hand each message completed by ``data`` to the session it is about."""
        for wire in self._incoming.feed(data):
            try:
                message = decode(wire)
            except ProtocolError as error:
                log.error("the store writer sent what is not a message: %s", error)
                continue
            match message:
                case Written() | Failed() | CommandTaken() | Closed() | Lost():
                    receiver = self._receivers.get(message.session_id)
                    if receiver is not None:
                        receiver.receive(message)
                case Fatal(text):
                    log.error("the store writer failed: %s", text)
                case _:
                    log.error(
                        "the store writer sent a %s message, which only engines send",
                        type(message).__name__,
                    )

    def _gone(self) -> None:
        """The writer ended (or its pipe broke) with sessions still open."""
        if self.dead:
            return
        self._stop_writing()
        self._stop_reading()
        code = self._process.poll()
        for receiver in list(self._receivers.values()):
            receiver.writer_gone(code)

    def _stop_writing(self) -> None:
        self.dead = True
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._loop.remove_writer(self._input)
            self._outgoing.clear()
            self._process.stdin.close()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    @property
    def _stopped_reading(self) -> bool:
        return self._process.stdout is None or self._process.stdout.closed

    def _stop_reading(self) -> None:
        if not self._stopped_reading:
            assert self._process.stdout is not None
            self._loop.remove_reader(self._output)
            self._process.stdout.close()
