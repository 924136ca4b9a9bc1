"""Text that is safe to put into generated Markdown and Mermaid, whatever it contains.

Names and descriptions come from definition files (or from code) and are shown literally:
nothing in them may turn into Markdown formatting, HTML, a broken table row, a code fence
that ends early, or a Mermaid node that breaks the graph. Each helper here takes plain text
and returns source that renders as exactly that text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

# ASCII punctuation with a meaning somewhere in CommonMark or GitHub Markdown (emphasis, code,
# links, HTML, entities, tables, strikethrough, math, headings). Any of them may be
# backslash-escaped, and then renders as itself. ``>`` needs it only at a line start (a
# quote), ``_`` only where it is not inside a word (``snake_case`` cannot start emphasis).
_INLINE_SPECIAL = re.compile(r"[\\`*\[\]<|~&!$#]|_")
# ``:name:`` is an emoji shortcode on GitHub: escape the colon that would open one.
_SHORTCODE = re.compile(r":(?=[A-Za-z0-9_+-]+:)")
# Characters that start a block (heading, quote, list, setext underline) at a line start.
_BLOCK_START = re.compile(r"^([-+=>#])|^(\d+)([.)])")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_BACKTICKS = re.compile(r"`+")

# Characters shown as themselves inside a quoted Mermaid label; everything else becomes an
# entity code (``#quot;``, ``#35;``), which Mermaid turns back into the character.
_MERMAID_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:/+=?@'-"
)


def md_text(text: str) -> str:
    """``text`` as Markdown that renders literally, on one line.

    Special characters are backslash-escaped, a block marker at the start is escaped, and
    line breaks become ``<br>`` so the text can sit in a paragraph, heading or table cell.
    Surrounding whitespace is dropped (Markdown would drop it anyway).
    """
    lines = _NEWLINES.split(text.strip())
    escaped = [_SHORTCODE.sub(r"\\:", _INLINE_SPECIAL.sub(_escape_inline, line)) for line in lines]
    joined = "<br>".join(escaped)
    return _BLOCK_START.sub(_escape_block_start, joined, count=1)


def _escape_inline(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "_":
        text, at = match.string, match.start()
        inside_word = 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum()
        if inside_word:
            return char
    return "\\" + char


def _escape_block_start(match: re.Match[str]) -> str:
    if match.group(1):
        return "\\" + match.group(1)
    return f"{match.group(2)}\\{match.group(3)}"


def md_code(text: str, *, in_table: bool = True) -> str:
    """``text`` as inline code.

    Each line becomes its own code span (joined by ``<br>``); a span is delimited by more
    backticks than the longest run inside it. In a table cell (``in_table``) pipes are
    escaped, which GitHub tables undo even inside code.
    """
    spans = []
    for line in _NEWLINES.split(text):
        if not line:
            continue
        fence = "`" * (max((len(run) for run in _BACKTICKS.findall(line)), default=0) + 1)
        padded = line
        if line.startswith("`") or line.endswith("`") or (line[0] == " " and line[-1] == " "):
            padded = f" {line} "
        escaped = padded.replace("|", "\\|") if in_table else padded
        spans.append(f"{fence}{escaped}{fence}")
    return "<br>".join(spans)


def code_block(lines: Iterable[str], language: str = "") -> list[str]:
    """Lines of a fenced code block around ``lines``, fenced longer than any backtick run."""
    body = [_NEWLINES.sub(" ", line) for line in lines]
    longest = max((len(run) for line in body for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *body, fence]


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub table; cells must already be escaped (:func:`md_text`, :func:`md_code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell or " " for cell in row) + " |" for row in rows)
    return lines


def mermaid_label(text: str) -> str:
    """``text`` as a double-quoted Mermaid label that cannot end early or mean anything."""
    out = []
    for char in text:
        if char in _MERMAID_SAFE or (not char.isascii() and _is_word_char(char)):
            out.append(char)
        elif char == '"':
            out.append("#quot;")
        else:
            out.append(f"#{ord(char)};")
    return '"' + "".join(out) + '"'


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def mermaid_flowchart(
    nodes: Sequence[str], dependencies: Mapping[str, Sequence[str]], direction: str = "LR"
) -> list[str]:
    """A Mermaid flowchart of a DAG: node ids ``t0, t1, ...`` in the order of ``nodes``, each
    labelled with its real name, and an edge from every dependency to its dependent."""
    ids = {name: f"t{index}" for index, name in enumerate(nodes)}
    lines = [f"flowchart {direction}"]
    lines.extend(f"    {ids[name]}[{mermaid_label(name)}]" for name in nodes)
    for name in nodes:
        lines.extend(f"    {ids[dep]} --> {ids[name]}" for dep in dependencies.get(name, ()))
    return lines
