"""MCP tools: what an AI agent may do with a workspace, each with a JSON Schema.

Every tool takes and returns plain JSON. A failure is ``{"error": {"code", "message"}}``
(with ``data`` when there are details), never a traceback. Tools name projects, workflows,
sessions and tasks; none takes a command or a path, so an agent can only run tasks defined in
the workspace's own files, and only as they are defined now: a call that would start a task of
an existing session whose stored definition differs from the workspace's answers
``definition_changed`` instead (:mod:`formicary.api.definition_drift`). The argument schemas, their
checker and the tools' annotations live in :mod:`formicary.mcp.schema`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formicary.api.definition_drift import (
    ADOPTING_ACTIONS,
    STARTING_ACTIONS,
    DefinitionChangedError,
    definition_drift,
    session_drift,
    tasks_started_by,
)
from formicary.api.orchestration import OrchestrationEngine
from formicary.api.project_manager import ProjectManager
from formicary.errors import (
    DefinitionError,
    DocsError,
    FormicaryError,
    TransitionError,
    UnknownProjectError,
    UnknownSessionError,
    UnknownTaskError,
    UnknownWorkflowError,
    UsageError,
)
from formicary.mcp.schema import (
    MAX_COUNT,
    MAX_PARALLEL,
    READ_ONLY,
    SESSION,
    STR,
    TASK,
    ToolError,
    check_arguments,
    hints,
    integer,
    schema,
)
from formicary.model.records import OrchestrationSession, ProjectType, SessionStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.store.database import Store

__all__ = [
    "McpTool",
    "ToolContext",
    "ToolError",
    "check_arguments",
    "context_for",
    "execute_mcp_tool",
    "get_mcp_tool_definitions",
    "get_mcp_tools",
]

log = logging.getLogger(__name__)

_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (UnknownProjectError, "unknown_project"),
    (UnknownWorkflowError, "unknown_workflow"),
    (UnknownSessionError, "unknown_session"),
    (UnknownTaskError, "unknown_task"),
    (DefinitionChangedError, "definition_changed"),
    (DefinitionError, "invalid_definition"),
    (TransitionError, "invalid_state"),
    (DocsError, "refused"),
    (UsageError, "invalid_request"),
    (FormicaryError, "error"),
)


class ToolContext:
    """What the tools act on: one workspace and the engine that runs its sessions."""

    def __init__(self, engine: OrchestrationEngine) -> None:
        self.engine = engine
        self.projects = ProjectManager(engine.workspace)

    @property
    def workspace(self) -> Path:
        """The workspace folder."""
        return self.engine.workspace

    def project(self, name: str) -> ProjectSpec:
        """A valid project of the workspace, by name only (never a path)."""
        loaded = self.engine.load()
        if name in loaded.projects:
            return loaded.projects[name]
        broken = [i for i in loaded.issues if Path(i.file).parent.name == name]
        if broken:
            raise DefinitionError(broken)
        raise UnknownProjectError(name, loaded.projects)

    def workflow(self, project: str, workflow: str | None) -> tuple[ProjectSpec, WorkflowSpec]:
        """A project and one of its workflows (the only one when ``workflow`` is None)."""
        spec = self.project(project)
        if workflow is None:
            if len(spec.workflows) != 1:
                raise UnknownWorkflowError(spec.name, None, spec.workflows)
            return spec, next(iter(spec.workflows.values()))
        if workflow not in spec.workflows:
            raise UnknownWorkflowError(spec.name, workflow, spec.workflows)
        return spec, spec.workflows[workflow]


Handler = Callable[[ToolContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class McpTool:
    """One tool: its name, what it does, the JSON Schema of its arguments, its handler, and
    its MCP annotations (``readOnlyHint``… see :func:`formicary.mcp.schema.hints`)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    handler: Handler
    annotations: Mapping[str, bool]

    def definition(self) -> dict[str, Any]:
        """The tool as MCP's ``tools/list`` describes it."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": dict(self.input_schema),
            "annotations": dict(self.annotations),
        }


# -- handlers --------------------------------------------------------------------------


def _list_projects(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "projects": [
            {
                "name": project.name,
                "description": project.description,
                "type": project.type.value,
                "status": project.status.value,
                "workflows": list(project.workflows),
            }
            for project in ctx.projects.list_projects()
        ]
    }


def _list_workflows(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if "project" in args:
        specs = [ctx.project(args["project"])]
    else:
        specs = list(ctx.engine.load().projects.values())
    return {
        "workflows": [
            {
                "project": spec.name,
                "workflow": workflow.name,
                "description": workflow.description,
                "tasks": len(workflow.tasks),
                "params": dict(workflow.params),
            }
            for spec in specs
            for workflow in spec.workflows.values()
        ]
    }


def _describe_workflow(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    spec, workflow = ctx.workflow(args["project"], args.get("workflow"))
    return {
        "project": spec.name,
        "workflow": workflow.name,
        "description": workflow.description,
        "max_parallel": workflow.max_parallel,
        "executor": workflow.executor,
        "params": dict(workflow.params),
        "pools": dict(spec.resources),
        "tasks": [
            {
                "name": task.name,
                "kind": task.kind,
                "target": task.target,
                "depends_on": list(task.depends_on),
                "description": task.description,
                "priority": task.priority.value,
                "retries": task.retries,
                "timeout": task.timeout,
                "resources": dict(task.resources),
            }
            for task in workflow.tasks.values()
        ],
    }


def _validate_workspace(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    loaded = ctx.engine.load()
    return {
        "ok": loaded.ok,
        "projects": sorted(loaded.projects),
        "issues": [
            {
                "file": issue.file,
                "line": issue.line,
                "key_path": issue.key_path,
                "message": issue.message,
                "text": str(issue),
            }
            for issue in loaded.issues
        ],
    }


def _start_workflow(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    spec, workflow = ctx.workflow(args["project"], args.get("workflow"))
    execution = ctx.engine.start(
        spec, workflow, args.get("params") or {}, max_parallel=args.get("max_parallel")
    )
    return {
        "session_id": execution.session_id,
        "project": spec.name,
        "workflow": workflow.name,
        "status": execution.status.value,
        "tasks": len(workflow.tasks),
    }


def _session_json(session: OrchestrationSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "project": session.project,
        "workflow": session.workflow,
        "status": session.status.value,
        "params": dict(session.params),
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "owner_pid": session.owner_pid,
    }


def _list_sessions(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    sessions = ctx.engine.list_sessions(limit=None)
    if "project" in args:
        sessions = [s for s in sessions if s.project == args["project"]]
    return {"sessions": [_session_json(s) for s in sessions[: args.get("limit", 20)]]}


def _get_session_status(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    session = ctx.engine.get_session(args["session_id"])
    tasks = ctx.engine.tasks(session.id)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task["state"]] = counts.get(task["state"], 0) + 1
    finished = session.status.is_final
    return {**_session_json(session), "finished": finished, "counts": counts, "tasks": tasks}


def _get_task_logs(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    attempt, lines = ctx.engine.log_tail(
        args["session_id"], args["task"], attempt=args.get("attempt"), lines=args.get("lines", 50)
    )
    return {"session_id": str(args["session_id"]), "task": args["task"], "attempt": attempt,
            "lines": lines}  # fmt: skip


def _control(action: str, *, with_task: bool) -> Handler:
    def handler(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        task = args.get("task") if with_task else None
        chosen = action
        if action == "retry" and task is None:
            chosen = "retry_failed"
        extra = {"stop_processes": True} if args.get("stop_processes") else {}
        _refuse_changed_definitions(ctx, args["session_id"], chosen, task)
        outcome = ctx.engine.control(args["session_id"], chosen, task, **extra)
        return {"session_id": str(args["session_id"]), "action": chosen, "task": task,
                "outcome": outcome}  # fmt: skip

    return handler


def _refuse_changed_definitions(
    ctx: ToolContext, session_id: str | int, action: str, task: str | None
) -> None:
    """Refuse a call that would start a task whose stored definition (the one the session
    runs) differs from the workspace's current one.

    Raises:
        DefinitionChangedError: Naming each such task with both commands.
        UnknownSessionError, UnknownTaskError.
    """
    session = ctx.engine.get_session(session_id)
    # Adopting a session that had not ended continues it: whatever waits runs too (a cancel
    # of the whole session, though, ends all of it at once).
    adopting = (
        session.status is SessionStatus.ORPHANED
        and action in ADOPTING_ACTIONS
        and not (action == "cancel" and task is None)
    )
    if action not in STARTING_ACTIONS and not adopting:
        return
    handle = ctx.engine.handle(session.id)
    if handle is not None:  # this server runs it: the specs it runs are at hand
        project, workflow = handle.scheduler.project, handle.scheduler.workflow
        states = {found["name"]: found["state"] for found in ctx.engine.tasks(session.id)}
        names = tasks_started_by(workflow, states, action, task)
        drift = definition_drift(ctx.workspace, project, workflow.name, names,
                                 current=ctx.engine.load()) if names else []  # fmt: skip
    else:
        store = Store.for_workspace(ctx.workspace, create=False)
        try:
            record = store.session(session.id)
            drift = session_drift(ctx.workspace, store, record, action, task,
                                  adopting=adopting, current=ctx.engine.load())  # fmt: skip
        finally:
            store.close()
    if drift:
        raise DefinitionChangedError(session.id, drift)


def _create_project(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    project = ctx.projects.create_project(
        args["name"], args.get("description"), args.get("template", "custom")
    )
    return {
        "name": project.name,
        "path": str(project.path),
        "type": project.type.value,
        "workflows": list(project.workflows),
    }


def _generate_docs(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    from formicary.docs.generator import DocumentationGenerator

    spec = ctx.project(args["project"])
    generator = DocumentationGenerator(ctx.workspace)
    if args.get("write", True):
        written = generator.generate(spec)
        return {"project": spec.name, "written": [str(path) for path in written]}
    return {"project": spec.name, "files": generator.render(spec)}


TOOLS: tuple[McpTool, ...] = (
    McpTool(
        "list_projects",
        "List the workspace's projects and their workflows.",
        schema({}),
        _list_projects,
        READ_ONLY,
    ),
    McpTool(
        "list_workflows",
        "List workflows (of one project, or of all) with their parameters.",
        schema({"project": STR}),
        _list_workflows,
        READ_ONLY,
    ),
    McpTool(
        "describe_workflow",
        "Describe a workflow: its tasks, commands, dependencies, retries, timeouts, pools.",
        schema({"project": STR, "workflow": STR}, ("project",)),
        _describe_workflow,
        READ_ONLY,
    ),
    McpTool(
        "validate_workspace",
        "Check every definition file; list each problem with file, line and key path.",
        schema({}),
        _validate_workspace,
        READ_ONLY,
    ),
    McpTool(
        "start_workflow",
        "Start a workflow defined in the workspace; returns its session id at once.",
        schema(
            {
                "project": STR,
                "workflow": STR,
                "params": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "integer", "boolean"]},
                },
                "max_parallel": integer(1, MAX_PARALLEL, "most tasks running at once"),
            },
            ("project",),
        ),
        _start_workflow,
        hints(),
    ),
    McpTool(
        "list_sessions",
        "List recorded sessions, newest first (any process's, including the dashboard's).",
        schema({"project": STR, "limit": integer(1, 1000, "most sessions listed")}),
        _list_sessions,
        READ_ONLY,
    ),
    McpTool(
        "get_session_status",
        "A session's status, counts by state, and every task's state, attempts and exit code.",
        schema({"session_id": SESSION}, ("session_id",)),
        _get_session_status,
        READ_ONLY,
    ),
    McpTool(
        "get_task_logs",
        "The last lines of a task's log (its latest attempt unless one is named).",
        schema(
            {
                "session_id": SESSION,
                "task": TASK,
                "attempt": integer(1, MAX_COUNT, "attempt number (default: the latest)"),
                "lines": integer(1, 5000, "lines from the end (default 50)"),
            },
            ("session_id", "task"),
        ),
        _get_task_logs,
        READ_ONLY,
    ),
    McpTool(
        "retry_task",
        "Run a failed, cancelled or blocked task again (no task: every failed one); refused "
        "(definition_changed) when the workspace now defines a task it would run differently.",
        schema({"session_id": SESSION, "task": TASK}, ("session_id",)),
        _control("retry", with_task=True),
        hints(),
    ),
    McpTool(
        "cancel_task",
        "Cancel a task, ending its processes (no task: the whole session).",
        schema({"session_id": SESSION, "task": TASK}, ("session_id",)),
        _control("cancel", with_task=True),
        hints(destructive=True, idempotent=True),
    ),
    McpTool(
        "pause_session",
        "Stop dispatching new tasks (stop_processes: also SIGSTOP running ones).",
        schema({"session_id": SESSION, "stop_processes": {"type": "boolean"}}, ("session_id",)),
        _control("pause", with_task=False),
        hints(idempotent=True),
    ),
    McpTool(
        "resume_session",
        "Dispatch again after a pause (stopped processes continue); refused "
        "(definition_changed) when the workspace now defines a waiting task differently.",
        schema({"session_id": SESSION}, ("session_id",)),
        _control("resume", with_task=False),
        hints(idempotent=True),
    ),
    McpTool(
        "create_project",
        "Write a new runnable project into the workspace from a template.",
        schema(
            {
                "name": STR,
                "description": {"type": "string"},
                "template": {"type": "string", "enum": [kind.value for kind in ProjectType]},
            },
            ("name",),
        ),
        _create_project,
        hints(idempotent=True),
    ),
    McpTool(
        "generate_docs",
        "Write README.md and AGENTS.md for a project (write=false: return them instead); "
        "never over a file it did not write.",
        schema({"project": STR, "write": {"type": "boolean"}}, ("project",)),
        _generate_docs,
        hints(destructive=True, idempotent=True),
    ),
)
_BY_NAME = {tool.name: tool for tool in TOOLS}


# -- the public functions --------------------------------------------------------------


def get_mcp_tools() -> list[McpTool]:
    """Every tool."""
    return list(TOOLS)


def get_mcp_tool_definitions() -> list[dict[str, Any]]:
    """Every tool as ``{"name", "description", "inputSchema"}``."""
    return [tool.definition() for tool in TOOLS]


_contexts: dict[Path, ToolContext] = {}
_contexts_lock = threading.Lock()


def context_for(workspace: str | Path | None) -> ToolContext:
    """The tools' context for a workspace (the shared engine's when None)."""
    from formicary.api.functions import get_orchestration_engine

    if workspace is None:
        engine = get_orchestration_engine()
        key = engine.workspace
    else:
        key = Path(workspace).resolve()
        engine = None
    with _contexts_lock:
        found = _contexts.get(key)
        if found is None:
            if engine is None:
                shared = get_orchestration_engine()
                engine = shared if shared.workspace == key else OrchestrationEngine(key)
            found = _contexts[key] = ToolContext(engine)
        return found


def execute_mcp_tool(
    name: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    workspace: str | Path | None = None,
    context: ToolContext | None = None,
) -> dict[str, Any]:
    """Run one tool; return its JSON result, or ``{"error": {"code", "message"}}``."""
    try:
        tool = _BY_NAME.get(name)
        if tool is None:
            raise ToolError("unknown_tool", f"no tool {name!r} (tools: {', '.join(_BY_NAME)})")
        args = dict(arguments or {})
        check_arguments(tool.input_schema, args)
        ctx = context or context_for(workspace)
        return tool.handler(ctx, args)
    except ToolError as error:
        return _error(error.code, error.message, error.data)
    except Exception as error:
        for kind, code in _ERROR_CODES:
            if isinstance(error, kind):
                return _error(code, str(error), getattr(error, "data", None))
        log.exception("tool %s failed", name)
        return _error("internal_error", f"{type(error).__name__}: {error}")


def _error(code: str, message: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = dict(data)
    return {"error": error}
