"""Cutting a task's output into lines for subscribers, in work linear in its size.

A line split across reads waits for its end. Joining the held pieces to every new chunk
(``(partial + chunk).split``) copies the whole line again on each read: a single 50 MB line
took 22 seconds, 100 MB took 105. Here the pieces of an unfinished line are kept in a list
and joined once, when its newline arrives; and only the first :data:`MAX_LINE` units of a
line are kept at all, so a line of any length costs bounded memory. A longer line reaches
the event bus and the panes cut and marked; the log file, written from the raw output
before it is split, keeps every byte.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

MAX_LINE = 64 * 1024
"""The longest line handed to subscribers: bytes of a process's output, characters of a
callable's printed text. Past it the line is cut and :func:`cut_mark` says so."""

LineSink = Callable[[list[str]], None]


def cut_mark(total: int, unit: str) -> str:
    """The text appended to a line cut at :data:`MAX_LINE` (``total`` its whole length)."""
    return f"… [line cut at {MAX_LINE} of {total} {unit}; the whole line is in the log file]"


def _head(data: bytes) -> str:
    """The first :data:`MAX_LINE` bytes of a cut line as text (a character split by the
    cut is dropped rather than shown as a replacement character)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data[:MAX_LINE], final=False)


class ByteLines:
    """Cuts a process's output (bytes) into lines for ``output``.

    Args:
        output: Receives each batch of complete lines, decoded, without ``\\n`` or ``\\r``.
    """

    __slots__ = ("_held", "_output", "_parts", "_size")

    def __init__(self, output: LineSink) -> None:
        self._output = output
        self._parts: list[bytes] = []
        self._held = 0  # bytes kept in _parts (at most MAX_LINE)
        self._size = 0  # bytes of the unfinished line seen so far (kept or not)

    @property
    def held(self) -> int:
        """Bytes of the unfinished line kept in memory (never more than :data:`MAX_LINE`)."""
        return self._held

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of output; hand on the lines it completes."""
        if b"\n" not in chunk:
            self._hold(chunk)
            return
        pieces = chunk.split(b"\n")
        tail = pieces.pop()
        if self._size:
            first = pieces[0]
            total = self._size + len(first)
            self._hold(first)
            pieces[0] = b"".join(self._parts)
            self._clear()
            if total > MAX_LINE:
                lines = [_head(pieces[0]) + cut_mark(total, "bytes")]
                lines.extend(self._decode(pieces[1:]))
            else:
                lines = self._decode(pieces)
        else:
            lines = self._decode(pieces)
        self._hold(tail)
        self._output(lines)

    def end(self) -> None:
        """The output ended: hand on its last line if it had no newline."""
        if self._size:
            total = self._size
            data = b"".join(self._parts)
            self._clear()
            if total > MAX_LINE:
                self._output([_head(data) + cut_mark(total, "bytes")])
            else:
                self._output([data.decode("utf-8", "replace").rstrip("\r")])

    @staticmethod
    def _decode(pieces: list[bytes]) -> list[str]:
        return [
            piece.decode("utf-8", "replace").rstrip("\r")
            if len(piece) <= MAX_LINE
            else _head(piece) + cut_mark(len(piece), "bytes")
            for piece in pieces
        ]

    def _hold(self, data: bytes) -> None:
        if not data:
            return
        room = MAX_LINE - self._held
        if room > 0:
            kept = data if len(data) <= room else data[:room]
            self._parts.append(kept)
            self._held += len(kept)
        self._size += len(data)

    def _clear(self) -> None:
        self._parts = []
        self._held = 0
        self._size = 0


class TextLines:
    """Cuts a callable's printed text into lines, like :class:`ByteLines` for ``str``.

    Not thread-safe: its owner serialises ``feed`` and ``end``. Unlike :class:`ByteLines`
    it returns the completed lines instead of handing them on, so its owner can deliver
    them outside its lock.
    """

    __slots__ = ("_held", "_parts", "_size")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._held = 0
        self._size = 0

    @property
    def held(self) -> int:
        """Characters of the unfinished line kept (never more than :data:`MAX_LINE`)."""
        return self._held

    def feed(self, text: str) -> list[str]:
        """Take the next piece of text; the lines it completes (maybe none)."""
        if "\n" not in text:
            self._hold(text)
            return []
        pieces = text.split("\n")
        tail = pieces.pop()
        if self._size:
            total = self._size + len(pieces[0])
            self._hold(pieces[0])
            pieces[0] = "".join(self._parts)
            self._clear()
            lines = [self._line(pieces[0], total)]
            lines.extend(self._line(piece, len(piece)) for piece in pieces[1:])
        else:
            lines = [self._line(piece, len(piece)) for piece in pieces]
        self._hold(tail)
        return lines

    def end(self) -> list[str]:
        """The text ended: its last line if it had no newline (else nothing)."""
        if not self._size:
            return []
        total = self._size
        text = "".join(self._parts)
        self._clear()
        return [self._line(text, total)]

    @staticmethod
    def _line(text: str, total: int) -> str:
        if total <= MAX_LINE:
            return text
        return text[:MAX_LINE] + cut_mark(total, "characters")

    def _hold(self, text: str) -> None:
        if not text:
            return
        room = MAX_LINE - self._held
        if room > 0:
            kept = text if len(text) <= room else text[:room]
            self._parts.append(kept)
            self._held += len(kept)
        self._size += len(text)

    def _clear(self) -> None:
        self._parts = []
        self._held = 0
        self._size = 0
