"""Find the line a TOML key path is written on, for error messages.

tomllib/tomli return plain dicts without positions. This module re-reads the text just far
enough to know where each table header and each ``key = value`` starts, skipping multi-line
strings and values that span lines. It runs only when a file has problems to report.
"""

from __future__ import annotations

import json
import re

KeyPath = tuple[str, ...]

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
    table: KeyPath = ()
    scanner = _Scanner()
    for number, line in enumerate(text.splitlines(), start=1):
        if scanner.multiline or scanner.depth:
            scanner.feed(line)
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
                _record(result, table, number)
            continue
        equals = _find_equals(line)
        if equals < 0:
            continue
        key = _split_key(line[:equals].strip())
        if key is not None:
            _record(result, table + key, number)
        scanner.feed(line, equals + 1)
    return result


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
    for length in range(1, len(path) + 1):
        result.setdefault(path[:length], number)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """The line of ``path`` or of its nearest written ancestor; 0 when none is written."""
    for length in range(len(path), 0, -1):
        found = lines.get(path[:length])
        if found is not None:
            return found
    return 0
