"""The Textual app: composition, theme variables, and the engine-to-UI bridge. Screens hold
the behaviour; this stays thin."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from tui.bridge import DefinitionsChanged, EngineBridge, SessionUpdated, StoreChanged
from tui.commands import FormicaryCommands
from tui.glyphs import state_variable_defaults
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, describe_bindings
from tui.screens.main import MainScreen
from tui.themes import install_themes, remember_theme


class FormicaryApp(App[int]):
    """``formicary dash``: the dashboard of one workspace.

    | Key | Action |
    | :- | :- |
    | ? | Help: every binding. |
    | t | Next theme. |
    | ctrl+p | Command palette. |
    | q | Quit (asks while this dashboard runs work). |
    """

    TITLE = "formicary"
    COMMANDS = App.COMMANDS | {FormicaryCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "next_theme", "Theme", show=False, id="app.theme"),
        Binding("q", "quit_dashboard", "Quit", id="app.quit"),
    ]

    def __init__(self, workspace: Path) -> None:
        super().__init__()
        self.workspace = workspace
        self.bridge: EngineBridge | None = None
        self._themes_installed = False
        """Set once the saved theme is restored; from then on each change of theme is saved."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Every task state's colour is a theme variable (``$state-running``...)."""
        return {**super().get_theme_variable_defaults(), **state_variable_defaults()}

    def on_mount(self) -> None:
        for warning in install_themes(self):
            self.notify(warning, title="Themes", severity="warning", timeout=10)
        self._themes_installed = True
        self.bridge = EngineBridge(self.workspace, self.post_message)
        self.push_screen(MainScreen(self.bridge))

    def watch_theme(self, name: str) -> None:
        """Save the chosen theme (``t``, the palette's theme picker) for the next start."""
        if self._themes_installed and (problem := remember_theme(name)) is not None:
            self.notify(problem, title="Themes", severity="warning")

    # The bridge posts from the engine's side: an update may still be queued while the app
    # shuts down and its screens' widgets are already gone, and is dropped then.

    def on_session_updated(self, message: SessionUpdated) -> None:
        if not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.session_updated(message.session_id, message.changes)

    def on_definitions_changed(self, message: DefinitionsChanged) -> None:
        if not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.definitions_changed(message.changes, message.issues)

    async def on_store_changed(self, _message: StoreChanged) -> None:
        from tui.screens.sessions import SessionsScreen

        if self.is_running and isinstance(self.screen, SessionsScreen):
            await self.screen.store_changed()

    def action_help(self) -> None:
        """Show every binding."""
        focused = self.focused
        sources = [self.screen, focused, self] if focused is not None else [self.screen, self]
        self.push_screen(HelpScreen(describe_bindings(*sources)))

    def action_next_theme(self) -> None:
        """Switch to the next theme."""
        names = sorted(self.available_themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_quit_dashboard(self) -> None:
        """Quit; while this dashboard runs sessions, ask first (quitting cancels them)."""
        running = self.bridge.running_here() if self.bridge is not None else []
        if not running:
            self.exit(0)
            return
        items = [
            f"session {w.session_id}: {w.view.project}:{w.view.workflow.name}" for w in running
        ]

        def decided(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(
            ConfirmScreen(
                "Quit? These sessions run in this dashboard and will be cancelled.",
                items,
                confirm_label="Quit",
            ),
            decided,
        )

    async def on_unmount(self) -> None:
        if self.bridge is not None:
            await self.bridge.close()
