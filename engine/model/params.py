"""Workflow parameters: ``{name}`` placeholders in commands, their values, and overrides.

A placeholder is ``{identifier}`` not preceded by ``$`` (so the shell's ``${HOME}`` is left
alone); ``{{`` and ``}}`` stand for literal braces. Values are never pasted into a shell
command: :mod:`formicary.model.shell_params` passes them as environment variables, so a parameter
can never inject a command. Here they are substituted as text, into a callable's arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from formicary.errors import UsageError
from formicary.model.shell_params import check_value

ParamValue = str | int | float | bool

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """Names of the placeholders in ``template``, in order of first appearance."""
    if "{" not in template:
        return []
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(template):
        if match.group(1):
            seen.setdefault(match.group(1))
    return list(seen)


def format_value(value: ParamValue) -> str:
    """A parameter value as text: booleans as TOML writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(template: str, values: Mapping[str, ParamValue]) -> str:
    """Substitute ``values`` into ``template`` as text (never for shell commands).

    Args:
        template: Text with ``{name}`` placeholders.
        values: A value for every placeholder.

    Raises:
        KeyError: A placeholder has no value (the loader makes this impossible for specs).
    """
    if "{" not in template and "}" not in template:
        return template

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        return format_value(values[name])

    return _TOKEN.sub(substitute, template)


def render_args(args: Mapping[str, Any], values: Mapping[str, ParamValue]) -> dict[str, Any]:
    """Substitute parameters into the string values of a callable's arguments (unquoted)."""
    return {
        key: render(value, values) if isinstance(value, str) else value
        for key, value in args.items()
    }


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``["k=v", ...]`` from the command line into a dict.

    Raises:
        UsageError: An item has no ``=`` or an empty name.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE")
        result[name.strip()] = value
    return result


def resolve(
    declared: Mapping[str, ParamValue], overrides: Mapping[str, Any]
) -> dict[str, ParamValue]:
    """The workflow's parameters with ``overrides`` applied.

    Text overrides are converted to the type of the declared default (``rows=500`` becomes
    the integer 500 when ``rows`` defaults to an integer).

    Raises:
        UsageError: An override names an undeclared parameter or does not fit its type.
    """
    result: dict[str, ParamValue] = dict(declared)
    for name, raw in overrides.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"--param {name}: unknown parameter (parameters: {known})")
        result[name] = _coerce(name, raw, declared[name])
    for name, value in result.items():
        if isinstance(value, str):
            check_value(name, value)
    return result


def _coerce(name: str, raw: Any, default: ParamValue) -> ParamValue:
    if not isinstance(raw, str):
        if isinstance(raw, type(default)) and not (
            isinstance(raw, bool) and not isinstance(default, bool)
        ):
            return raw
        raw = format_value(raw)
    text: str = raw
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[type(default)]
        raise UsageError(f"--param {name}={text}: expected {kind}") from None
    return text
