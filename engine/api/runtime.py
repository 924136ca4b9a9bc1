"""Start sessions, persisted or not: pick executors, give the session an id and a log
folder, wire the store's writer, and hand back the control handle.

The Dask executor is imported only when a session asks for it, so the base install never
imports ``distributed``."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from formicary.api.control import SessionHandle
from formicary.errors import UsageError
from formicary.model import host_env
from formicary.model.limits import MAX_PARALLEL
from formicary.model.params import resolve
from formicary.model.snapshot import snapshot_text
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.run.events import EventBus
from formicary.run.executors import Executor
from formicary.run.executors.local import LocalExecutor
from formicary.run.executors.python import PythonExecutor
from formicary.run.scheduler import Scheduler
from formicary.store.database import Store
from formicary.store.persist import Persister, initial_states
from formicary.store.schema import STATE_DIR, db_path


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


EXECUTOR_NAMES = ("local", "dask")
DASK_MISSING = "the dask executor needs distributed: pip install 'formicary[dask]'"


def executors_for(
    name: str = "local", scheduler: str | None = None, grace: float | None = None
) -> dict[str, Executor]:
    """The executors of a session run by ``name`` (``local`` or ``dask``).

    Args:
        name: Which executor runs the tasks.
        scheduler: The Dask scheduler's address (``tcp://HOST:PORT``); None starts a local
            cluster. Only for ``dask``.
        grace: Seconds between SIGTERM and SIGKILL when an attempt is stopped.

    Raises:
        UsageError: An unknown name, an address that is not one, a scheduler for the local
            executor, or ``dask`` without ``distributed`` installed.
    """
    if name not in EXECUTOR_NAMES:
        raise UsageError(f"--executor {name}: must be one of {', '.join(EXECUTOR_NAMES)}")
    if name == "local":
        if scheduler is not None:
            raise UsageError(f"--scheduler {scheduler}: only the dask executor has a scheduler")
        return local_executors(grace)
    if scheduler is not None:
        check_scheduler_address(scheduler)
    try:
        from formicary.run.executors.dask import DaskExecutor
    except ImportError:
        raise UsageError(DASK_MISSING) from None
    executor = DaskExecutor(scheduler) if grace is None else DaskExecutor(scheduler, grace=grace)
    return {"shell": executor, "python": executor}


def check_scheduler_address(address: str) -> None:
    """Raise :class:`UsageError` unless ``address`` looks like ``PROTOCOL://HOST:PORT``."""
    protocol, separator, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if not separator or not protocol or not host or not colon or not port.isdigit():
        raise UsageError(f"--scheduler {address}: expected an address like tcp://HOST:PORT")


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
    executor: str | None = None,
    scheduler: str | None = None,
    own_executors: bool | None = None,
) -> SessionHandle:
    """Start running ``workflow`` now, on the running event loop.

    Args:
        project: The project the workflow belongs to.
        workflow: What to run.
        params: Overrides of the workflow's parameters (text is converted to the declared
            type; unknown names are a :class:`~formicary.errors.UsageError`).
        workspace: The workspace folder; logs go to ``.formicary/logs/<session>/``.
        persist: Record the session in ``<workspace>/.formicary/state.db`` (its id is then
            the store's), so other processes can watch and control it and it can be resumed.
        bus: The event bus to publish on (a new one when omitted).
        executors: Overrides the executors (``{"shell": ..., "python": ...}``); they are
            closed with the session only if ``own_executors`` says so.
        max_parallel: Overrides the workflow's limit.
        monitor_interval: Seconds between resource samples; None turns sampling off.
        session_id: Use this id instead of a new one (sessions that are not persisted).
        seed: Seeds retry jitter (tests).
        executor: ``local`` or ``dask``; overrides the workflow's ``executor``.
        scheduler: The Dask scheduler's address (without one a local cluster is started).
        own_executors: Close ``executors`` with the session (default: only the executors
            this function made).

    Raises:
        UsageError: Bad parameters, or an executor that cannot be used (see
            :func:`executors_for`).
    """
    if max_parallel is not None and not 1 <= max_parallel <= MAX_PARALLEL:
        raise UsageError(
            f"max_parallel {max_parallel}: must be an integer from 1 to {MAX_PARALLEL}"
        )
    values = resolve(workflow.params, params or {})
    for name, spec in workflow.tasks.items():
        if spec.env:  # a missing host variable stops the session before it is recorded
            host_env.resolve(spec.env, os.environ, task=name)
    kind = executor or workflow.executor
    if scheduler is not None and executor is None:
        kind = "dask"
    owned = executors is None if own_executors is None else own_executors
    if executors is None:
        executors = executors_for(kind, scheduler)
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
                executor=kind,
            )
        )
    session = session_id or new_session_id()
    runner = Scheduler(
        session,
        project,
        workflow,
        values,
        bus=bus or EventBus(),
        executors=executors,
        log_dir=logs_root(workspace) / session,
        max_parallel=max_parallel,
        monitor_interval=monitor_interval,
        seed=seed,
    )
    handle = SessionHandle(runner, close_executors=owned, store=store)
    if store is not None:
        handle.persister = Persister(
            db_path(workspace),
            int(session),
            runner.bus,
            initial_states(workflow.tasks),
            handle.apply_command,
        )
    runner.start()
    return handle
