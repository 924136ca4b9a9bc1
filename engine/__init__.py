"""formicary's orchestration engine: definitions, DAGs, scheduling, the store, and the public
API its users know (``WorkflowManager``, ``TaskOrchestrator``, ``ProjectManager``…).

``__all__`` is the public API: the managers, the module-level functions with the seed
library's signatures (``create_task(name, module, action, **kwargs)``,
``create_workflow_steps(name, steps)``… see :mod:`engine.api`), every data class and spec
type those return (``TaskExecution``, ``WorkflowExecution``, ``WorkflowSpec``,
``ProjectSpec``, ``TaskSpec``, ``Workspace``, ``Event``…), and every error class formicary
raises on purpose (rooted in ``FormicaryError``).

Names are imported on first use (PEP 562), so ``import engine.model`` by the command line
does not pay for the scheduler, the store and psutil.
"""

# ruff: noqa: F401 (the TYPE_CHECKING imports below exist for type checkers only)
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # managers
    "WorkflowManager": "engine.workflow_manager",
    "TaskOrchestrator": "engine.task_orchestrator",
    "ProjectManager": "engine.project_manager",
    "ResourceManager": "engine.resource_manager",
    "OrchestrationEngine": "engine.orchestration",
    "DocumentationGenerator": "engine.docs",
    # data classes
    "Task": "engine.model",
    "TaskStatus": "engine.model",
    "TaskPriority": "engine.model",
    "TaskResult": "engine.model",
    "TaskResource": "engine.model",
    "WorkflowStep": "engine.model",
    "WorkflowStatus": "engine.model",
    "WorkflowExecution": "engine.model",
    "Project": "engine.model",
    "ProjectTemplate": "engine.model",
    "ProjectType": "engine.model",
    "ProjectStatus": "engine.model",
    "Resource": "engine.model",
    "ResourceType": "engine.model",
    "ResourceStatus": "engine.model",
    "ResourceAllocation": "engine.model",
    "ResourceUsage": "engine.model",
    "OrchestrationSession": "engine.model",
    "SessionStatus": "engine.model",
    "OrchestrationContext": "engine.model",
    "AttemptOutcome": "engine.model",
    "TaskExecution": "engine.task_orchestrator",
    # specs: what definitions (and workflows built in code) are checked into
    "ProjectSpec": "engine.specs",
    "WorkflowSpec": "engine.specs",
    "TaskSpec": "engine.specs",
    "Defaults": "engine.specs",
    "Workspace": "engine.workspace_files",
    # what other public methods return
    "SessionHandle": "engine.control",
    "McpTool": "engine.mcp_tools",
    "RunHistory": "engine.docs",
    "RunSummary": "engine.docs",
    "WriteResult": "engine.docs",
    # events handed to OrchestrationEngine.add_event_handler's handlers
    "Event": "engine.events",
    "EventKind": "engine.events",
    # errors
    "FormicaryError": "engine.errors",
    "DefinitionIssue": "engine.errors",
    "DefinitionError": "engine.errors",
    "UsageError": "engine.errors",
    "UnknownProjectError": "engine.errors",
    "UnknownWorkflowError": "engine.errors",
    "UnknownSessionError": "engine.errors",
    "UnknownTaskError": "engine.errors",
    "DocsError": "engine.errors",
    "TransitionError": "engine.errors",
    "ResourceBusyError": "engine.errors",
    "StoreVersionError": "engine.errors",
    "SQLiteTooOldError": "engine.errors",
    # functions
    "create_workflow_steps": "engine.api",
    "workflow_steps": "engine.workflow_manager",
    "create_task": "engine.api",
    "create_project": "engine.api",
    "execute_workflow": "engine.api",
    "execute_task": "engine.api",
    "get_workflow_manager": "engine.api",
    "get_task_orchestrator": "engine.api",
    "get_project_manager": "engine.api",
    "get_resource_manager": "engine.api",
    "get_orchestration_engine": "engine.api",
    "get_mcp_tools": "engine.mcp_tools",
    "get_mcp_tool_definitions": "engine.mcp_tools",
    "execute_mcp_tool": "engine.mcp_tools",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ serves these
    from engine.api import (
        create_project,
        create_task,
        create_workflow_steps,
        execute_task,
        execute_workflow,
        get_orchestration_engine,
        get_project_manager,
        get_resource_manager,
        get_task_orchestrator,
        get_workflow_manager,
    )
    from engine.control import SessionHandle
    from engine.docs import DocumentationGenerator, RunHistory, RunSummary, WriteResult
    from engine.errors import (
        DefinitionError,
        DefinitionIssue,
        DocsError,
        FormicaryError,
        ResourceBusyError,
        SQLiteTooOldError,
        StoreVersionError,
        TransitionError,
        UnknownProjectError,
        UnknownSessionError,
        UnknownTaskError,
        UnknownWorkflowError,
        UsageError,
    )
    from engine.events import Event, EventKind
    from engine.mcp_tools import (
        McpTool,
        execute_mcp_tool,
        get_mcp_tool_definitions,
        get_mcp_tools,
    )
    from engine.model import (
        AttemptOutcome,
        OrchestrationContext,
        OrchestrationSession,
        Project,
        ProjectStatus,
        ProjectTemplate,
        ProjectType,
        Resource,
        ResourceAllocation,
        ResourceStatus,
        ResourceType,
        ResourceUsage,
        SessionStatus,
        Task,
        TaskPriority,
        TaskResource,
        TaskResult,
        TaskStatus,
        WorkflowExecution,
        WorkflowStatus,
        WorkflowStep,
    )
    from engine.orchestration import OrchestrationEngine
    from engine.project_manager import ProjectManager
    from engine.resource_manager import ResourceManager
    from engine.specs import Defaults, ProjectSpec, TaskSpec, WorkflowSpec
    from engine.task_orchestrator import TaskExecution, TaskOrchestrator
    from engine.workflow_manager import WorkflowManager, workflow_steps
    from engine.workspace_files import Workspace
