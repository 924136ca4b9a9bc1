"""The questions asked before a control call that cannot be undone: what it affects, in
words, as a :class:`~formicary.tui.screens.confirm.ConfirmScreen` (shared by the main and sessions
screens)."""

from __future__ import annotations

from formicary.model.records import TaskStatus
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.state import SessionView


def adoption_dialog(session_id: str, owner_pid: int | None, what: str) -> ConfirmScreen:
    """Adopt a session whose engine died, then apply ``what`` (a control call, in words)."""
    return ConfirmScreen(
        f"Session {session_id} has no engine: adopt it, then {what}?",
        [
            f"Its engine (pid {owner_pid}) stopped; nobody would take the call.",
            "Adopting runs it in this dashboard: what was running is recorded as lost "
            "and retried by its task's policy; completed tasks never run again.",
        ],
        confirm_label="Adopt",
    )


def cancel_task_dialog(view: SessionView, task: str) -> ConfirmScreen:
    """Cancel ``task``: it, and every unfinished task below it, which becomes blocked."""
    row = view.tasks[task]
    items = [
        f"⊘ {task} ({row.label}) is cancelled"
        + (": its processes are stopped" if row.state is TaskStatus.RUNNING else "")
    ]
    items += [f"⊗ {name} becomes blocked" for name in view.affected_by_cancel(task)[1:]]
    return ConfirmScreen(f"Cancel task {task}?", items)


def cancel_session_dialog(view: SessionView) -> ConfirmScreen:
    """Cancel the whole session: every unfinished task."""
    items = [f"⊘ {row.name} ({row.label})" for row in view.tasks.values() if not row.state.is_final]
    return ConfirmScreen(f"Cancel session {view.session_id}?", items or ["Nothing is unfinished."])


def skip_dialog(view: SessionView, task: str) -> ConfirmScreen:
    """Skip ``task``: the tasks after it may run as if it had completed."""
    row = view.tasks[task]
    return ConfirmScreen(
        f"Skip task {task}?",
        [
            f"» {task} ({row.label}) is skipped"
            + (": its processes are stopped" if row.state is TaskStatus.RUNNING else ""),
            "Tasks that depend on it may run as if it had completed.",
        ],
        confirm_label="Skip",
    )
