"""The main screen: projects, the live graph, the task queue, resources and the log."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from formicary.errors import AdoptionNeeded, FormicaryError
from formicary.model.records import ProjectType, SessionStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.states import UNCANCELLABLE_TASK_STATES
from formicary.tui.bridge import EngineBridge, WatchedSession
from formicary.tui.screens.control_dialogs import (
    adoption_dialog,
    cancel_session_dialog,
    cancel_task_dialog,
    skip_dialog,
)
from formicary.tui.screens.new_project import NewProject, NewProjectScreen
from formicary.tui.screens.sessions import SessionsScreen
from formicary.tui.screens.start import StartOptions, StartScreen
from formicary.tui.screens.task_detail import TaskDetailScreen
from formicary.tui.state import Changes, SessionView
from formicary.tui.widgets.error_pane import ErrorPane
from formicary.tui.widgets.graph import DagGraph
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue
from formicary.tui.widgets.resources import ResourcePane
from formicary.tui.widgets.status_header import StatusHeader
from formicary.tui.widgets.task_log import TaskLog
from formicary.tui.widgets.welcome import Welcome
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Log


class MainScreen(Screen[None]):
    """Where a user spends their time. Every action works on the selected workflow, the
    session on screen, and the task under the cursor.

    | Key | Action |
    | :- | :- |
    | s / o | Start the selected workflow / with options. |
    | p | Pause the session, or resume it while paused. |
    | P | Pause and stop the running processes (SIGSTOP; p resumes them). |
    | r / R | Retry the task / every failed task. |
    | x / X | Cancel the task / the session (asks first). |
    | h | Hold the task (keep it from running; stops it if it runs), or release it. |
    | K | Skip the task (asks first): tasks after it may run. |
    | a | Adopt the session on screen when its engine died (run it here). |
    | enter | Task details. |
    | l / f | Focus the log / follow it. |
    | / | Filter the queue. |
    | 1-4 | Focus projects, graph, queue, log. |
    | S | Sessions. |
    """

    BINDINGS = [
        Binding("s", "start", "Start", id="main.start"),
        Binding("o", "start_options", "Start…", id="main.start_options"),
        # One key, two bindings: the footer says Pause or Resume (check_action picks).
        Binding("p", "pause", "Pause", id="main.pause"),
        Binding("p", "resume", "Resume", id="main.resume"),
        Binding("P", "pause_stop", "Pause + stop", show=False, id="main.pause_stop"),
        Binding("r", "retry", "Retry", id="main.retry"),
        Binding("R", "retry_all", "Retry failed", show=False, id="main.retry_all"),
        Binding("x", "cancel_task", "Cancel", id="main.cancel"),
        Binding("X", "cancel_session", "Cancel session", show=False, id="main.cancel_session"),
        Binding("h", "hold", "Hold/release", show=False, id="main.hold"),
        Binding("K", "skip", "Skip", show=False, id="main.skip"),
        Binding("a", "adopt", "Adopt", show=False, id="main.adopt"),
        Binding("enter", "details", "Details", show=False, id="main.details"),
        Binding("l", "focus_log", "Logs", id="main.logs"),
        Binding("f", "follow", "Follow", show=False, id="main.follow"),
        Binding("slash", "filter", "Filter", id="main.filter"),
        Binding("S", "sessions", "Sessions", id="main.sessions"),
        Binding("1", "focus_pane('projects')", "Projects", show=False, id="main.focus1"),
        Binding("2", "focus_pane('graph')", "Graph", show=False, id="main.focus2"),
        Binding("3", "focus_pane('queue')", "Queue", show=False, id="main.focus3"),
        Binding("4", "focus_pane('log')", "Log", show=False, id="main.focus4"),
        Binding("escape", "clear_filter", "Clear the filter", show=False, id="main.escape"),
    ]

    DEFAULT_CSS = """
    MainScreen #body {
        height: 1fr;
    }
    MainScreen #center {
        width: 1fr;
    }
    MainScreen DagGraph {
        height: 1fr;
        border: round $panel-lighten-2;
    }
    MainScreen TaskQueue {
        height: 1fr;
        border: round $panel-lighten-2;
    }
    MainScreen DagGraph:focus, MainScreen TaskQueue:focus {
        border: round $accent;
    }
    MainScreen #filter {
        display: none;
        height: 3;
    }
    MainScreen #filter.shown {
        display: block;
    }
    MainScreen ResourcePane {
        width: 30;
    }
    MainScreen TaskLog {
        height: 25%;
        min-height: 5;
        border-top: solid $panel-lighten-2;
    }
    MainScreen Welcome {
        display: none;
    }
    MainScreen.-empty Welcome {
        display: block;
    }
    MainScreen.-empty DagGraph, MainScreen.-empty TaskQueue, MainScreen.-empty TaskLog,
    MainScreen.-empty ResourcePane {
        display: none;
    }
    MainScreen.-narrow ResourcePane {
        display: none;
    }
    MainScreen.-narrow ProjectTree {
        width: 20;
    }
    """

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.current: WatchedSession | None = None
        self._preview: SessionView | None = None
        self._selected: tuple[str, str] | None = None
        self._shown_task: str | None = None
        self._footer_paused = False
        """Whether the footer offers Resume (the session on screen is paused)."""

    def compose(self) -> ComposeResult:
        yield StatusHeader(_short(self.bridge.root), id="header")
        with Horizontal(id="body"):
            yield ProjectTree(id="projects")
            with Vertical(id="center"):
                yield Welcome(_short(self.bridge.root), id="welcome")
                yield DagGraph(id="graph")
                yield Input(placeholder="filter tasks by name or state", id="filter")
                yield TaskQueue(id="queue")
            yield ResourcePane(id="resources")
        yield ErrorPane(id="errors")
        yield TaskLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DagGraph).border_title = "2 Graph"
        self.query_one(TaskQueue).border_title = "3 Queue"
        self.query_one(ProjectTree).focus()
        self._load_definitions()

    def on_unmount(self) -> None:
        """Hand what :func:`_settle_memory` froze back to the collector (an app run inside
        a longer-lived process, a test say, leaves it all behind)."""
        gc.unfreeze()

    @work(group="definitions")
    async def _load_definitions(self) -> None:
        """Fill the panes once the definitions are read: the first screen does not wait for
        a big workspace to be parsed."""
        workspace = await self.bridge.load()
        self.reload_projects()
        self.query_one(ErrorPane).show_issues([str(i) for i in workspace.issues])
        self.bridge.watch_definitions()

    def definitions_changed(self, changes: list[str], issues: list[str]) -> None:
        """Definition files changed on disk (called by the app)."""
        self.query_one(ErrorPane).show_issues(issues)
        self.query_one(StatusHeader).notice = f"{len(issues)} definition error(s)" if issues else ""
        if changes:
            self.notify("\n".join(changes[:6]), title="definitions reloaded", timeout=4)
        self.reload_projects()
        if self.current is None and self._selected is not None:
            project, workflow = self._selected
            spec = self.bridge.workspace.projects.get(project)
            if spec is not None and workflow in spec.workflows:
                self.select_workflow(project, workflow)

    # -- what is shown -------------------------------------------------------------------

    @property
    def view(self) -> SessionView | None:
        """The session on screen, or the preview of a workflow that never ran."""
        return self.current.view if self.current is not None else self._preview

    def reload_projects(self) -> None:
        """Show the workspace's projects (after a load or reload of the definitions)."""
        last_runs: dict[tuple[str, str], str] = {}
        if self.bridge.has_store():
            for record in reversed(self.bridge.store.sessions(limit=500)):
                last_runs[(record.project, record.workflow)] = record.shown_status
        tree = self.query_one(ProjectTree)
        tree.show_workspace(self.bridge.workspace, last_runs)
        empty = not self.bridge.workspace.projects
        if empty != self.has_class("-empty"):
            self.set_class(empty, "-empty")
            if empty:
                self.query_one(Welcome).focus()
        if self._selected not in tree.workflows and tree.workflows:
            self.select_workflow(*tree.workflows[0])

    @on(ProjectTree.WorkflowHighlighted)
    def workflow_highlighted(self, event: ProjectTree.WorkflowHighlighted) -> None:
        cursor = event.tree.cursor_node
        if cursor is not None and cursor.data not in (None, (event.project, event.workflow)):
            return  # stale: the cursor has moved on to another workflow, whose turn comes
        shown = self.view
        if shown is not None and (shown.project, shown.workflow.name) == (
            event.project,
            event.workflow,
        ):
            return
        self.select_workflow(event.project, event.workflow)

    @work(exclusive=True, group="select")
    async def select_workflow(self, project: str, workflow: str) -> None:
        """Show ``project:workflow``: its latest session if it has one, else its definition."""
        self._selected = (project, workflow)
        record = self.bridge.latest(project, workflow)
        if record is not None:
            try:
                watched = await self.bridge.watch(str(record.id))
            except FormicaryError as error:
                self.notify(str(error), severity="error")
                watched = None
            if watched is not None:
                self.show_session(watched)
                return
        spec = self.bridge.workspace.projects[project]
        self._leave_current()
        self.current = None
        self._preview = SessionView(
            "",
            project,
            spec.workflows[workflow],
            status="not started",
            capacity=spec.resources,
            embedded=False,
        )
        self._show(self._preview)

    def show_session(self, watched: WatchedSession) -> None:
        """Put ``watched`` on screen."""
        if self.current is not watched:
            self._leave_current()
        self.current = watched
        self._preview = None
        self._selected = (watched.view.project, watched.view.workflow.name)
        self.query_one(ProjectTree).set_last_run(
            watched.view.project, watched.view.workflow.name, watched.view.status
        )
        self._show(watched.view)

    def _leave_current(self) -> None:
        """Stop following the session on screen if another process runs it (one this
        process runs keeps being watched: its pump feeds the view the session needs)."""
        previous = self.current
        if previous is not None and not previous.embedded:
            self.bridge.forget(previous.session_id)

    def on_resize(self) -> None:
        """Below 120 columns the resources pane gives its room to the graph and queue."""
        self.set_class(self.size.width < 120, "-narrow")

    def _show(self, view: SessionView) -> None:
        # The focused pane's cursor is the one to keep: the other pane may not have heard of
        # its last move yet (the message is still queued when a key like s follows at once).
        keep = self._cursor_task()
        states = {name: row.state for name, row in view.tasks.items()}
        graph = self.query_one(DagGraph)
        graph.show(view.workflow, states)
        queue = self.query_one(TaskQueue)
        queue.show(view)
        self.query_one(ResourcePane).show(view)
        self.query_one(StatusHeader).show(view if view.session_id else None)
        self._refresh_pause_key(view)
        task = keep if keep in view.tasks else graph.cursor_task or next(iter(view.tasks), None)
        if task is not None:
            graph.select(task)
            queue.select(task)
            self._show_log(task)
        _settle_memory()

    def _show_log(self, task: str) -> None:
        view = self.view
        if view is None or task not in view.tasks:
            return
        self._shown_task = task
        embedded = self.current is not None and self.current.embedded
        self.query_one(TaskLog).show_task(view, task, follow_file=not embedded)

    def session_updated(self, session_id: str, changes: Changes | None) -> None:
        """Apply a batch of a session's events to the panes (called by the app)."""
        watched = self.bridge.sessions.get(session_id)
        if watched is not None:
            self.query_one(ProjectTree).set_last_run(
                watched.view.project, watched.view.workflow.name, watched.view.status
            )
        if self.current is None or self.current.session_id != session_id:
            return
        view = self.current.view
        self.query_one(StatusHeader).show(view)
        self._refresh_pause_key(view)
        if changes is None:
            return
        if changes.tasks:
            states = {name: view.tasks[name].state for name in changes.tasks}
            self.query_one(DagGraph).update_states(states, changes.tasks)
        self.query_one(TaskQueue).apply(view, changes)
        self.query_one(ResourcePane).apply(view, changes)
        log = self.query_one(TaskLog)
        for task, attempt, lines, at in changes.output:
            log.append(task, attempt, lines, at)
        if self._shown_task in changes.tasks:
            log.refresh_title(view)

    # -- keeping graph, queue and log in step --------------------------------------------

    @on(DagGraph.TaskHighlighted)
    def graph_moved(self, event: DagGraph.TaskHighlighted) -> None:
        self.query_one(TaskQueue).select(event.task)
        self._show_log(event.task)

    @on(TaskQueue.TaskHighlighted)
    def queue_moved(self, event: TaskQueue.TaskHighlighted) -> None:
        self.query_one(DagGraph).select(event.task)
        self._show_log(event.task)

    @on(DagGraph.TaskSelected)
    @on(TaskQueue.TaskSelected)
    def task_chosen(self, event: Any) -> None:
        self._open_details(event.task)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.query_one(TaskQueue).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.query_one(TaskQueue).focus()

    # -- actions -------------------------------------------------------------------------

    def _cursor_task(self) -> str | None:
        focused = self.focused
        if isinstance(focused, DagGraph):
            return focused.cursor_task
        return self.query_one(TaskQueue).cursor_task or self.query_one(DagGraph).cursor_task

    def _need_session(self) -> WatchedSession | None:
        if self.current is None:
            self.notify("No session here yet: press s to start this workflow.")
        return self.current

    async def _control(
        self, action: str, task: str | None = None, *, adopt: bool = False, **args: Any
    ) -> None:
        """Apply a control call to the session on screen, wherever it runs; a session whose
        engine died is adopted first, after asking."""
        watched = self._need_session()
        if watched is None:
            return
        try:
            shown, outcome = await self.bridge.control(watched, action, task, adopt=adopt, **args)
        except AdoptionNeeded as needed:
            self._offer_adoption(needed, action, task, args)
            return
        except FormicaryError as error:
            self.notify(str(error), severity="error", timeout=6)
            return
        if shown is not watched:
            self.show_session(shown)
            self.notify(f"session {shown.session_id} adopted: it runs in this dashboard now")
        what = f"{action.replace('_', ' ')} {task}" if task else action.replace("_", " ")
        if outcome.startswith("expired"):
            self.notify(f"{what}: {outcome}", severity="warning", timeout=8)
        elif outcome != "ok":
            self.notify(f"{what}: {outcome}")

    def _offer_adoption(
        self, needed: AdoptionNeeded, action: str, task: str | None, args: dict[str, Any]
    ) -> None:
        what = f"{action.replace('_', ' ')} {task}" if task else action.replace("_", " ")

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._control(action, task, adopt=True, **args)

        self.app.push_screen(adoption_dialog(needed.session_id, needed.owner_pid, what), decided)

    def _refresh_pause_key(self, view: SessionView | None) -> None:
        """Let the footer say Resume while the session on screen is paused (and Pause
        otherwise): only when that changes, not on every batch."""
        paused = view is not None and view.status == SessionStatus.PAUSED
        if paused != self._footer_paused:
            self._footer_paused = paused
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``p`` pauses a running session and resumes a paused one (the footer says which)."""
        paused = self.view is not None and self.view.status == SessionStatus.PAUSED
        if action == "pause":
            return not paused
        if action == "resume":
            return paused
        return True

    def action_start(self, options: StartOptions | None = None) -> None:
        """Start the selected workflow in this process (with its defaults, or ``options``)."""
        selected = self._selected_spec()
        if selected is None:
            return
        project, workflow = selected
        chosen = options or StartOptions()
        try:
            watched = self.bridge.start(
                project,
                workflow,
                chosen.params,
                executor=chosen.executor if options is not None else None,
                scheduler=chosen.scheduler,
                max_parallel=chosen.max_parallel,
            )
        except FormicaryError as error:
            self.notify(str(error), severity="error")
            return
        self.show_session(watched)
        self.notify(f"session {watched.session_id}: {project.name}:{workflow.name} started")

    def action_start_options(self) -> None:
        """Ask for parameters, executor and parallelism, then start the selected workflow."""
        selected = self._selected_spec()
        if selected is None:
            return
        project, workflow = selected

        def started(options: StartOptions | None) -> None:
            if options is not None:
                self.action_start(options)

        self.app.push_screen(StartScreen(project.name, workflow), started)

    def _selected_spec(self) -> tuple[ProjectSpec, WorkflowSpec] | None:
        """The selected workflow's specs, or None (after saying why).

        With the projects tree focused, its cursor decides: a key typed right after moving
        it arrives before the panes have followed (``j j s`` starts what the cursor is on).
        """
        selected = self._selected
        tree = self.query_one(ProjectTree)
        if tree.has_focus and tree.cursor_node is not None and tree.cursor_node.data:
            selected = tree.cursor_node.data
            if selected != self._selected:
                self.select_workflow(*selected)
        if selected is None:
            self.notify("Select a workflow first.")
            return None
        project_name, workflow_name = selected
        project = self.bridge.workspace.projects.get(project_name)
        if project is None or workflow_name not in project.workflows:
            self.notify(f"{project_name}:{workflow_name} is no longer defined", severity="error")
            return None
        return project, project.workflows[workflow_name]

    async def action_pause(self) -> None:
        """Pause the session: nothing new starts; what runs goes on."""
        await self._control("pause")

    async def action_resume(self) -> None:
        """Resume the paused session (and continue stopped processes)."""
        await self._control("resume")

    async def action_pause_stop(self) -> None:
        """Pause the session and stop its running processes (SIGSTOP until resumed)."""
        await self._control("pause", stop_processes=True)

    async def action_hold(self) -> None:
        """Hold the task under the cursor, or release it when held."""
        view, task = self.view, self._cursor_task()
        if view is None or task is None:
            return
        await self._control("release" if view.tasks[task].held else "hold", task)

    def action_skip(self) -> None:
        """Skip the task under the cursor, after asking: tasks after it may then run."""
        watched, task = self._need_session(), self._cursor_task()
        if watched is None or task is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._control("skip", task)

        self.app.push_screen(skip_dialog(watched.view, task), decided)

    async def action_adopt(self) -> None:
        """Adopt the session on screen if its engine died (run it in this dashboard)."""
        watched = self._need_session()
        if watched is None:
            return
        if watched.embedded or watched.view.status != SessionStatus.ORPHANED:
            self.notify(f"session {watched.session_id} is {watched.view.status}: nothing to adopt")
            return
        try:
            adopted = self.bridge.adopt(watched.session_id)
        except FormicaryError as error:
            self.notify(str(error), severity="error")
            return
        self.show_session(adopted)
        self.notify(f"session {adopted.session_id} adopted: it runs in this dashboard now")

    async def action_retry(self) -> None:
        """Retry the task under the cursor."""
        task = self._cursor_task()
        if task is not None:
            await self._control("retry", task)

    async def action_retry_all(self) -> None:
        """Retry every failed task of the session."""
        await self._control("retry_failed")

    def action_cancel_task(self) -> None:
        """Cancel the task under the cursor, after showing what it affects."""
        watched = self._need_session()
        task = self._cursor_task()
        if watched is None or task is None:
            return
        row = watched.view.tasks[task]
        if row.state in UNCANCELLABLE_TASK_STATES:
            self.notify(f"{task} is {row.state.value}: nothing to cancel", severity="warning")
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._control("cancel", task)

        self.app.push_screen(cancel_task_dialog(watched.view, task), decided)

    def action_cancel_session(self) -> None:
        """Cancel the whole session, after asking."""
        watched = self._need_session()
        if watched is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._control("cancel")

        self.app.push_screen(cancel_session_dialog(watched.view), decided)

    def action_details(self) -> None:
        """Open the task under the cursor."""
        task = self._cursor_task()
        if task is not None:
            self._open_details(task)

    def _open_details(self, task: str) -> None:
        if self.current is None:
            self.notify("No session here yet: press s to start this workflow.")
            return
        self.app.push_screen(TaskDetailScreen(self.current, task))

    def action_focus_log(self) -> None:
        """Focus the log pane."""
        self.query_one(TaskLog).query_one(Log).focus()

    def action_follow(self) -> None:
        """Toggle following the log."""
        self.query_one(TaskLog).toggle_follow()

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_clear_filter(self) -> None:
        """Hide and clear the filter."""
        box = self.query_one("#filter", Input)
        if box.has_class("shown"):
            box.value = ""
            box.remove_class("shown")
            self.query_one(TaskQueue).focus()

    def action_focus_pane(self, pane: str) -> None:
        """Focus one of the four panes."""
        if pane == "log":
            self.action_focus_log()
        else:
            self.query_one(f"#{pane}").focus()

    def go_to_workflow(self, project: str, workflow: str) -> None:
        """Select ``project:workflow`` (from the command palette)."""
        self.query_one(ProjectTree).select_workflow(project, workflow)
        self.select_workflow(project, workflow)

    def go_to_task(self, task: str) -> None:
        """Put the cursor on ``task`` (from the command palette)."""
        self.query_one(DagGraph).select(task)
        self.query_one(TaskQueue).select(task)
        self._show_log(task)

    @on(Welcome.NewProject)
    def action_new_project(self) -> None:
        """Create a project from a template (as ``formicary new``); it shows up in the tree."""
        from formicary.model.scaffold import create_project

        def create(name: str, kind: ProjectType) -> str | None:
            try:
                create_project(self.bridge.root, name, kind)
            except FormicaryError as error:
                return str(error)
            except OSError as error:  # a read-only workspace, a full disk
                return f"cannot write the project: {error.strerror or error}"
            return None

        async def created(project: NewProject | None) -> None:
            if project is None:
                return
            await self.bridge.reload_definitions()
            self.reload_projects()
            spec = self.bridge.workspace.projects.get(project.name)
            self.notify(f"project {project.name} created from the {project.kind.value} template")
            if spec is not None and spec.workflows:
                workflow = next(iter(spec.workflows))
                self.go_to_workflow(project.name, workflow)
                self.query_one(ProjectTree).focus()

        self.app.push_screen(NewProjectScreen(create), created)

    def action_sessions(self) -> None:
        """Open the sessions screen; come back watching the chosen one."""

        async def chosen(session_id: str | None) -> None:
            if session_id is None:
                return
            try:
                watched = await self.bridge.watch(session_id)
            except FormicaryError as error:
                self.notify(str(error), severity="error")
                return
            self.query_one(ProjectTree).select_workflow(
                watched.view.project, watched.view.workflow.name
            )
            self.show_session(watched)

        self.app.push_screen(SessionsScreen(self.bridge), chosen)


def _settle_memory() -> None:
    """Collect garbage, then freeze what is left (definitions, the view on screen, its graph
    layout) out of the cyclic collector's reach.

    With a 10,000-task session each full pass of the collector walked ~150,000 objects and
    stalled the UI for 45-100 ms, in the middle of a key press now and then. Frozen objects
    are skipped, so this collection and every later one only walk what came since (the first
    costs 20-55 ms, later ones ~1 ms). Reference counting still frees frozen objects; only a
    reference cycle made of them would outlive its use, and the views and layouts shown here
    hold none.
    """
    gc.collect()
    gc.freeze()


def _short(path: Path) -> str:
    """The workspace as the header shows it: ``~``-relative, and at most its last two parts
    when long, so the session's counts always fit on the line."""
    text = str(path)
    home = str(Path.home())
    if text.startswith(home + "/"):
        text = "~" + text[len(home) :]
    if len(text) > 32:
        text = "…/" + "/".join(path.parts[-2:])
    return text
