"""The records the store hands out (sessions, tasks, attempts, queued commands) and what
decides whether a session's owner is alive."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from formicary.model.states import SessionStatus
from formicary.store.schema import HEARTBEAT_INTERVAL as HEARTBEAT_INTERVAL
from formicary.store.schema import ORPHAN_AFTER as ORPHAN_AFTER


def this_host() -> str:
    """The host name recorded as a session's owner."""
    import socket  # here: `formicary status` reads the store without it

    return socket.gethostname()


def pid_alive(pid: int | None) -> bool:
    """True if a process with ``pid`` exists on this host (and is not a zombie)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class SessionRecord(NamedTuple):
    """A session as the store holds it (a named tuple, as every record here: ``formicary
    status``, polled by scripts, then needs no ``dataclasses``)."""

    id: int
    project: str
    workflow: str
    status: SessionStatus
    params: Mapping[str, Any]
    project_root: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    owner_pid: int | None
    owner_host: str | None
    heartbeat: float | None
    max_parallel: int | None
    last_seq: int
    counts: Mapping[str, int]
    executor: str = "local"

    @property
    def owner_alive(self) -> bool:
        """True while the owning process is beating (and, on this host, exists)."""
        if self.status.is_final:
            return False
        if self.owner_host == this_host() and not pid_alive(self.owner_pid):
            return False
        return self.heartbeat is not None and time.time() - self.heartbeat < ORPHAN_AFTER

    @property
    def shown_status(self) -> str:
        """The status, or ``orphaned`` for an unfinished session whose owner stopped."""
        if not self.status.is_final and not self.owner_alive:
            return SessionStatus.ORPHANED.value
        return self.status.value

    @property
    def total(self) -> int:
        """Tasks in the session."""
        return sum(self.counts.values())


class TaskRecord(NamedTuple):
    """A task's persisted state (a named tuple: readers build tens of thousands at once,
    three times faster than frozen dataclasses)."""

    name: str
    state: str
    attempts: int
    budget_from: int
    held: bool
    reason: str


class AttemptRecord(NamedTuple):
    """One attempt as persisted (a named tuple, like :class:`TaskRecord`)."""

    task: str
    number: int
    outcome: str | None
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    reason: str
    worker: str | None
    pid: int | None
    log_path: str | None


class Command(NamedTuple):
    """A control call queued by another process for the session's owner."""

    id: int
    session_id: int
    action: str
    task: str | None
    args: Mapping[str, Any]


def session_from_row(row: sqlite3.Row) -> SessionRecord:
    """A ``sessions`` row as a record."""
    keys = row.keys()
    return SessionRecord(
        id=row["id"],
        project=row["project"],
        workflow=row["workflow"],
        status=SessionStatus(row["status"]),
        params=json.loads(row["params"]),
        project_root=row["project_root"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        owner_pid=row["owner_pid"],
        owner_host=row["owner_host"],
        heartbeat=row["heartbeat"],
        max_parallel=row["max_parallel"],
        last_seq=row["last_seq"],
        counts=json.loads(row["counts"]),
        executor=row["executor"] if "executor" in keys else "local",
    )
