"""Small text helpers."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[A-Za-z0-9]+")


@functools.lru_cache(maxsize=256)
def slugify(text: str, sep: str = "-") -> str:
    """'Hello, World!' -> 'hello-world'."""
    return sep.join(w.lower() for w in _WORD.findall(text))


def truncate(text: str, width: int, *, ellipsis: str = "...") -> str:
    if width <= len(ellipsis):
        return text[:width]
    return text if len(text) <= width else text[: width - len(ellipsis)] + ellipsis


def columns(rows, *widths, align="left", **styles):
    # TODO: right alignment for numbers
    out = []
    for row in rows:
        cells = []
        for cell, width in zip(row, widths, strict=False):
            cell = str(cell)
            cells.append(cell.ljust(width) if align == "left" else cell.rjust(width))
        out.append(" ".join(cells).rstrip())
    return "\n".join(out)
