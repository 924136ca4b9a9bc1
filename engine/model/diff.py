"""What changed between two loads of a workspace, in words a notification can show."""

from __future__ import annotations

from collections.abc import Mapping

from formicary.model.specs import ProjectSpec, WorkflowSpec


def _edges(workflow: WorkflowSpec) -> set[tuple[str, str]]:
    return {(dep, task.name) for task in workflow.tasks.values() for dep in task.depends_on}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def describe_workflow_changes(old: WorkflowSpec, new: WorkflowSpec) -> str:
    """``"+1 task (extra), 1 changed (report), 2 edges added"``, or "" when equal."""
    parts = []
    added = [name for name in new.tasks if name not in old.tasks]
    removed = [name for name in old.tasks if name not in new.tasks]
    changed = [
        name for name in new.tasks if name in old.tasks and new.tasks[name] != old.tasks[name]
    ]
    if added:
        parts.append(f"+{_plural(len(added), 'task')} ({', '.join(added[:3])})")
    if removed:
        parts.append(f"-{_plural(len(removed), 'task')} ({', '.join(removed[:3])})")
    if changed:
        parts.append(f"{len(changed)} changed ({', '.join(changed[:3])})")
    old_edges, new_edges = _edges(old), _edges(new)
    if new_edges - old_edges:
        parts.append(f"{_plural(len(new_edges - old_edges), 'edge')} added")
    if old_edges - new_edges:
        parts.append(f"{_plural(len(old_edges - new_edges), 'edge')} removed")
    if not parts and old != new:
        parts.append("settings changed")
    return ", ".join(parts)


def describe_changes(old: Mapping[str, ProjectSpec], new: Mapping[str, ProjectSpec]) -> list[str]:
    """One line per project or workflow that was added, removed or changed."""
    lines = []
    for name in new:
        if name not in old:
            lines.append(f"project {name} added ({_plural(len(new[name].workflows), 'workflow')})")
    for name in old:
        if name not in new:
            lines.append(f"project {name} removed")
    for name, project in new.items():
        before = old.get(name)
        if before is None:
            continue
        count = len(lines)
        for flow_name, workflow in project.workflows.items():
            previous = before.workflows.get(flow_name)
            if previous is None:
                lines.append(f"{name}:{flow_name} added ({_plural(len(workflow.tasks), 'task')})")
            else:
                change = describe_workflow_changes(previous, workflow)
                if change:
                    lines.append(f"{name}:{flow_name}: {change}")
        for flow_name in before.workflows:
            if flow_name not in project.workflows:
                lines.append(f"{name}:{flow_name} removed")
        if len(lines) == count and before != project:
            lines.append(f"project {name}: settings changed")
    return lines
