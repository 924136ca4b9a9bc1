"""The command palette: every action of the dashboard, and a jump to any project, workflow or
task."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.types import IgnoreReturnCallbackType

if TYPE_CHECKING:
    from formicary.tui.screens.main import MainScreen

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Start the selected workflow", "start", "s"),
    ("Start the selected workflow with options (parameters, executor)", "start_options", "o"),
    ("Pause the session (nothing new starts)", "pause", "p"),
    ("Pause the session and stop its running processes (SIGSTOP)", "pause_stop", "P"),
    ("Resume the paused session", "resume", "p"),
    ("Retry the selected task", "retry", "r"),
    ("Retry every failed task", "retry_all", "R"),
    ("Cancel the selected task", "cancel_task", "x"),
    ("Cancel the session", "cancel_session", "X"),
    ("Hold the selected task, or release it", "hold", "h"),
    ("Skip the selected task", "skip", "K"),
    ("Adopt the session whose engine died", "adopt", "a"),
    ("Task details", "details", "enter"),
    ("Filter the queue", "filter", "/"),
    ("Follow the log", "follow", "f"),
    ("Sessions", "sessions", "S"),
    ("New project from a template", "new_project", "n on an empty workspace"),
    ("Help: every key", "app.help", "?"),
    ("Next theme", "app.next_theme", "t"),
    ("Toasts for failures and session ends: on/off", "app.toggle_notifications('toasts')", ""),
    ("Bell for failures and session ends: on/off", "app.toggle_notifications('bell')", ""),
)
"""Title, action (of the main screen, or ``app.``), and its key, for the palette."""


class FormicaryCommands(Provider):
    """Offers the main screen's actions and every workflow and task to jump to."""

    def _main(self) -> MainScreen | None:
        from formicary.tui.screens.main import MainScreen

        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _entries(self) -> list[tuple[str, IgnoreReturnCallbackType, str]]:
        main = self._main()
        if main is None:
            return []
        entries: list[tuple[str, IgnoreReturnCallbackType, str]] = [
            (title, partial(main.run_action, action), f"key {key}" if key else "")
            for title, action, key in ACTIONS
        ]
        for project in main.bridge.workspace.projects.values():
            for workflow in project.workflows.values():
                entries.append(
                    (
                        f"Go to workflow {project.name}:{workflow.name}",
                        partial(main.go_to_workflow, project.name, workflow.name),
                        f"{len(workflow.tasks)} tasks",
                    )
                )
        view = main.view
        if view is not None:
            for name, row in view.tasks.items():
                entries.append(
                    (f"Go to task {name}", partial(main.go_to_task, name), row.state.value)
                )
        return entries

    async def discover(self) -> Hits:
        for title, callback, help_text in self._entries()[: len(ACTIONS)]:
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
