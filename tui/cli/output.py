"""The console every command prints through."""

from __future__ import annotations

from rich.console import Console


def make_console() -> Console:
    """A Rich console: styled and sized to the terminal on one; on a pipe or file, plain
    lines that are never wrapped, so scripts and grep see one record per line."""
    console = Console(highlight=False)
    if console.is_terminal:
        return console
    return Console(highlight=False, soft_wrap=True, width=1000)
