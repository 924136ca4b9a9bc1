"""One way to reach a session, wherever it runs: :class:`SessionClient`.

The rule every front end follows (the API's ``OrchestrationEngine``, the dashboard's bridge,
the command line, and through the API the MCP tools):

- the session runs in this process: call it;
- its engine is alive in another process: queue the call in the store and wait for the
  outcome that engine records;
- nobody runs it any more: refuse what adopting could only refuse afterwards (before the
  store is touched), then adopt it into this process and call it there. A session that
  died mid-run is adopted only when the caller agrees (the dashboard asks its user first).

Imports the store, :mod:`formicary.api.control` and :mod:`formicary.api.recovery`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from formicary.api.control import SessionHandle, run_command
from formicary.api.outcome import Outcome
from formicary.api.recovery import check_adoptable_call
from formicary.errors import AdoptionNeeded, FormicaryError, UnknownSessionError, UsageError
from formicary.store.database import SessionRecord, Store

_T = TypeVar("_T")

Adopter = Callable[[SessionRecord], Awaitable[SessionHandle]]
"""Takes over a session nobody runs and returns its handle (on the running loop)."""

ANSWER_WITHIN = 10.0
"""Seconds to wait for another process's engine to apply a queued call."""

POLL = 0.1
"""Seconds between two looks at a queued call's outcome."""

_REOPENING = frozenset({"retry", "retry_failed"})


class SessionClient:
    """Reaches one session wherever it runs (see the module's docstring for the rule).

    Args:
        store: The workspace's store (None when nothing is recorded: then only a session
            running here is reached).
        session_id: The session.
        here: The session's handle when this process runs it.
        adopter: How this process takes over a session nobody runs; without one, such a
            session is refused with :class:`~formicary.errors.AdoptionNeeded`.
        ask_first: Refuse to adopt a session whose engine died mid-run
            (:class:`~formicary.errors.AdoptionNeeded`), so a person can be asked; an ended
            session is still reopened by a retry.
        answer_within: Seconds to wait for another engine to apply a queued call.
        offload: Read and write the store off the calling thread (a UI thread).
    """

    def __init__(
        self,
        store: Store | None,
        session_id: int | str,
        *,
        here: SessionHandle | None = None,
        adopter: Adopter | None = None,
        ask_first: bool = False,
        answer_within: float = ANSWER_WITHIN,
        offload: bool = False,
    ) -> None:
        self.store = store
        self.session_id = str(session_id)
        self.here = here
        self._adopter = adopter
        self._ask_first = ask_first
        self._answer_within = answer_within
        self._offload = offload

    async def control(self, action: str, task: str | None = None, **args: Any) -> Outcome:
        """Apply ``action`` (to ``task``, when it names one) wherever the session runs.

        Never raises for a refused call: the :class:`Outcome` says why (and carries the
        error, for callers that raise it).
        """
        try:
            return await self._control(action, task, args)
        except FormicaryError as error:
            return Outcome.refused(error)

    async def _control(self, action: str, task: str | None, args: dict[str, Any]) -> Outcome:
        if self.here is not None:
            if self.here.finished and action not in _REOPENING:
                raise UsageError(f"session {self.session_id} already ended: {self.here.status}")
            return call_here(self.here, action, task, args)
        store = self.store
        if store is None:
            raise UnknownSessionError(self.session_id)
        record = await self._read(store.session, self.session_id)
        if task is not None:
            await self._read(store.require_task, record.id, task)
        if record.owner_alive:
            return await self._ask_owner(store, record, action, task, args)
        if action == "pause" and not record.status.is_final:
            raise UsageError(
                f"session {record.id} has no running engine, so nothing of it runs to pause; "
                f"formicary resume {record.id} adopts it and runs it here"
            )
        # Refused before anything is adopted: adopting writes to the store.
        await self._read(check_adoptable_call, store, record, action, task)
        if self._adopter is None or (self._ask_first and not record.status.is_final):
            raise AdoptionNeeded(str(record.id), record.owner_pid)
        handle = await self._adopter(record)
        self.here = handle
        try:
            outcome = call_here(handle, action, task, args)
        except FormicaryError as error:
            outcome = Outcome.refused(error)
        return outcome._replace(handle=handle)  # adopted: the caller runs it now

    async def _ask_owner(
        self,
        store: Store,
        record: SessionRecord,
        action: str,
        task: str | None,
        args: dict[str, Any],
    ) -> Outcome:
        command = await self._read(store.enqueue, record.id, action, task, args)
        text = await wait_for_outcome(store, command, self._answer_within, self._offload)
        if text is None:
            raise UsageError(
                f"session {record.id}: its engine did not answer within "
                f"{self._answer_within:g} s (the call stays queued for it)"
            )
        return Outcome.from_stored(text, record.id, action)

    async def _read(self, function: Callable[..., _T], *args: Any) -> _T:
        if self._offload:
            return await asyncio.to_thread(function, *args)
        return function(*args)


def call_here(handle: SessionHandle, action: str, task: str | None, args: Any) -> Outcome:
    """Apply a control call to a session this process runs.

    Raises:
        FormicaryError: The call is refused.
    """
    return Outcome.done(run_command(handle, action, task, args))


async def wait_for_outcome(
    store: Store, command_id: int, timeout: float, offload: bool = False
) -> str | None:
    """Wait until the owner has applied ``command_id``: the outcome it recorded, or None on
    timeout.

    When the owner stops before applying it, the command expires (recorded in the store,
    see :meth:`Store.expire_if_owner_gone`) and that outcome, ``expired: ...``, is
    returned: nobody will ever carry it out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if offload:
            outcome = await asyncio.to_thread(store.expire_if_owner_gone, command_id)
        else:
            outcome = store.expire_if_owner_gone(command_id)
        if outcome is not None:
            return outcome
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(POLL)
