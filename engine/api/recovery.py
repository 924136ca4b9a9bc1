"""Adopting a session whose engine stopped (killed, crashed, machine rebooted).

The store says which tasks completed (they never run again), which attempts were running
(recorded as ``lost`` and retried by their task's policy) and which tasks were held. Any
process of a lost attempt that is somehow still alive is ended first, after checking by its
environment that it really belongs to this session.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import psutil
from formicary.api.control import SessionHandle
from formicary.api.runtime import executors_for, logs_root
from formicary.errors import TransitionError, UnknownTaskError, UsageError
from formicary.model.records import AttemptOutcome, SessionStatus, TaskResult, TaskStatus
from formicary.model.snapshot import load_snapshot
from formicary.model.states import (
    BROKEN_TASK_STATES,
    FINAL_TASK_STATES,
    FINE_TASK_STATES,
    UNCANCELLABLE_TASK_STATES,
)
from formicary.run.events import EventBus
from formicary.run.processes import signal_group
from formicary.run.scheduler import Scheduler
from formicary.run.task_runs import RestoredTask
from formicary.store.database import SessionRecord, Store, db_path
from formicary.store.persist import Persister

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

    The session keeps its executor: a Dask session is continued on Dask (on a local cluster,
    as the scheduler address it ran against is not recorded).

    Raises:
        UsageError: Another process claimed it first, or its executor cannot be used here.
    """
    executors = executors_for(record.executor)
    if not store.claim(record.id, (record.owner_pid, record.owner_host)):
        raise UsageError(f"session {record.id} was just taken over by another process")
    tasks, attempts = store.compact(record.id)
    sid = str(record.id)
    root = Path(record.project_root)
    project = load_snapshot(store.definition(record.id), root)
    workflow = project.workflows[record.workflow]
    restored = _restored(tasks, attempts)
    for number_pid in _lost_pids(attempts, restored):
        _end_leftover(number_pid, sid)
    _end_unfinished(restored, sid, str(root))
    bus = EventBus()
    bus.start_at(sid, store.last_seq(record.id))
    scheduler = Scheduler(
        sid,
        project,
        workflow,
        record.params,
        bus=bus,
        executors=executors,
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
    scheduler.adopt(
        restored,
        paused=record.status is SessionStatus.PAUSED,
        ended=record.status if record.status.is_final else None,
    )
    return handle


def check_adoptable_call(
    store: Store, record: SessionRecord, action: str, task: str | None = None
) -> None:
    """Refuse, before anything is adopted or written, a control call that adopting
    ``record`` to apply it would only refuse afterwards.

    Adopting changes the store (the owner, lost attempts, a ``session_resumed`` event),
    so a call that the session's state does not allow must be refused first, with the store
    left as it was. A session that has ended takes nothing but a retry that really has a
    task to run again (that reopens it); an orphaned one takes every call its tasks'
    states allow, except ``pause`` (see :func:`formicary.cli.control.control`).

    Raises:
        UsageError: The session has ended and the call is not a retry.
        UnknownTaskError: No such task.
        TransitionError: The task's state does not allow the call.
    """
    ended = record.status.is_final
    if ended and action not in ("retry", "retry_failed"):
        raise UsageError(f"session {record.id} already ended: {record.status.value}")
    tasks = {task_record.name: task_record for task_record in store.tasks(record.id)}
    if action == "retry_failed":
        if ended and not any(t.state == TaskStatus.FAILED.value for t in tasks.values()):
            raise UsageError(
                f"session {record.id} already ended: {record.status.value}; no task of it "
                f"failed, so there is nothing to retry (name a task: formicary retry "
                f"{record.id} TASK)"
            )
        return
    if task is None:
        return
    if task not in tasks:
        raise UnknownTaskError(task, list(tasks))
    found = tasks[task]
    state = _STATES[found.state]
    allowed = {
        "retry": state in BROKEN_TASK_STATES,
        "cancel": state not in UNCANCELLABLE_TASK_STATES,
        "skip": state not in FINE_TASK_STATES,
        "hold": not found.held and state not in FINAL_TASK_STATES,
        "release": found.held,
    }.get(action, True)
    if not allowed:
        raise TransitionError(f"task {task}", found.state, action)


def _restored(
    tasks: list[tuple[Any, ...]], attempts: list[tuple[Any, ...]]
) -> dict[str, RestoredTask]:
    """What the scheduler needs of each task, from the compacted rows (tuples in the order of
    TaskRecord's and AttemptRecord's fields; attempts sorted by task and number)."""
    by_task: dict[str, list[tuple[Any, ...]]] = {}
    for attempt in attempts:
        by_task.setdefault(attempt[0], []).append(attempt)
    restored = {}
    no_history: list[tuple[Any, ...]] = []
    for name, state_text, attempts_made, budget_from, held, _ in tasks:
        history = by_task.get(name, no_history)
        state = _STATES[state_text]
        lost: int | None = None
        results = []
        for attempt in history:
            if attempt[2] is None:
                lost = attempt[1]
            else:
                results.append(_result(name, attempt))
        if lost is None and state is TaskStatus.RUNNING:
            lost = max(attempts_made, 1)
        # Positional (state, attempts, budget_from, held, lost_attempt, history): a resumed
        # session builds tens of thousands.
        restored[name] = RestoredTask(
            state,
            max(attempts_made, history[-1][1] if history else 0),
            budget_from,
            bool(held),
            lost,
            tuple(results),
        )
    return restored


_STATES = {state.value: state for state in TaskStatus}
_OUTCOMES = {outcome.value: outcome for outcome in AttemptOutcome}


def _result(task: str, attempt: tuple[Any, ...]) -> TaskResult:
    _, number, outcome_text, started_at, ended_at, exit_code, reason, _, _, log_path = attempt
    outcome = _OUTCOMES[outcome_text]
    return TaskResult(
        task,
        TaskStatus.COMPLETED if outcome is AttemptOutcome.SUCCEEDED else TaskStatus.FAILED,
        number,
        outcome,
        exit_code,
        reason,
        None,
        started_at,
        ended_at,
        log_path,
    )


def _lost_pids(attempts: list[tuple[Any, ...]], restored: dict[str, RestoredTask]) -> list[int]:
    lost = {(name, task.lost_attempt) for name, task in restored.items() if task.lost_attempt}
    return [attempt[8] for attempt in attempts if attempt[8] and attempt[:2] in lost]


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


def _end_unfinished(restored: dict[str, RestoredTask], sid: str, root: str) -> None:
    """SIGKILL what still runs of the session's unfinished tasks on this machine, found by
    session, project folder and task in the processes' environment.

    The store knows the process of an attempt only once its start was committed: one that
    began just before its engine died, or that ran on a Dask worker of a local cluster that
    died with the engine, has no recorded process id, yet may still run."""
    unfinished = {name for name, task in restored.items() if task.state not in FINE_TASK_STATES}
    if not unfinished:
        return
    groups: set[int] = set()
    for process in psutil.process_iter():
        try:
            environment = process.environ()
            if (
                environment.get("FORMICARY_SESSION") == sid
                and environment.get("FORMICARY_PROJECT_DIR") == root
                and environment.get("FORMICARY_TASK") in unfinished
            ):
                groups.add(os.getpgid(process.pid))
        except (ProcessLookupError, psutil.Error):
            continue
    for group in groups:
        log.info("ending process group %s left by session %s", group, sid)
        signal_group(group, 9)
