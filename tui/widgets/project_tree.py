"""The projects pane: every project of the workspace and its workflows, each with the state
of its last run."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from engine.definitions import Workspace

WorkflowKey = tuple[str, str]

_LAST_RUN_GLYPH = {
    "running": "▶",
    "paused": "⏸",
    "completed": "✔",
    "failed": "✘",
    "cancelled": "⊘",
    "orphaned": "?",
}


class ProjectTree(Tree[WorkflowKey | None]):
    """Projects → workflows. Highlighting a workflow posts :class:`WorkflowHighlighted`.

    | Key | Action |
    | :- | :- |
    | j / k | Move down / up. |
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="projects.down"),
        Binding("k", "cursor_up", "Up", show=False, id="projects.up"),
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

    def show_workspace(
        self, workspace: Workspace, last_runs: Mapping[WorkflowKey, str] | None = None
    ) -> None:
        """(Re)build from the workspace's definitions, keeping the cursor where it was."""
        current = self.cursor_node.data if self.cursor_node is not None else None
        self._last_runs = dict(last_runs or self._last_runs)
        self.clear()
        self._leaves.clear()
        for project in workspace.projects.values():
            branch = self.root.add(Text(project.name, style="bold"), data=None, expand=True)
            for workflow in project.workflows:
                key = (project.name, workflow)
                self._leaves[key] = branch.add_leaf(self._label(key), data=key)
        broken = sorted({issue.file for issue in workspace.issues})
        for file in broken:
            self.root.add_leaf(Text(f"✘ {file}", style="red"), data=None)
        target = self._leaves.get(current) if current in self._leaves else None
        if target is None and self._leaves:
            target = next(iter(self._leaves.values()))
        if target is not None:
            # The tree lays out its lines on the next refresh; move once they exist.
            self.call_after_refresh(self.move_cursor, target)

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
