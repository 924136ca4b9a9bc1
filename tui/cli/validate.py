"""``formicary validate [PATH]``: check every definition file and summarise the workspace."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.definitions import display_path, load_workspace


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check definition files and list projects, workflows and task counts",
        description="Check every formicary.toml under PATH. Prints each problem as "
        "file:line: key.path: message and exits 2, or a summary and exits 0.",
    )
    parser.add_argument("path", nargs="?", help="a workspace, project folder or formicary.toml")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate and print the result."""
    target = args.path or args.workspace or "."
    workspace = load_workspace(target)
    for project in workspace.projects.values():
        workflows = ", ".join(
            f"{workflow.name} ({len(workflow.tasks)} tasks)"
            for workflow in project.workflows.values()
        )
        print(f"ok  {project.name:<20} {display_path(project.file)}: {workflows}")
    for issue in workspace.issues:
        print(issue, file=sys.stderr)
    tasks = sum(project.task_count for project in workspace.projects.values())
    workflows_total = sum(len(project.workflows) for project in workspace.projects.values())
    if workspace.issues:
        files = len(workspace.invalid_files)
        print(
            f"{len(workspace.issues)} problem(s) in {files} file(s); "
            f"{len(workspace.projects)} valid project(s)",
            file=sys.stderr,
        )
        return 2
    if not workspace.projects:
        print(f"{display_path(workspace.root)}: no formicary.toml found", file=sys.stderr)
        return 2
    print(
        f"{len(workspace.projects)} project(s), {workflows_total} workflow(s), {tasks} task(s): "
        "all valid"
    )
    return 0
