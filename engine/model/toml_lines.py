"""Find the line a TOML key path is written on, for error messages.

tomllib/tomli return plain dicts without positions. This module re-reads the text just far
enough to know where each table header and each ``key = value`` starts, skipping multi-line
strings and values that span lines. It runs only when a file has problems to report.

Nothing here recurses, so it also finds the line of a file nested too deep for the parser
(:func:`nesting_line`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

KeyPath = tuple[str, ...]
_RECORDED_PARTS = 128
"""Key paths are recorded this many parts deep at most: error paths are far shorter, and
recording every prefix of a key of thousands of parts would take quadratic time."""

_KEY_PART = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*')


def _split_key(text: str) -> KeyPath | None:
    """Split a dotted TOML key (``a."b.c".d``) into its parts; None if it is not a key."""
    parts: list[str] = []
    position = 0
    while True:
        match = _KEY_PART.match(text, position)
        if not match:
            return None
        token = match.group(1)
        if token.startswith('"'):
            try:
                token = json.loads(token)
            except ValueError:
                token = token[1:-1]
        elif token.startswith("'"):
            token = token[1:-1]
        parts.append(token)
        position = match.end()
        if position >= len(text):
            return tuple(parts)
        if text[position] != ".":
            return None
        position += 1


class _Scanner:
    """Tracks strings and brackets across lines so only real keys are recorded."""

    def __init__(self) -> None:
        self.depth = 0
        self.peak = 0
        self.multiline: str | None = None

    def feed(self, text: str, start: int = 0) -> None:
        """Consume ``text[start:]``, updating bracket depth and multi-line string state."""
        i = start
        n = len(text)
        while i < n:
            if self.multiline:
                end = text.find(self.multiline, i)
                if end < 0:
                    return
                i = end + 3
                self.multiline = None
                continue
            char = text[i]
            if char == "#":
                return
            if char in "\"'":
                triple = text[i : i + 3]
                if triple in ('"""', "'''"):
                    self.multiline = triple
                    i += 3
                    continue
                i = self._skip_string(text, i, char)
                continue
            if char in "[{":
                self.depth += 1
                self.peak = max(self.peak, self.depth)
            elif char in "]}":
                self.depth = max(0, self.depth - 1)
            i += 1

    @staticmethod
    def _skip_string(text: str, i: int, quote: str) -> int:
        i += 1
        while i < len(text):
            if quote == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == quote:
                return i + 1
            i += 1
        return i


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every table header and key path written in ``text`` to its 1-based line."""
    result: dict[KeyPath, int] = {}
    for number, path, _ in _lines(text):
        if path is not None:
            _record(result, path, number)
    return result


def nesting_line(text: str, limit: int) -> int:
    """The first line on which tables and arrays nest deeper than ``limit`` (a dotted key's
    parts each count as a table, and each open ``[`` or ``{`` of a value as a level
    below its key), or 0 when none does."""
    for number, _, depth in _lines(text):
        if depth > limit:
            return number
    return 0


def _lines(text: str) -> Iterator[tuple[int, KeyPath | None, int]]:
    """``(line number, key path written on it or None, deepest nesting reached on it)``
    for every line that is not blank or a comment."""
    table: KeyPath = ()
    scanner = _Scanner()
    base = 0
    for number, line in enumerate(text.splitlines(), start=1):
        scanner.peak = scanner.depth
        if scanner.multiline or scanner.depth:
            scanner.feed(line)
            yield number, None, base + scanner.peak - 1
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            array = stripped.startswith("[[")
            inner = stripped[2:] if array else stripped[1:]
            closing = inner.find("]]" if array else "]")
            key = _split_key(inner[:closing].strip()) if closing >= 0 else None
            if key is not None:
                table = key
            yield number, key, len(table)
            continue
        equals = _find_equals(line)
        if equals < 0:
            continue
        key = _split_key(line[:equals].strip())
        path = None if key is None else table + key
        base = len(table) + (len(key) if key else 1)
        scanner.feed(line, equals + 1)
        yield number, path, base + scanner.peak - 1


def _find_equals(line: str) -> int:
    """Index of the ``=`` that ends the key, ignoring ``=`` inside quoted key parts."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "=":
            return i
    return -1


def _record(result: dict[KeyPath, int], path: KeyPath, number: int) -> None:
    for length in range(1, min(len(path), _RECORDED_PARTS) + 1):
        result.setdefault(path[:length], number)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """The line of ``path`` or of its nearest written ancestor; 0 when none is written."""
    for length in range(len(path), 0, -1):
        found = lines.get(path[:length])
        if found is not None:
            return found
    return 0
