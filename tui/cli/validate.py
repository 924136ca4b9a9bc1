"""``formicary validate [PATH]``: check every definition file and summarise the workspace."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from formicary.model.definitions import display_path, load_workspace


def run(args: argparse.Namespace) -> int:
    """Validate and print the result (again on every save with --watch)."""
    target = args.path or args.workspace or "."
    code = report(target)
    if not args.watch:
        return code
    from watchfiles import watch

    def relevant(_change: object, path: str) -> bool:
        return path.endswith("formicary.toml")

    root = target if Path(target).is_dir() else str(Path(target).parent)
    print(f"watching {root} (Ctrl-C stops)", file=sys.stderr)
    try:
        for _ in watch(root, watch_filter=relevant, debounce=100):
            print(f"--- {time.strftime('%H:%M:%S')}", file=sys.stderr)
            code = report(target)
    except KeyboardInterrupt:
        return code
    return code


def report(target: str) -> int:
    """Validate ``target`` once; print problems or the summary; return the exit code."""
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
        files = len({issue.file for issue in workspace.issues})
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
