"""The Textual app: composition, theme variables, and the engine-to-UI bridge. Screens hold
the behaviour; this stays thin."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from formicary.run.signals import ENDING_SIGNALS, signal_exit_code, signal_reason
from formicary.tui.bridge import (
    DefinitionDrift,
    DefinitionsChanged,
    EngineBridge,
    SessionUpdated,
    StoreChanged,
)
from formicary.tui.commands import FormicaryCommands
from formicary.tui.crash import CRASH_REASON, QUIT_REASON, write_crash_log
from formicary.tui.glyphs import state_variable_defaults
from formicary.tui.notifications import Notifier
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.screens.help import HelpScreen, describe_bindings
from formicary.tui.screens.main import MainScreen
from formicary.tui.screens.palette import FormicaryPalette
from formicary.tui.themes import install_themes, remember_theme
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette


class FormicaryApp(App[int]):
    """``formicary dash``: the dashboard of one workspace.

    | Key | Action |
    | :- | :- |
    | ? | Help: every binding. |
    | t | Next theme. |
    | ctrl+p / : | Command palette. |
    | q / ctrl+q | Quit (asks while this dashboard runs work). |
    """

    TITLE = "formicary"
    COMMANDS = App.COMMANDS | {FormicaryCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "next_theme", "Theme", show=False, id="app.theme"),
        Binding("q", "quit_dashboard", "Quit", id="app.quit"),
        # Textual's own ctrl+q quits at once, cancelling whatever runs here without a word.
        Binding("ctrl+q", "quit_dashboard", "Quit", show=False, priority=True, id="app.ctrl_q"),
        Binding("colon", "command_palette", "Commands", show=False, id="app.palette"),
    ]

    def __init__(self, workspace: Path) -> None:
        super().__init__()
        self.workspace = workspace
        self.bridge: EngineBridge | None = None
        self._themes_installed = False
        """Set once the saved theme is restored; from then on each change of theme is saved."""
        self.notifier = Notifier.from_settings()
        """Toasts and the bell for failures and ends (switchable, remembered)."""
        self.crash_log: Path | None = None
        """Where the traceback went, once the app crashed."""
        self.ended_by: signal.Signals | None = None
        """The signal (SIGINT, SIGTERM, SIGHUP) that ended the app, if one did."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Every task state's colour is a theme variable (``$state-running``...)."""
        return {**super().get_theme_variable_defaults(), **state_variable_defaults()}

    def on_mount(self) -> None:
        for warning in install_themes(self):
            self.notify(warning, title="Themes", severity="warning", timeout=10)
        self._themes_installed = True
        self.bridge = EngineBridge(self.workspace, self.post_message)
        self.push_screen(MainScreen(self.bridge))
        loop = asyncio.get_running_loop()
        for signum in ENDING_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(signum, self._end_by_signal, signum)

    def _end_by_signal(self, signum: signal.Signals) -> None:
        """SIGINT, SIGTERM or SIGHUP: quit without asking, exiting 128+N; quitting cancels
        this dashboard's sessions with the signal named in the reason (:meth:`on_unmount`).
        Without this the default action of SIGTERM and SIGHUP killed the process at once and
        left every task process running."""
        if self.ended_by is None:
            self.ended_by = signum
            self.exit(signal_exit_code(signum), return_code=signal_exit_code(signum))

    def watch_theme(self, name: str) -> None:
        """Save the chosen theme (``t``, the palette's theme picker) for the next start."""
        if self._themes_installed and (problem := remember_theme(name)) is not None:
            self.notify(problem, title="Themes", severity="warning")

    # The bridge posts from the engine's side: an update may still be queued while the app
    # shuts down and its screens' widgets are already gone, and is dropped then.

    def on_session_updated(self, message: SessionUpdated) -> None:
        if not self.is_running:
            return
        watched = self.bridge.sessions.get(message.session_id) if self.bridge else None
        if watched is not None and message.changes is not None:
            self.notifier.announce(self, watched.view, message.changes)
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.session_updated(message.session_id, message.changes)

    def on_definition_drift(self, message: DefinitionDrift) -> None:
        self.notify(
            "\n".join(message.notes) + "\nThe definitions recorded with the session run.",
            title=f"session {message.session_id}: definition changed since it ran",
            severity="warning",
            timeout=10,
        )

    def on_definitions_changed(self, message: DefinitionsChanged) -> None:
        if not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.definitions_changed(message.changes, message.issues)

    async def on_store_changed(self, _message: StoreChanged) -> None:
        from formicary.tui.screens.sessions import SessionsScreen

        if self.is_running and isinstance(self.screen, SessionsScreen):
            await self.screen.store_changed()

    def action_help(self) -> None:
        """Show every binding."""
        # The focused pane's own keys first (a log's search, a queue's sort), then the screen's
        # and the app's.
        sources: list[object] = []
        node = self.focused
        while node is not None and node is not self.screen:
            sources.append(node)
            node = node.parent  # type: ignore[assignment]
        self.push_screen(HelpScreen(describe_bindings(*sources, self.screen, self)))

    def action_command_palette(self) -> None:
        """Open the command palette (``ctrl+p`` or ``:``)."""
        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(FormicaryPalette(id="--command-palette"))

    def action_toggle_notifications(self, which: str) -> None:
        """Switch toasts (``toasts``) or the bell (``bell``) for failures and ends."""
        value, problem = self.notifier.toggle(which)
        what = "toasts" if which == "toasts" else "the bell"
        self.notify(f"{what} for failures and session ends: {'on' if value else 'off'}")
        if problem is not None:
            self.notify(problem, title="Settings", severity="warning")

    def action_next_theme(self) -> None:
        """Switch to the next theme."""
        names = sorted(self.available_themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_quit_dashboard(self) -> None:
        """Quit; while this dashboard runs sessions, ask first (quitting cancels them)."""
        if isinstance(self.screen, ConfirmScreen):
            return  # the question is already asked (q or ctrl+q pressed twice)
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

    def _handle_exception(self, error: Exception) -> None:
        """A crash: write the traceback to a crash log (``formicary dash`` prints one line
        naming it instead of Textual's full traceback on the terminal), then let Textual end
        the app, which cancels this dashboard's sessions as ended by the crash."""
        if self.crash_log is None:
            with contextlib.suppress(OSError):
                self.crash_log = write_crash_log(self.workspace, error)
        super()._handle_exception(error)
        if self.crash_log is not None:
            self._exit_renderables.clear()

    async def on_unmount(self) -> None:
        """Cancel the sessions this dashboard runs, recording why: a signal, a crash, a quit."""
        loop = asyncio.get_running_loop()
        for signum in ENDING_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.remove_signal_handler(signum)
        if self.bridge is not None:
            if self.ended_by is not None:
                reason = signal_reason("formicary dash", self.ended_by)
            elif self.crash_log is not None or self.return_code not in (None, 0):
                reason = CRASH_REASON
            else:
                reason = QUIT_REASON
            await self.bridge.close(reason)
