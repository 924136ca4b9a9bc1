"""Parameters in shell commands: placeholders become quoted references to environment variables.

A value is never pasted into a command's text. Each ``{name}`` placeholder of a ``run``
template is replaced by a reference to ``$FORMICARY_PARAM_name``, quoted for the context the
placeholder sits in, and the value travels in the task's environment. The shell expands a
variable once and never parses its result as code, so no value (quotes, ``$(…)``, backticks,
newlines, a heredoc's delimiter) can run a command, whatever context this module's reading of
the template assigns to the placeholder: a wrong reading could only change the text printed.

The reading follows the POSIX shell's grammar far enough to print each value exactly:

========================  =====================================  =========================
context                   example                                reference
========================  =====================================  =========================
unquoted (also ``$(…)``)  ``echo {v}``, ``--x={v}``              ``"${FORMICARY_PARAM_v}"``
double quotes             ``echo "v={v}"``                       ``${FORMICARY_PARAM_v}``
single quotes             ``echo 'v={v}'``                       ``'"${…}"'`` (quote closed)
heredoc body              ``cat <<EOF`` … ``{v}`` … ``EOF``      ``${FORMICARY_PARAM_v}``
comment                   ``# {v}``                              ``${FORMICARY_PARAM_v}``
========================  =====================================  =========================

Three contexts cannot print a value safely and are refused by ``validate``: arithmetic
``$((…))`` (bash evaluates a variable's text there, array subscripts included), the body of a
heredoc whose delimiter is quoted (nothing expands in it), and a heredoc's delimiter. A
backslash right before a placeholder is a literal backslash.

What no template can be protected from is a command that parses text again: ``eval``,
``sh -c "…{v}…"``, ``ssh host "…"``. There the value is code by the author's choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from formicary.errors import UsageError

ENV_PREFIX = "FORMICARY_PARAM_"

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MARK = "\x00"  # stands for a placeholder while the template is read; never in a command

# How a placeholder reads in each context; None marks a context that cannot be made safe.
PLAIN, DOUBLE, SINGLE, HEREDOC, COMMENT = "plain", "double", "single", "heredoc", "comment"
ARITHMETIC, QUOTED_HEREDOC, DELIMITER = "arithmetic", "quoted-heredoc", "heredoc-delimiter"

_UNSAFE = {
    ARITHMETIC: "is inside $((…)), where a shell may evaluate a value as code; assign it to a "
    "variable checked as a number first",
    QUOTED_HEREDOC: "is inside a heredoc with a quoted delimiter, where nothing is substituted; "
    "unquote the delimiter",
    DELIMITER: "is a heredoc's delimiter; use a fixed word",
}


class UnsafePlaceholder(ValueError):
    """A placeholder sits where no value can be substituted safely."""

    def __init__(self, name: str, context: str) -> None:
        super().__init__(f"placeholder {{{name}}} {_UNSAFE[context]}")
        self.name = name
        self.context = context


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one placeholder was found: its context and whether a backslash precedes it."""

    context: str
    escaped: bool = False


def env_name(param: str) -> str:
    """The environment variable that carries parameter ``param``."""
    return ENV_PREFIX + param


def check_value(name: str, text: str) -> None:
    """Refuse a value no process can be given: a NUL byte or a lone surrogate.

    Raises:
        UsageError: Naming the parameter.
    """
    if "\x00" in text:
        raise UsageError(f"--param {name}: contains a NUL character, which no command can take")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"--param {name}: is not valid Unicode (a lone surrogate)") from None


def unsafe_placeholders(template: str) -> list[UnsafePlaceholder]:
    """Every placeholder of ``template`` in a context that cannot be made safe, in order."""
    if "{" not in template:
        return []
    names, slots = _read(template)
    return [
        UnsafePlaceholder(name, slot.context)
        for name, slot in zip(names, slots, strict=True)
        if slot.context in _UNSAFE
    ]


def render_command(template: str, values: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The command to run for ``template`` and the environment variables it needs.

    Args:
        template: A ``run`` command with ``{name}`` placeholders.
        values: Each placeholder's value, as text.

    Raises:
        UnsafePlaceholder: A placeholder is in a context that cannot be made safe (the loader
            refuses such templates, so specs never get here).
        KeyError: A placeholder has no value.
    """
    if "{" not in template and "}" not in template:
        return template, {}
    _, slots = _read(template)
    env: dict[str, str] = {}
    parts: list[str] = []
    position = 0
    index = 0
    for match in _TOKEN.finditer(template):
        parts.append(template[position : match.start()])
        position = match.end()
        name = match.group(1)
        if name is None:
            parts.append(match.group(0)[0])
            continue
        slot = slots[index]
        index += 1
        if slot.context in _UNSAFE:
            raise UnsafePlaceholder(name, slot.context)
        variable = env_name(name)
        env[variable] = values[name]
        if slot.escaped:
            parts.append("\\")  # doubles the backslash before it: a literal backslash
        parts.append(_reference(variable, slot.context))
    parts.append(template[position:])
    return "".join(parts), env


def _reference(variable: str, context: str) -> str:
    if context == PLAIN:
        return f'"${{{variable}}}"'
    if context == SINGLE:
        return f"'\"${{{variable}}}\"'"
    return f"${{{variable}}}"


def _read(template: str) -> tuple[list[str], list[_Slot]]:
    """The placeholders of ``template`` in order, and the context of each."""
    names: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        pieces.append(template[position : match.start()].replace(_MARK, ""))
        position = match.end()
        if match.group(1) is None:
            pieces.append(match.group(0)[0])
        else:
            names.append(match.group(1))
            pieces.append(_MARK)
    pieces.append(template[position:].replace(_MARK, ""))
    slots = _Reader("".join(pieces)).slots()
    return names, slots


# Frames of the reader's stack.
_CODE, _SUBST, _BACKTICK, _DQ, _SQ, _PARAM, _ARITH, _COMMENT, _BODY = range(9)
_WORD_END = frozenset(" \t\n;&|<>()")
_WORD_START = frozenset(" \t\n;&|()")


class _Reader:
    """A single pass over a command that notes the context of each placeholder mark."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.stack: list[int] = [_CODE]
        self.depth: list[int] = [0]  # open parentheses per frame ($(…) and $((…)))
        self.found: list[_Slot] = []
        self.heredocs: list[tuple[str, bool, bool]] = []  # delimiter, quoted, strip tabs

    def slots(self) -> list[_Slot]:
        text = self.text
        while self.i < len(text):
            top = self.stack[-1]
            if top in (_CODE, _SUBST, _BACKTICK):
                self._code()
            elif top == _DQ:
                self._double()
            elif top == _SQ:
                self._single()
            elif top == _PARAM:
                self._param()
            elif top == _ARITH:
                self._arith()
            elif top == _COMMENT:
                self._comment()
            else:
                self._body()
        return self.found

    # -- helpers ------------------------------------------------------------------------------

    def _mark(self, *, escaped: bool = False) -> None:
        self.found.append(_Slot(self._context(), escaped))

    def _context(self) -> str:
        stack = self.stack
        if _ARITH in stack:
            return ARITHMETIC
        for frame in reversed(stack):
            if frame == _SQ:
                return SINGLE
            if frame == _COMMENT:
                return COMMENT
            if frame == _DQ:
                return DOUBLE
            if frame == _BODY:
                return HEREDOC
            if frame in (_CODE, _SUBST, _BACKTICK):
                return PLAIN
        return PLAIN

    def _push(self, frame: int) -> None:
        self.stack.append(frame)
        self.depth.append(0)

    def _pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            self.depth.pop()

    def _backslash(self) -> None:
        """``\\`` escapes the next character; before a mark it makes the mark 'escaped'."""
        nxt = self.text[self.i + 1 : self.i + 2]
        if nxt == _MARK:
            self.i += 2
            self._mark(escaped=True)
        else:
            self.i += 2

    def _dollar(self) -> bool:
        """Open ``$((``, ``$(`` or ``${``; True when one was opened."""
        text, i = self.text, self.i
        if text.startswith("$((", i):
            self._push(_ARITH)
            self.i += 3
            return True
        if text.startswith("$(", i):
            self._push(_SUBST)
            self.i += 2
            return True
        if text.startswith("${", i):
            self._push(_PARAM)
            self.i += 2
            return True
        return False

    # -- contexts -----------------------------------------------------------------------------

    def _code(self) -> None:
        text, i = self.text, self.i
        char = text[i]
        top = self.stack[-1]
        if char == _MARK:
            self._mark()
            self.i += 1
        elif char == "\\":
            if top == _BACKTICK and text[i + 1 : i + 2] == "`":
                self.i += 2  # an escaped backtick nests a command; read it as text
            else:
                self._backslash()
        elif char == "'":
            self._push(_SQ)
            self.i += 1
        elif char == '"':
            self._push(_DQ)
            self.i += 1
        elif char == "`":
            if top == _BACKTICK:
                self._pop()
            else:
                self._push(_BACKTICK)
            self.i += 1
        elif char == "$" and self._dollar():
            pass
        elif char == "(":
            self.depth[-1] += 1
            self.i += 1
        elif char == ")":
            if self.depth[-1]:
                self.depth[-1] -= 1
            elif top == _SUBST:
                self._pop()
            self.i += 1
        elif char == "#" and (i == 0 or text[i - 1] in _WORD_START):
            self._push(_COMMENT)
            self.i += 1
        elif char == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            self._heredoc_operator()
        elif char == "<" and text.startswith("<<<", i):
            self.i += 3
        elif char == "\n" and self.heredocs and _BODY not in self.stack:
            self.i += 1
            self._push(_BODY)
        else:
            self.i += 1

    def _heredoc_operator(self) -> None:
        text = self.text
        self.i += 2
        strip = text.startswith("-", self.i)
        if strip:
            self.i += 1
        while self.i < len(text) and text[self.i] in " \t":
            self.i += 1
        word: list[str] = []
        quoted = False
        quote = ""
        while self.i < len(text):
            char = text[self.i]
            if quote:
                if char == quote:
                    quote = ""
                elif char == _MARK:
                    self.found.append(_Slot(DELIMITER))
                else:
                    word.append(char)
                self.i += 1
                continue
            if char in _WORD_END:
                break
            if char in "'\"":
                quote, quoted = char, True
            elif char == "\\":
                quoted = True
                self.i += 1
                if self.i < len(text) and text[self.i] != _MARK:
                    word.append(text[self.i])
                elif self.i < len(text):
                    self.found.append(_Slot(DELIMITER))
            elif char == _MARK:
                self.found.append(_Slot(DELIMITER))
            else:
                word.append(char)
            self.i += 1
        self.heredocs.append(("".join(word), quoted, strip))

    def _expansion(self, char: str) -> bool:
        """Read what expands alike in double quotes, ``${…}`` and an unquoted heredoc body: a
        mark, a backslash escape, a backquoted command, ``$(``, ``$((`` or ``${``. True when
        ``char`` started one (and it was read)."""
        if char == _MARK:
            self._mark()
            self.i += 1
            return True
        if char == "\\":
            self._backslash()
            return True
        if char == "`":
            self._push(_BACKTICK)
            self.i += 1
            return True
        return char == "$" and self._dollar()

    def _double(self) -> None:
        char = self.text[self.i]
        if self._expansion(char):
            return
        if char == '"':
            self._pop()
        self.i += 1

    def _single(self) -> None:
        char = self.text[self.i]
        if char == _MARK:
            self._mark()
        elif char == "'":
            self._pop()
        self.i += 1

    def _param(self) -> None:
        char = self.text[self.i]
        if self._expansion(char):
            return
        inside_double = self.stack[-2] in (_DQ, _BODY) if len(self.stack) > 1 else False
        if char == "}":
            self._pop()
        elif char == '"':
            self._push(_DQ)
        elif char == "'" and not inside_double:
            self._push(_SQ)
        self.i += 1

    def _arith(self) -> None:
        text, i = self.text, self.i
        char = text[i]
        if char == _MARK:
            self._mark()
        elif char == "(":
            self.depth[-1] += 1
        elif char == ")":
            if self.depth[-1]:
                self.depth[-1] -= 1
            elif text.startswith("))", i):
                self._pop()
                self.i += 2
                return
        self.i += 1

    def _comment(self) -> None:
        char = self.text[self.i]
        if char == _MARK:
            self._mark()
        elif char == "\n":
            self._pop()
            return  # the newline is read by the code around the comment (it may start a body)
        self.i += 1

    def _body(self) -> None:
        """A heredoc body: checks each line against the delimiter, reads expansions if unquoted."""
        text = self.text
        delimiter, quoted, strip = self.heredocs[0]
        at_line_start = self.i == 0 or text[self.i - 1] == "\n"
        if at_line_start and self.stack[-1] == _BODY:
            end = text.find("\n", self.i)
            line = text[self.i : len(text) if end < 0 else end]
            if (line.lstrip("\t") if strip else line) == delimiter:
                self.i = len(text) if end < 0 else end + 1
                self.heredocs.pop(0)
                if not self.heredocs:
                    self._pop()
                return
        char = text[self.i]
        if quoted:
            if char == _MARK:
                self.found.append(_Slot(QUOTED_HEREDOC))
            self.i += 1
        elif not self._expansion(char):
            self.i += 1
