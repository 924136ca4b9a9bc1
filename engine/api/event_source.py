"""Where a session's events come from: the engine's bus when the session runs in this
process, the store's event log when another process runs it (or ran it).

Both sides offer the same small protocol, :class:`EventSource`: ``wait`` until events may be
queued, ``drain`` what is queued, ``close``. The command line's report, the dashboard's
panes, the API's execution records and the MCP tools all consume one, and none of them
needs to know which kind it holds. A :class:`~formicary.run.events.Subscription` is the
bus's; :class:`StoreTail` is the store's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from formicary.run.events import Event
from formicary.store.database import Store

POLL = 0.1
"""Seconds between two looks at the store when nothing says it changed."""


class EventSource(Protocol):
    """A session's events, oldest first, taken in batches."""

    @property
    def dropped(self) -> int:
        """Events lost because the consumer fell behind (rebuild from a snapshot then)."""
        ...

    @property
    def closed(self) -> bool:
        """True once no more events will come."""
        ...

    async def wait(self) -> None:
        """Return once events may be queued or the source is closed (it may return with
        nothing queued: consumers loop)."""
        ...

    def drain(self) -> list[Event]:
        """Every queued event, oldest first; the queue is empty afterwards."""
        ...

    def close(self) -> None:
        """Stop; a waiting consumer wakes up."""
        ...


class StoreTail:
    """The events of a session as the store commits them, from ``after`` on.

    Args:
        store: The workspace's store.
        session_id: The session.
        after: Deliver events with ``seq > after``.
        changes: The current "store changed" event, if the caller watches the store's files
            (the dashboard does); taken before each read, so no change is missed. Without
            it the store is looked at every :data:`POLL` seconds.
        idle: With ``changes``, also wake after this many seconds without a change (an
            engine that dies announces it by going quiet, which no file event does).
        until_final: Close once the session has ended and its last event was delivered
            (the dashboard keeps following: an ended session can be retried).
        offload: Read the store off the calling thread (a UI thread).
    """

    def __init__(
        self,
        store: Store,
        session_id: int | str,
        after: int = 0,
        *,
        changes: Callable[[], asyncio.Event] | None = None,
        idle: float | None = None,
        until_final: bool = True,
        offload: bool = False,
    ) -> None:
        self.store = store
        self.session_id = int(session_id)
        self.after = after
        self._changes = changes
        self.idle = idle
        self._until_final = until_final
        self._offload = offload
        self._queued: list[Event] = []
        self.dropped = 0
        self.closed = False

    async def wait(self) -> None:
        """Read what the store has after the last event delivered; if nothing, wait for the
        store to change (or a poll interval) and read once more."""
        if self._queued or self.closed:
            return
        changed = self._changes() if self._changes is not None else None
        if await self._read() or self.closed:
            return
        if changed is None:
            await asyncio.sleep(POLL)
        else:
            try:
                await asyncio.wait_for(changed.wait(), self.idle)
            except TimeoutError:
                return
        await self._read()

    async def _read(self) -> bool:
        if self._offload:
            batch = await asyncio.to_thread(self.store.events, self.session_id, self.after)
        else:
            batch = self.store.events(self.session_id, self.after)
        if batch:
            self._queued.extend(batch)
            self.after = batch[-1].seq
            return True
        if self._until_final and self._ended():
            self.closed = True
        return False

    def _ended(self) -> bool:
        record = self.store.session(self.session_id)
        return record.status.is_final and self.after >= self.store.last_seq(self.session_id)

    def drain(self) -> list[Event]:
        """Every event read and not taken yet, oldest first."""
        events, self._queued = self._queued, []
        return events

    def close(self) -> None:
        """Stop following."""
        self.closed = True

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            await self.wait()
            events = self.drain()
            if not events and self.closed:
                return
            for event in events:
                yield event
