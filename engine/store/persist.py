"""Persisting a session: its events go to the store writer process, in batches.

The engine's side costs one ``list.extend`` per event (the bus's sink for the session) and,
every few milliseconds, one pickle of the batch written to the writer's pipe: C work, and
little of it, done on the event loop (no thread to hand the lock to and back).
Everything else (decoding, the derived tables, SQLite, the heartbeat, the command queue)
happens in the writer process (:mod:`formicary.store.writer`), which has an interpreter lock
of its own. Measured with the writer on a thread of the engine instead, its Python work
under the shared lock made a 10,000-task run of no-op callables 1.5 times as long;
``tests/bench/engine_bench.py --persist`` keeps that figure.

A batch goes every 50 ms, and sooner when events come faster than 500 per 50 ms (the
interval is sized to the rate, so a batch carries about 500). The writer commits each batch
it receives, acknowledges it (which is what :meth:`Persister.flush` waits for), and sends
back the control commands other processes queue for the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, assert_never

from formicary.model.states import TaskStatus
from formicary.run.events import Event, EventBus
from formicary.run.private_files import prepare_session_logs
from formicary.store.codec import encode_fields
from formicary.store.database import Command, this_host
from formicary.store.writer_link import WriterLink
from formicary.store.writer_protocol import (
    Close,
    Closed,
    CommandTaken,
    Events,
    Failed,
    Lost,
    Open,
    Reply,
    Written,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
FLUSH_EVENTS = 500
MIN_SLEEP = 0.002
WAIT_TIMEOUT = 30.0
POLL_INTERVAL = 0.05  # seconds between reads of the writer's answers while nothing waits
_FIELDS = len(Event._fields)


class Persister:
    """Sends one session's events to the store writer and relays commands queued for it.

    Args:
        path: The state.db file.
        session_id: The session's id in the store.
        bus: The bus the session publishes on.
        tasks: The session's task states when persisting starts (name → state), in
            definition order.
        on_command: Called on the event loop with every command taken from the queue.
    """

    def __init__(
        self,
        path: Path,
        session_id: int,
        bus: EventBus,
        tasks: Mapping[str, str],
        on_command: Callable[[Command], None],
    ) -> None:
        self.path = path
        self.session_id = session_id
        self._sid = str(session_id)
        self._bus = bus
        self._on_command = on_command
        self._pending: list[Any] = []  # events' fields, seven per event
        self._written_seq = 0
        self._closed = False
        self._gone = False
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.errors = 0
        # Made here, before the scheduler starts and makes it with the umask's mode: the
        # logs of a persisted session are as private as its store.
        prepare_session_logs(path, session_id)
        self._link = WriterLink.acquire(path, self)
        self._link.send(
            Open(session_id, list(tasks), list(tasks.values()), os.getpid(), this_host())
        )
        # The sink spreads each event's fields into the list (one C call): the event tuple
        # itself dies at once, as it does without persistence, and only its fields wait
        # (at most 50 ms) for the next batch.
        bus.set_sink(self._sid, self._pending.extend)
        self._taken = time.monotonic()
        self._next_poll = 0.0
        self._timer = self._loop.call_later(FLUSH_INTERVAL, self._send_batch)

    async def flush(self) -> None:
        """Wait until every event published so far is committed."""
        target = self._bus.last_seq(self._sid)
        self._send_batch(again=False)
        await self._wait(lambda: self._written_seq >= target)

    async def close(self) -> None:
        """Commit what is pending with a last snapshot, then stop (the writer process ends
        with the last session it serves)."""
        self._bus.set_sink(self._sid, None)
        self._timer.cancel()
        self._send_batch(again=False)
        if not self._gone and not self._link.send(Close(self.session_id)):
            self._lost("the store writer is gone")
        await self._wait(lambda: self._closed)
        await self._link.release(self)

    async def _wait(self, done: Callable[[], bool]) -> None:
        self._link.poll()
        with self._link.watching(), contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT_TIMEOUT):
                while not (done() or self._gone):
                    self._changed.clear()
                    await self._changed.wait()

    def _send_batch(self, again: bool = True) -> None:
        """Send the events published since the last batch; with ``again``, come back after
        an interval sized to the rate they come at."""
        pending = self._pending
        count = len(pending)
        if count:
            flat = pending[:]
            pending.clear()
            if not self._gone and not self._link.send(Events(self.session_id, encode_fields(flat))):
                self._lost(f"the store writer is gone; events from {flat[0]} on are lost")
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + POLL_INTERVAL
            self._link.poll()
        if again:
            rate = count / _FIELDS / max(now - self._taken, 1e-3)
            self._taken = now
            delay = max(MIN_SLEEP, min(FLUSH_INTERVAL, FLUSH_EVENTS / rate if rate else 1.0))
            self._timer = self._loop.call_later(delay, self._send_batch)

    # -- messages from the writer ----------------------------------------------------------

    def receive(self, message: Reply) -> None:
        """Handle one message from the writer about this session."""
        match message:
            case Written(_, seq):
                self._written_seq = max(self._written_seq, seq)
            case CommandTaken(_, row):
                self._on_command(Command(row[0], row[1], row[2], row[3], json.loads(row[4])))
            case Closed():
                self._closed = True
            case Failed(_, seq, text):
                log.error("could not persist session %s: %s", self.session_id, text)
                self.errors += 1
                if seq is not None:
                    self._written_seq = max(self._written_seq, seq)
            case Lost(_, reason):
                self._lost(reason)
            case _:
                assert_never(message)
        self._changed.set()

    def writer_gone(self, exit_code: int | None) -> None:
        """The writer process ended while this session was open."""
        self._lost(f"the store writer ended (exit code {exit_code})")

    def _lost(self, reason: str) -> None:
        if self._gone:
            return
        self._gone = True
        self.errors += 1
        self._changed.set()
        log.error("session %s is no longer recorded: %s", self.session_id, reason)


def initial_states(names: Iterable[str], state: str = TaskStatus.PENDING.value) -> dict[str, str]:
    """Every task in ``state``: what a new session's persister starts from."""
    return dict.fromkeys(names, state)
