"""Host variables in a task's ``env``: ``${env:NAME}`` is read from formicary's environment.

A secret can stay out of the definition file: ``env = { DB_PASSWORD = "${env:DB_PASSWORD}" }``
gives the task the value of ``DB_PASSWORD`` in the environment formicary was started in. The
reference is resolved when a session's scheduler is built (a run, a resume, an adoption) and
only the reference is stored, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from formicary.errors import UsageError

REFERENCE = re.compile(r"\$\{env:([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def references(value: str) -> list[str]:
    """The host variable names ``value`` refers to, in order (possibly malformed)."""
    if "${env:" not in value:
        return []
    return REFERENCE.findall(value)


def bad_reference(value: str) -> str | None:
    """Why ``value``'s references cannot be resolved by any host, or None when they can."""
    for name in references(value):
        if not _NAME.fullmatch(name):
            return f"${{env:{name}}} does not name an environment variable"
    return None


def resolve(env: Mapping[str, str], host: Mapping[str, str], *, task: str = "") -> dict[str, str]:
    """``env`` with every ``${env:NAME}`` replaced by ``host[NAME]``.

    Raises:
        UsageError: A referenced variable is not set in ``host``.
    """
    if not any("${env:" in value for value in env.values()):
        return dict(env)
    resolved: dict[str, str] = {}
    for key, value in env.items():

        def lookup(match: re.Match[str], key: str = key) -> str:
            name = match.group(1)
            if name not in host:
                where = f"task {task}: " if task else ""
                raise UsageError(
                    f"{where}env {key}: ${{env:{name}}} is not set in formicary's environment"
                )
            return host[name]

        resolved[key] = REFERENCE.sub(lookup, value)
    return resolved
