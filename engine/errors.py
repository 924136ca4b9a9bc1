"""Every exception formicary raises on purpose, in one shallow hierarchy.

Each class is rooted in the built-in it behaves like (``ValueError`` for bad input,
``LookupError`` for names that do not exist) and builds its message in ``__init__``, so the
CLI can print ``str(error)`` as the one line a user sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class FormicaryError(Exception):
    """Root of every error formicary raises deliberately."""


class DefinitionIssue(NamedTuple):
    """One problem found in a definition file (immutable; a named tuple rather than a frozen
    dataclass, so importing the errors, as every command does, costs no ``dataclasses``).

    Attributes:
        file: Path of the file as the user named it (relative where possible).
        line: 1-based line the problem is on, or 0 when the file as a whole is at fault.
        key_path: Dotted key path inside the file (``workflows.nightly.tasks.x.run``), or "".
        message: What is wrong, in words a user can act on.
    """

    file: str
    line: int
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else (f"{where}: {self.message}")
        )


class DefinitionError(FormicaryError, ValueError):
    """One or more definition files are invalid; carries every issue found."""

    def __init__(self, issues: Iterable[DefinitionIssue]) -> None:
        self.issues: tuple[DefinitionIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UsageError(FormicaryError, ValueError):
    """A command-line argument or API argument is invalid."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownProjectError(FormicaryError, LookupError):
    """A project name or path does not resolve to a project in the workspace."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        known_list = sorted(known)
        hint = f" (projects: {', '.join(known_list)})" if known_list else " (no projects found)"
        super().__init__(f"unknown project {name!r}{hint}")


class UnknownWorkflowError(FormicaryError, LookupError):
    """A workflow name is not defined in the project, or none was named among several."""

    def __init__(self, project: str, name: str | None, known: Iterable[str]) -> None:
        self.project = project
        self.name = name
        known_list = ", ".join(sorted(known))
        if name is None:
            message = f"project {project!r} has several workflows; name one of: {known_list}"
        else:
            message = f"project {project!r} has no workflow {name!r} (workflows: {known_list})"
        super().__init__(message)


class UnknownSessionError(FormicaryError, LookupError):
    """A session id does not exist in the store."""

    def __init__(self, session_id: object) -> None:
        self.session_id = session_id
        super().__init__(f"unknown session {session_id!r}")


class UnknownTaskError(FormicaryError, LookupError):
    """A task name does not exist in the workflow or session."""

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        from difflib import get_close_matches

        self.name = name
        close = get_close_matches(name, list(known), n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        super().__init__(f"unknown task {name!r}{hint}")


class DocsError(FormicaryError, ValueError):
    """Generated documentation may not be written where asked: the file there was written by
    hand (no marker line), it is a symbolic link, or it leads outside the project folder."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class TransitionError(FormicaryError, ValueError):
    """A control call asks for something the task or session's state does not allow."""

    def __init__(self, what: str, state: str, action: str) -> None:
        self.what = what
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} {what}: it is {state}")


class ResourceBusyError(FormicaryError, RuntimeError):
    """An allocation that could be satisfied, but not now: the pool is booked by others."""

    def __init__(self, pool: str, amount: int, available: int) -> None:
        self.pool = pool
        self.amount = amount
        self.available = available
        super().__init__(f"pool {pool!r}: {amount} requested, {available} available now")


class StoreVersionError(FormicaryError, RuntimeError):
    """The workspace's state.db was written by a newer formicary than this one."""

    def __init__(self, path: object, version: int, supported: int) -> None:
        self.version = version
        super().__init__(
            f"{path}: schema version {version} is newer than this formicary's ({supported}); "
            "upgrade formicary to read it"
        )


class SQLiteTooOldError(FormicaryError, RuntimeError):
    """The SQLite library this Python uses lacks what the store needs."""

    def __init__(self, found: str, needed: str) -> None:
        super().__init__(
            f"the store needs SQLite {needed} or newer, and this Python has SQLite {found}: "
            "use a Python built with a newer SQLite"
        )


class AdoptionNeeded(FormicaryError, RuntimeError):
    """A control call reached a session whose engine died mid-run: it must be adopted (run
    in the caller's process) first, which a front end asks its user about."""

    def __init__(self, session_id: str, owner_pid: int | None) -> None:
        self.session_id = session_id
        self.owner_pid = owner_pid
        super().__init__(
            f"session {session_id}: its engine (pid {owner_pid}) stopped; adopt it to go on"
        )
