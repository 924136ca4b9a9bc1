"""What a workspace's store says about its sessions, read by short-lived connections: the
API's view of sessions other processes run, or ran.

Each read opens the store and closes it again, so an ``OrchestrationEngine`` holds no
connection between calls (a store that does not exist yet is no session at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from formicary.errors import UnknownSessionError, UsageError
from formicary.store.database import AttemptRecord, SessionRecord, Store
from formicary.store.schema import db_path


class RecordedSessions:
    """Sessions as the store of ``workspace`` records them."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    @property
    def exists(self) -> bool:
        """True once the workspace has a store."""
        return db_path(self.workspace).exists()

    @contextmanager
    def opened(self) -> Iterator[Store]:
        """The store, open for the ``with`` block.

        Raises:
            UnknownSessionError: The workspace has no store yet, so no session at all.
        """
        try:
            store = Store.for_workspace(self.workspace, create=False)
        except UsageError:
            raise UnknownSessionError("(no sessions recorded in this workspace yet)") from None
        try:
            yield store
        finally:
            store.close()

    def record(self, session_id: str | int) -> SessionRecord:
        """One session's record.

        Raises:
            UnknownSessionError: No such session.
        """
        with self.opened() as store:
            return store.session(session_id)

    def records(self, limit: int | None = None) -> list[SessionRecord]:
        """Sessions newest first (none when there is no store yet)."""
        if not self.exists:
            return []
        with self.opened() as store:
            return store.sessions(limit=limit)

    def task_summaries(self, session_id: str | int) -> list[dict[str, Any]]:
        """Every task of a session as the API's ``tasks`` lists them."""
        with self.opened() as store:
            return store.task_summaries(store.session(session_id).id)

    def attempts(
        self, session_id: str | int, task: str
    ) -> tuple[SessionRecord, list[AttemptRecord]]:
        """A session's record and every recorded attempt of one of its tasks.

        Raises:
            UnknownSessionError, UnknownTaskError.
        """
        with self.opened() as store:
            record = store.session(session_id)
            store.require_task(record.id, task)
            return record, store.attempts(record.id, task)
