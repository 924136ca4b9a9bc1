"""The MCP tools' argument schemas, their ranges and hints, and the checker that holds every
call to them.

Each tool's arguments are a JSON Schema object (``additionalProperties: false``: an
argument a tool does not know is refused, never ignored). Every integer has a documented
range (the command line's, from :mod:`formicary.model.limits`), so a huge number is an
``invalid_arguments`` answer naming the argument rather than an overflow deep in the store.
The tool annotations (MCP's ``readOnlyHint``, ``destructiveHint``, ``idempotentHint``,
``openWorldHint``) let a client ask a person before a call that changes or ends something.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from formicary.model.limits import MAX_COUNT, MAX_PARALLEL, MAX_SESSION_ID

__all__ = [
    "MAX_COUNT",
    "MAX_PARALLEL",
    "MAX_SESSION_ID",
    "READ_ONLY",
    "SESSION",
    "STR",
    "TASK",
    "ToolError",
    "check_arguments",
    "hints",
    "integer",
    "schema",
]


class ToolError(Exception):
    """A tool's structured failure: a code, a one-line message, and maybe details."""

    def __init__(self, code: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(message)


def schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A tool's arguments: an object of ``properties``, no others allowed."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def integer(minimum: int, maximum: int, description: str) -> dict[str, Any]:
    """An integer argument with its range."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}


STR = {"type": "string", "minLength": 1}
SESSION = {
    "type": ["string", "integer"],
    "minimum": 1,
    "maximum": MAX_SESSION_ID,
    "maxLength": 20,
    "description": f"session id: a number from 1 to {MAX_SESSION_ID}, or its digits as text",
}
TASK = {**STR, "description": "task name"}


def hints(
    *, read_only: bool = False, destructive: bool = False, idempotent: bool = False
) -> dict[str, bool]:
    """MCP tool annotations; no tool reaches beyond the workspace (``openWorldHint``)."""
    return {
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": False,
    }


READ_ONLY = hints(read_only=True, idempotent=True)


# -- the checker -----------------------------------------------------------------------

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
}


def check_arguments(schema: Mapping[str, Any], args: Mapping[str, Any], at: str = "") -> None:
    """Check ``args`` against the subset of JSON Schema the tools use.

    Raises:
        ToolError: ``invalid_arguments``, naming the argument at fault.
    """
    if not isinstance(args, Mapping):
        raise ToolError("invalid_arguments", f"{at or 'arguments'}: must be an object")
    properties: Mapping[str, Any] = schema.get("properties", {})
    for key in schema.get("required", ()):
        if key not in args:
            raise ToolError("invalid_arguments", f"{at}{key}: required")
    extra = schema.get("additionalProperties", True)
    for key, value in args.items():
        where = f"{at}{key}"
        if key in properties:
            _check_value(properties[key], value, where)
        elif extra is False:
            known = ", ".join(properties) or "none"
            raise ToolError("invalid_arguments", f"{where}: unknown argument (known: {known})")
        elif isinstance(extra, Mapping):
            _check_value(extra, value, where)


def _check_value(schema: Mapping[str, Any], value: Any, where: str) -> None:
    wanted = schema.get("type")
    kinds: list[str] = []
    if wanted is not None:
        kinds = [wanted] if isinstance(wanted, str) else list(wanted)
        if not any(_TYPES[kind](value) for kind in kinds):
            raise ToolError("invalid_arguments", f"{where}: must be {' or '.join(kinds)}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(choice) for choice in schema["enum"])
        raise ToolError("invalid_arguments", f"{where}: must be one of {choices}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise ToolError("invalid_arguments", f"{where}: must not be empty")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        limit = schema["maxLength"]
        raise ToolError("invalid_arguments", f"{where}: must be at most {limit} characters")
    number = _number(value, "integer" in kinds)
    if number is not None:
        if "minimum" in schema and number < schema["minimum"]:
            raise ToolError("invalid_arguments", f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and number > schema["maximum"]:
            raise ToolError("invalid_arguments", f"{where}: must be at most {schema['maximum']}")
    if isinstance(value, dict) and schema.get("type") == "object":
        check_arguments(schema, value, f"{where}.")


def _number(value: Any, integer_text: bool) -> int | float | None:
    """The value a range applies to: a number, or (for an argument that may be an integer
    written as text, a session id) the integer the text spells; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if integer_text and isinstance(value, str):
        try:
            return int(value)
        except ValueError:  # not digits (or too many to convert): not a number at all
            return None
    return None
