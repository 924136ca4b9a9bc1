"""A glyph for every task state, so state never depends on colour alone."""

from __future__ import annotations

from engine.model import TaskStatus

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
