"""The console every command prints through, and the one way commands print columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

GAP = "  "
"""Between two columns (what a borderless Rich table puts there)."""


def make_console() -> Console:
    """A Rich console: styled and sized to the terminal on one; on a pipe or file, plain
    lines that are never wrapped, so scripts and grep see one record per line."""
    console = Console(highlight=False)
    if console.is_terminal:
        return console
    return Console(highlight=False, soft_wrap=True, width=1000)


def print_columns(
    console: Console, headers: Sequence[str], rows: Iterable[Sequence[str | Text]]
) -> None:
    """Print ``rows`` under ``headers`` (bold) as left-aligned columns, a line per row.

    A borderless Rich table looks the same, but it measures and lays out every cell, which
    took 3 s for the 10,000 rows of a large session's ``formicary status``; this is one pass
    to measure and one to write. Lines are never wrapped by Rich (a terminal may fold a long
    last column) and end at their last non-empty cell.
    """
    # A cell is one line (a Python task's reason is its exception's text, which may not be).
    table = [[_one_line(cell) for cell in row] for row in rows]
    widths = [cell_len(header) for header in headers]
    for row in table:
        for index, cell in enumerate(row):
            size = cell.cell_len if isinstance(cell, Text) else cell_len(cell)
            if size > widths[index]:
                widths[index] = size
    out = Text(no_wrap=True, end="")
    out.append(GAP.join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    out.stylize("bold")
    for row in table:
        out.append("\n")
        last = max((index for index, cell in enumerate(row) if cell), default=0)
        for index, cell in enumerate(row[: last + 1]):
            if isinstance(cell, Text):
                out.append_text(cell)
                size = cell.cell_len
            else:
                out.append(cell)
                size = cell_len(cell)
            if index < last:
                out.append(" " * (widths[index] - size) + GAP)
    console.print(out, soft_wrap=True)


def _one_line(cell: str | Text) -> str | Text:
    if isinstance(cell, str):
        return " ".join(cell.splitlines()) if "\n" in cell or "\r" in cell else cell
    return cell
