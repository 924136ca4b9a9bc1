"""Events and the in-process event bus.

Every state change in a session is an :class:`Event`. The bus hands each event to every
subscriber's bounded queue; a subscriber that falls behind loses its oldest events (counted
in ``dropped``) instead of slowing the engine, and can rebuild its view from a snapshot.

What an event carries (``Event.data``) is defined, and built, by
:mod:`formicary.run.event_data`: one typed payload per kind.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

if TYPE_CHECKING:
    from formicary.run.event_data import (
        CommandDone,
        Output,
        ResourceSample,
        SessionFinished,
        SessionPaused,
        SessionResumed,
        SessionStarted,
        TaskState,
    )

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventKind(StrEnum):
    """What an event reports."""

    SESSION_STARTED = "session_started"
    SESSION_PAUSED = "session_paused"
    SESSION_RESUMED = "session_resumed"
    SESSION_FINISHED = "session_finished"
    TASK_STATE = "task_state"
    OUTPUT = "output"
    RESOURCE_SAMPLE = "resource_sample"
    COMMAND = "command"


class Event(NamedTuple):
    """One thing that happened in a session (immutable).

    A named tuple rather than a frozen dataclass: the engine creates several per task, and
    a tuple is built in a third of the time.

    Attributes:
        seq: Gap-free sequence number within the session, starting at 1 (0 for output).
        at: Wall-clock time (``time.time()``).
        session: Session id.
        kind: What happened.
        task: The task concerned, if any.
        attempt: The attempt number concerned, if any.
        data: Details: the payload of :mod:`formicary.run.event_data` that goes with
            ``kind`` (a plain dict; :class:`~formicary.run.event_data.TaskState` for
            ``task_state``: the state, the one it left, maybe a reason, and an attempt's
            start on the ``running`` state or its end on the state that follows). Typed
            as a mapping, as events read back from the store are only that; the bus's
            :meth:`~EventBus.publish` checks each payload against its kind.
    """

    seq: int
    at: float
    session: str
    kind: EventKind
    task: str | None = None
    attempt: int | None = None
    data: Mapping[str, Any] = _EMPTY


class Subscription:
    """A bounded queue of events for one consumer.

    Iterate it with ``async for`` to get events one by one, or call :meth:`drain` after
    :meth:`wait` to take everything that is queued at once (what a UI frame wants).
    """

    def __init__(self, bus: EventBus, maxsize: int, kinds: frozenset[EventKind] | None) -> None:
        self._bus = bus
        self._queue: deque[Event] = deque()
        self._maxsize = maxsize
        self._kinds = kinds
        import asyncio  # here: readers of the store (formicary status) never need it

        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self._kinds is not None and event.kind not in self._kinds:
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._ready.set()

    def drain(self) -> list[Event]:
        """Every queued event, oldest first; the queue is empty afterwards."""
        events = list(self._queue)
        self._queue.clear()
        self._ready.clear()
        return events

    async def wait(self) -> None:
        """Return once at least one event is queued or the subscription is closed."""
        if not self._queue and not self.closed:
            await self._ready.wait()

    def close(self) -> None:
        """Stop receiving events; a waiting consumer wakes up and its iteration ends."""
        if not self.closed:
            self.closed = True
            self._bus._unsubscribe(self)
            self._ready.set()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            await self.wait()
            if not self._queue:
                return
            event = self._queue.popleft()
            if not self._queue and not self.closed:
                self._ready.clear()
            yield event


class EventBus:
    """Numbers events per session and fans them out to subscribers and listeners.

    Listeners are plain callables run synchronously for every event; they must be cheap. A
    session's sink (at most one, the store's writer) gets its numbered events, before the
    listeners. Subscriptions are queues for consumers that run on their own.
    """

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._sinks: dict[str, Callable[[Event], object]] = {}
        self._seq: dict[str, int] = {}

    def subscribe(
        self, *, maxsize: int = 10_000, kinds: frozenset[EventKind] | None = None
    ) -> Subscription:
        """A new subscription receiving every later event (of ``kinds``, if given)."""
        subscription = Subscription(self, maxsize, kinds)
        self._subscriptions.append(subscription)
        return subscription

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` for every later event."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Event], None]) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def set_sink(self, session: str, sink: Callable[[Event], object] | None) -> None:
        """Hand every numbered event of ``session`` to ``sink`` (None: stop).

        The cheapest way to follow one session: no filtering and no Python frame per event
        when ``sink`` is a builtin such as ``list.append`` (the store's writer uses one).
        """
        if sink is None:
            self._sinks.pop(session, None)
        else:
            self._sinks[session] = sink

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.remove(subscription)

    def start_at(self, session: str, last_seq: int) -> None:
        """Continue ``session``'s numbering after ``last_seq`` (when a session is resumed)."""
        self._seq[session] = last_seq

    def last_seq(self, session: str) -> int:
        """The sequence number of the session's latest event (0 when none yet)."""
        return self._seq.get(session, 0)

    # One signature per kind: mypy checks each payload against its kind (the payloads
    # come from formicary.run.event_data's functions).
    @overload
    def publish(
        self,
        session: str,
        kind: Literal[EventKind.TASK_STATE],
        task: str,
        attempt: int | None,
        data: TaskState,
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.OUTPUT], task: str, attempt: int, data: Output
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.RESOURCE_SAMPLE], *, data: ResourceSample
    ) -> Event: ...
    @overload
    def publish(
        self,
        session: str,
        kind: Literal[EventKind.COMMAND],
        task: str | None = None,
        *,
        data: CommandDone,
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.SESSION_STARTED], *, data: SessionStarted
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.SESSION_PAUSED], *, data: SessionPaused
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.SESSION_RESUMED], *, data: SessionResumed
    ) -> Event: ...
    @overload
    def publish(
        self, session: str, kind: Literal[EventKind.SESSION_FINISHED], *, data: SessionFinished
    ) -> Event: ...
    def publish(
        self,
        session: str,
        kind: EventKind,
        task: str | None = None,
        attempt: int | None = None,
        data: Mapping[str, Any] = _EMPTY,
    ) -> Event:
        """Create the session's next event and deliver it.

        Output lines are not numbered (``seq`` 0): they live in the log files, and the
        numbered log of state changes stays gap-free without them.
        """
        if kind is EventKind.OUTPUT:
            seq = 0
        else:
            seq = self._seq.get(session, 0) + 1
            self._seq[session] = seq
        event = Event(seq, time.time(), session, kind, task, attempt, data)
        if seq and self._sinks:
            sink = self._sinks.get(session)
            if sink is not None:
                sink(event)
        for listener in self._listeners:
            listener(event)
        for subscription in self._subscriptions:
            subscription._offer(event)
        return event
