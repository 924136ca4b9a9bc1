"""formicary's orchestration engine: definitions, DAGs, scheduling, the store, and the public
API its users know (``WorkflowManager``, ``TaskOrchestrator``, ``ProjectManager``…).

``__all__`` is the public API: the managers, the module-level functions with the seed
library's signatures (``create_task(name, module, action, **kwargs)``,
``create_workflow_steps(name, steps)``… see :mod:`formicary.api.functions`), every data class and
spec type those return (``TaskExecution``, ``WorkflowExecution``, ``WorkflowSpec``,
``ProjectSpec``, ``TaskSpec``, ``Workspace``, ``Event``…), and every error class formicary
raises on purpose (rooted in ``FormicaryError``).

Names are imported on first use (PEP 562), so ``import formicary.model.records`` by the command line
does not pay for the scheduler, the store and psutil.
"""

# ruff: noqa: F401 (the TYPE_CHECKING imports below exist for type checkers only)
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # managers
    "WorkflowManager": "formicary.api.workflow_manager",
    "TaskOrchestrator": "formicary.api.task_orchestrator",
    "ProjectManager": "formicary.api.project_manager",
    "ResourceManager": "formicary.api.resource_manager",
    "OrchestrationEngine": "formicary.api.orchestration",
    "DocumentationGenerator": "formicary.docs.generator",
    # data classes
    "Task": "formicary.model.records",
    "TaskStatus": "formicary.model.records",
    "TaskPriority": "formicary.model.records",
    "TaskResult": "formicary.model.records",
    "TaskResource": "formicary.model.records",
    "WorkflowStep": "formicary.model.records",
    "WorkflowStatus": "formicary.model.records",
    "WorkflowExecution": "formicary.model.records",
    "Project": "formicary.model.records",
    "ProjectTemplate": "formicary.model.records",
    "ProjectType": "formicary.model.records",
    "ProjectStatus": "formicary.model.records",
    "Resource": "formicary.model.records",
    "ResourceType": "formicary.model.records",
    "ResourceStatus": "formicary.model.records",
    "ResourceAllocation": "formicary.model.records",
    "ResourceUsage": "formicary.model.records",
    "OrchestrationSession": "formicary.model.records",
    "SessionStatus": "formicary.model.records",
    "OrchestrationContext": "formicary.model.records",
    "AttemptOutcome": "formicary.model.records",
    "TaskExecution": "formicary.api.task_orchestrator",
    # specs: what definitions (and workflows built in code) are checked into
    "ProjectSpec": "formicary.model.specs",
    "WorkflowSpec": "formicary.model.specs",
    "TaskSpec": "formicary.model.specs",
    "Defaults": "formicary.model.specs",
    "Workspace": "formicary.model.workspace_files",
    # what other public methods return
    "SessionHandle": "formicary.api.control",
    "SessionClient": "formicary.api.session_client",
    "Outcome": "formicary.api.outcome",
    "McpTool": "formicary.mcp.tools",
    "RunHistory": "formicary.docs.generator",
    "RunSummary": "formicary.docs.generator",
    "WriteResult": "formicary.docs.generator",
    # events handed to OrchestrationEngine.add_event_handler's handlers
    "Event": "formicary.run.events",
    "EventKind": "formicary.run.events",
    # errors
    "FormicaryError": "formicary.errors",
    "DefinitionIssue": "formicary.errors",
    "DefinitionError": "formicary.errors",
    "UsageError": "formicary.errors",
    "UnknownProjectError": "formicary.errors",
    "UnknownWorkflowError": "formicary.errors",
    "UnknownSessionError": "formicary.errors",
    "UnknownTaskError": "formicary.errors",
    "DocsError": "formicary.errors",
    "TransitionError": "formicary.errors",
    "ResourceBusyError": "formicary.errors",
    "StoreVersionError": "formicary.errors",
    "SQLiteTooOldError": "formicary.errors",
    "AdoptionNeeded": "formicary.errors",
    # functions
    "create_workflow_steps": "formicary.api.functions",
    "workflow_steps": "formicary.api.workflow_manager",
    "create_task": "formicary.api.functions",
    "create_project": "formicary.api.functions",
    "execute_workflow": "formicary.api.functions",
    "execute_task": "formicary.api.functions",
    "get_workflow_manager": "formicary.api.functions",
    "get_task_orchestrator": "formicary.api.functions",
    "get_project_manager": "formicary.api.functions",
    "get_resource_manager": "formicary.api.functions",
    "get_orchestration_engine": "formicary.api.functions",
    "get_mcp_tools": "formicary.mcp.tools",
    "get_mcp_tool_definitions": "formicary.mcp.tools",
    "execute_mcp_tool": "formicary.mcp.tools",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'formicary' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ serves these
    from formicary.api.control import SessionHandle
    from formicary.api.functions import (
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
    from formicary.api.orchestration import OrchestrationEngine
    from formicary.api.outcome import Outcome
    from formicary.api.project_manager import ProjectManager
    from formicary.api.resource_manager import ResourceManager
    from formicary.api.session_client import SessionClient
    from formicary.api.task_orchestrator import TaskExecution, TaskOrchestrator
    from formicary.api.workflow_manager import WorkflowManager, workflow_steps
    from formicary.docs.generator import DocumentationGenerator, RunHistory, RunSummary, WriteResult
    from formicary.errors import (
        AdoptionNeeded,
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
    from formicary.mcp.tools import (
        McpTool,
        execute_mcp_tool,
        get_mcp_tool_definitions,
        get_mcp_tools,
    )
    from formicary.model.records import (
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
    from formicary.model.specs import Defaults, ProjectSpec, TaskSpec, WorkflowSpec
    from formicary.model.workspace_files import Workspace
    from formicary.run.events import Event, EventKind
