"""A glyph for every task state, so state never depends on colour alone."""

from __future__ import annotations

from formicary.model.records import TaskStatus

GLYPHS: dict[TaskStatus, str] = {
    TaskStatus.PENDING: "○",
    TaskStatus.READY: "◌",
    TaskStatus.RUNNING: "▶",
    TaskStatus.COMPLETED: "✔",
    TaskStatus.FAILED: "✘",
    TaskStatus.CANCELLED: "⊘",
    TaskStatus.RETRYING: "↻",
    TaskStatus.BLOCKED: "⊗",
    TaskStatus.SKIPPED: "»",
    TaskStatus.PAUSED: "⏸",
}

STYLES: dict[TaskStatus, str] = {
    TaskStatus.PENDING: "dim",
    TaskStatus.READY: "cyan",
    TaskStatus.RUNNING: "bold blue",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.CANCELLED: "magenta",
    TaskStatus.RETRYING: "yellow",
    TaskStatus.BLOCKED: "red",
    TaskStatus.SKIPPED: "dim cyan",
    TaskStatus.PAUSED: "yellow",
}


def glyph(state: TaskStatus | str) -> str:
    """The glyph of ``state``."""
    return GLYPHS[TaskStatus(state)]


STATE_COLORS: dict[TaskStatus, str] = {
    TaskStatus.PENDING: "#8a8f98",
    TaskStatus.READY: "#56b6c2",
    TaskStatus.RUNNING: "#61afef",
    TaskStatus.COMPLETED: "#98c379",
    TaskStatus.FAILED: "#e06c75",
    TaskStatus.CANCELLED: "#c678dd",
    TaskStatus.RETRYING: "#e5c07b",
    TaskStatus.BLOCKED: "#be5046",
    TaskStatus.SKIPPED: "#5c6370",
    TaskStatus.PAUSED: "#d19a66",
}
"""Default colour of each state; themes override them through the ``state-*`` variables."""


def state_variable(state: TaskStatus | str) -> str:
    """The theme variable holding ``state``'s colour: ``state-running``."""
    return f"state-{TaskStatus(state).value}"


def state_variable_defaults() -> dict[str, str]:
    """``{"state-running": "#61afef", ...}``: the defaults the app gives every theme."""
    return {state_variable(state): color for state, color in STATE_COLORS.items()}
