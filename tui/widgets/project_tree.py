"""The projects pane: every project of the workspace and its workflows, each with the state
of its last run."""

from __future__ import annotations

from collections.abc import Mapping

from formicary.model.definitions import Workspace
from formicary.model.states import SessionStatus
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

WorkflowKey = tuple[str, str]

_LAST_RUN_GLYPH: dict[str, str] = {
    SessionStatus.RUNNING: "▶",
    SessionStatus.PAUSED: "⏸",
    SessionStatus.COMPLETED: "✔",
    SessionStatus.FAILED: "✘",
    SessionStatus.CANCELLED: "⊘",
    SessionStatus.ORPHANED: "?",
}


class ProjectTree(Tree[WorkflowKey | None]):
    """Projects → workflows. Highlighting a workflow posts :class:`WorkflowHighlighted`.

    | Key | Action |
    | :- | :- |
    | j / k | Move down / up. |
    | g / G | First / last line. |
    | pageup / pagedown | A screenful up / down (Textual's Tree). |
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="projects.down"),
        Binding("k", "cursor_up", "Up", show=False, id="projects.up"),
        Binding("g", "scroll_home", "First", show=False, id="projects.first"),
        Binding("G", "scroll_end", "Last", show=False, id="projects.last"),
    ]

    DEFAULT_CSS = """
    ProjectTree {
        width: 28;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0;
    }
    ProjectTree:focus {
        border: round $accent;
    }
    """

    class WorkflowHighlighted(Message):
        """The cursor moved onto a workflow."""

        def __init__(self, tree: ProjectTree, project: str, workflow: str) -> None:
            self.tree = tree
            self.project = project
            self.workflow = workflow
            super().__init__()

        @property
        def control(self) -> ProjectTree:
            """The tree."""
            return self.tree

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__("workspace", name=name, id=id, classes=classes, disabled=disabled)
        self.show_root = False
        self.border_title = "1 Projects"
        self._leaves: dict[WorkflowKey, TreeNode[WorkflowKey | None]] = {}
        self._last_runs: dict[WorkflowKey, str] = {}
        self._broken: list[str] = []
        self._shape: tuple[object, ...] | None = None
        """The projects, workflows and broken files shown, in order."""

    def show_workspace(
        self, workspace: Workspace, last_runs: Mapping[WorkflowKey, str] | None = None
    ) -> None:
        """(Re)build from the workspace's definitions, keeping the cursor where it was.

        When the projects and workflows are the same as shown (a description or a task was
        edited), only the labels change: the cursor and the scroll stay, and nothing is
        announced. Otherwise the tree is rebuilt and the cursor put back on its workflow (or
        project line) without announcing the move (the panes already show what they show).
        """
        self._last_runs = dict(last_runs or self._last_runs)
        shape = self._shape_of(workspace)
        if shape == self._shape:
            for key, leaf in self._leaves.items():
                leaf.set_label(self._label(key))
            return
        self._shape = shape
        cursor = self.cursor_node
        # A workflow's leaf, or a project's own line (the cursor may rest there while the
        # panes show the workflow chosen last): either is found again after the rebuild.
        current_leaf: WorkflowKey | None = None
        current_branch = ""
        if cursor is not None:
            if cursor.data is not None:
                current_leaf = cursor.data
            else:
                current_branch = str(cursor.label)
        scroll = self.scroll_y
        with self.prevent(Tree.NodeHighlighted):
            self.clear()
        self._leaves.clear()
        branches: dict[str, TreeNode[WorkflowKey | None]] = {}
        for project in workspace.projects.values():
            branch = self.root.add(Text(project.name, style="bold"), data=None, expand=True)
            branches[project.name] = branch
            for workflow in project.workflows:
                key = (project.name, workflow)
                self._leaves[key] = branch.add_leaf(self._label(key), data=key)
        broken = sorted({issue.file for issue in workspace.issues})
        for file in broken:
            self.root.add_leaf(Text(f"✘ {file}", style="red"), data=None)
        target = (self._leaves.get(current_leaf) if current_leaf else None) or branches.get(
            current_branch
        )
        if target is None and self._leaves:
            target = next(iter(self._leaves.values()))

        def restore() -> None:
            # Not announced: the main screen decides what to show when its workflow is gone.
            if target is not None:
                with self.prevent(Tree.NodeHighlighted):
                    self.move_cursor(target, animate=False)
                self.scroll_to(y=scroll, animate=False)

        # The tree lays out its lines on the next refresh; move once they exist.
        self.call_after_refresh(restore)

    @staticmethod
    def _shape_of(workspace: Workspace) -> tuple[object, ...]:
        return (
            tuple((name, tuple(project.workflows)) for name, project in workspace.projects.items()),
            tuple(sorted({issue.file for issue in workspace.issues})),
        )

    def set_last_run(self, project: str, workflow: str, status: str) -> None:
        """Show the state of the latest run of ``project:workflow``."""
        key = (project, workflow)
        if self._last_runs.get(key) == status:
            return
        self._last_runs[key] = status
        leaf = self._leaves.get(key)
        if leaf is not None:
            leaf.set_label(self._label(key))

    def select_workflow(self, project: str, workflow: str) -> None:
        """Move the cursor to ``project:workflow``."""
        leaf = self._leaves.get((project, workflow))
        if leaf is not None:
            self.call_after_refresh(self.move_cursor, leaf)

    @property
    def workflows(self) -> list[WorkflowKey]:
        """Every workflow shown, in order."""
        return list(self._leaves)

    def _label(self, key: WorkflowKey) -> Text:
        status = self._last_runs.get(key)
        label = Text(key[1])
        if status:
            label.append(f"  {_LAST_RUN_GLYPH.get(status, '')} {status}", style="dim")
        return label

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[WorkflowKey | None]) -> None:
        event.stop()
        if event.node.data is not None:
            project, workflow = event.node.data
            self.post_message(self.WorkflowHighlighted(self, project, workflow))
