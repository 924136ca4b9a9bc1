"""Start sessions, persisted or not: pick executors, give the session an id and a log
folder, wire the store's writer, and hand back the control handle."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.control import SessionHandle
from engine.events import EventBus
from engine.executors import Executor
from engine.executors.local import LocalExecutor
from engine.executors.python import PythonExecutor
from engine.params import resolve
from engine.persist import Persister, initial_states
from engine.scheduler import Scheduler
from engine.schema import STATE_DIR, db_path
from engine.spec_snapshot import snapshot_text
from engine.specs import ProjectSpec, WorkflowSpec
from engine.store import Store


def new_session_id() -> str:
    """A sortable, unique id for sessions that are not persisted: ``20261124-031502-a1b2``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def logs_root(workspace: Path) -> Path:
    """``<workspace>/.formicary/logs``."""
    return Path(os.path.abspath(workspace)) / STATE_DIR / "logs"


def local_executors(grace: float | None = None) -> dict[str, Executor]:
    """The executors of a local session: shell commands and in-process callables."""
    shell = LocalExecutor() if grace is None else LocalExecutor(grace)
    return {"shell": shell, "python": PythonExecutor()}


def definition_snapshot(project: ProjectSpec) -> str:
    """The project's definition as JSON, stored with a session so it can be resumed with the
    definitions it started with, whatever happened to the files since."""
    return snapshot_text(project)


def start_session(
    project: ProjectSpec,
    workflow: WorkflowSpec,
    params: Mapping[str, Any] | None = None,
    *,
    workspace: Path,
    persist: bool = False,
    bus: EventBus | None = None,
    executors: Mapping[str, Executor] | None = None,
    max_parallel: int | None = None,
    monitor_interval: float | None = 1.0,
    session_id: str | None = None,
    seed: int | None = None,
) -> SessionHandle:
    """Start running ``workflow`` now, on the running event loop.

    Args:
        project: The project the workflow belongs to.
        workflow: What to run.
        params: Overrides of the workflow's parameters (text is converted to the declared
            type; unknown names are a :class:`~engine.errors.UsageError`).
        workspace: The workspace folder; logs go to ``.formicary/logs/<session>/``.
        persist: Record the session in ``<workspace>/.formicary/state.db`` (its id is then
            the store's), so other processes can watch and control it and it can be resumed.
        bus: The event bus to publish on (a new one when omitted).
        executors: Overrides the local executors (``{"shell": ..., "python": ...}``).
        max_parallel: Overrides the workflow's limit.
        monitor_interval: Seconds between resource samples; None turns sampling off.
        session_id: Use this id instead of a new one (sessions that are not persisted).
        seed: Seeds retry jitter (tests).
    """
    values = resolve(workflow.params, params or {})
    store: Store | None = None
    if persist:
        store = Store.for_workspace(workspace)
        session_id = str(
            store.create_session(
                project=project.name,
                workflow=workflow.name,
                params=values,
                definition=definition_snapshot(project),
                project_root=str(project.root),
                tasks=list(workflow.tasks),
                max_parallel=max_parallel,
                executor=workflow.executor,
            )
        )
    session = session_id or new_session_id()
    owned = executors is None
    scheduler = Scheduler(
        session,
        project,
        workflow,
        values,
        bus=bus or EventBus(),
        executors=executors or local_executors(),
        log_dir=logs_root(workspace) / session,
        max_parallel=max_parallel,
        monitor_interval=monitor_interval,
        seed=seed,
    )
    handle = SessionHandle(scheduler, close_executors=owned, store=store)
    if store is not None:
        handle.persister = Persister(
            db_path(workspace),
            int(session),
            scheduler.bus,
            initial_states(workflow.tasks),
            handle.apply_command,
        )
    scheduler.start()
    return handle
