"""Adopting a session whose engine stopped (killed, crashed, machine rebooted).

The store says which tasks completed (they never run again), which attempts were running
(recorded as ``lost`` and retried by their task's policy) and which tasks were held. Any
process of a lost attempt that is somehow still alive is ended first, after checking by its
environment that it really belongs to this session.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import psutil

from engine.control import SessionHandle
from engine.definitions import DEFINITION_FILE, parse_project
from engine.errors import UsageError
from engine.events import EventBus
from engine.model import AttemptOutcome, SessionStatus, TaskResult, TaskStatus
from engine.persist import Persister
from engine.processes import signal_group
from engine.runtime import local_executors, logs_root
from engine.scheduler import RestoredTask, Scheduler
from engine.store import AttemptRecord, SessionRecord, Store, TaskRecord, db_path

log = logging.getLogger(__name__)


def find_orphan(store: Store, session_id: str | int | None) -> SessionRecord:
    """The session to adopt: the one named, or the most recent orphaned one.

    Raises:
        UnknownSessionError: No such session.
        UsageError: Its owner is alive, it has finished, or nothing is orphaned.
    """
    if session_id is None:
        record = store.latest_orphan()
        if record is None:
            raise UsageError("no orphaned session in this workspace")
        return record
    record = store.session(session_id)
    if record.owner_alive:
        raise UsageError(
            f"session {record.id} is running in process {record.owner_pid} on "
            f"{record.owner_host}; control it with formicary pause|resume|retry|cancel"
        )
    return record


def adopt(
    workspace: Path,
    record: SessionRecord,
    store: Store,
    *,
    monitor_interval: float | None = 1.0,
) -> SessionHandle:
    """Take over ``record`` in this process and continue it on the running loop.

    Raises:
        UsageError: Another process claimed it first.
    """
    if not store.claim(record.id, record.heartbeat):
        raise UsageError(f"session {record.id} was just taken over by another process")
    tasks, attempts = store.compact(record.id)
    sid = str(record.id)
    root = Path(record.project_root)
    project = parse_project(json.loads(store.definition(record.id)), root / DEFINITION_FILE)
    project = _rooted(project, root)
    workflow = project.workflows[record.workflow]
    restored = _restored(tasks, attempts)
    for number_pid in _lost_pids(attempts, restored):
        _end_leftover(number_pid, sid)
    bus = EventBus()
    bus.start_at(sid, store.last_seq(record.id))
    scheduler = Scheduler(
        sid,
        project,
        workflow,
        record.params,
        bus=bus,
        executors=local_executors(),
        log_dir=logs_root(workspace) / sid,
        max_parallel=record.max_parallel,
        monitor_interval=monitor_interval,
    )
    handle = SessionHandle(scheduler, store=store)
    handle.persister = Persister(
        db_path(workspace),
        record.id,
        bus,
        {name: task.state.value for name, task in restored.items()},
        handle.apply_command,
    )
    scheduler.adopt(restored, paused=record.status is SessionStatus.PAUSED)
    return handle


def _rooted(project: object, root: Path) -> object:
    from dataclasses import replace

    return replace(project, root=root)  # type: ignore[type-var]


def _restored(tasks: list[TaskRecord], attempts: list[AttemptRecord]) -> dict[str, RestoredTask]:
    by_task: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_task.setdefault(attempt.task, []).append(attempt)
    restored = {}
    for task in tasks:
        history = by_task.get(task.name, [])
        unfinished = [a.number for a in history if a.outcome is None]
        state = TaskStatus(task.state)
        lost: int | None = max(unfinished) if unfinished else None
        if lost is None and state is TaskStatus.RUNNING:
            lost = max(task.attempts, 1)
        results = tuple(_result(task.name, a) for a in history if a.outcome is not None)
        restored[task.name] = RestoredTask(
            state=state,
            attempts=max([task.attempts, *(a.number for a in history)]),
            budget_from=task.budget_from,
            held=task.held,
            lost_attempt=lost,
            history=results,
        )
    return restored


def _result(task: str, attempt: AttemptRecord) -> TaskResult:
    outcome = AttemptOutcome(attempt.outcome) if attempt.outcome else None
    return TaskResult(
        task=task,
        status=TaskStatus.COMPLETED if outcome is AttemptOutcome.SUCCEEDED else TaskStatus.FAILED,
        attempt=attempt.number,
        outcome=outcome,
        exit_code=attempt.exit_code,
        reason=attempt.reason,
        started_at=attempt.started_at,
        ended_at=attempt.ended_at,
        log_path=attempt.log_path,
    )


def _lost_pids(attempts: list[AttemptRecord], restored: dict[str, RestoredTask]) -> list[int]:
    lost = {(name, task.lost_attempt) for name, task in restored.items() if task.lost_attempt}
    return [
        attempt.pid
        for attempt in attempts
        if attempt.pid and (attempt.task, attempt.number) in lost
    ]


def _end_leftover(pgid: int, session_id: str) -> None:
    """SIGKILL what remains of a lost attempt's process group, if it is really ours."""
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) != pgid:
                continue
            if process.environ().get("FORMICARY_SESSION") != session_id:
                return
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        log.info("ending process group %s left by the lost attempt", pgid)
        signal_group(pgid, 9)
        return
