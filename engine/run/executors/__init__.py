"""Executors run one attempt of a task. They are a small protocol so others can follow.

The scheduler decides when an attempt starts and why it stops early (timeout, cancel); an
executor only starts it and hands back an asyncio future of its :class:`ExitStatus`,
reports its process id, and streams its output. Cancelling the future stops the attempt:
the future must not finish before the work has really stopped, unless the executor says
(``interruptible``) that it cannot stop it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

_EMPTY: Mapping[str, Any] = MappingProxyType({})

OutputSink = Callable[[list[str]], None]
"""Receives output lines (without newlines) as they arrive."""


class Job(NamedTuple):
    """Everything an executor needs to run one attempt (immutable; a tuple because one is
    built per attempt on the scheduler's hot path).

    Attributes:
        session: Session id.
        task: Task name.
        attempt: Attempt number, from 1.
        kind: ``"shell"`` or ``"python"``.
        target: The rendered shell command, or ``module:function``.
        cwd: The project folder.
        log_path: File the attempt's output is written to (created on first output).
        args: Keyword arguments of a callable.
        env: The whole environment of a shell task (empty: the engine's own).
        priority: The task's priority rank (0 critical .. 4 background), for executors
            that hand attempts to a scheduler of their own.
        resources: What the task books from its pools (formicary enforces the pools itself;
            a cluster executor may also pass them on where its workers declare them).
    """

    session: str
    task: str
    attempt: int
    kind: str
    target: str
    cwd: Path
    log_path: str
    args: Mapping[str, Any] = _EMPTY
    env: Mapping[str, str] = _EMPTY
    priority: int = 2
    resources: Mapping[str, int] = _EMPTY


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How an attempt's work ended on its own.

    ``exit_code`` is the process's code (negative: killed by that signal); a callable's is 0
    when it returned and 1 when it raised. ``error`` describes a failure in words.
    ``worker`` names the machine or cluster worker it ran on, when not this process;
    ``lost`` says the worker went away mid-attempt (the outcome is then ``lost``, retried by
    the task's policy, and ``exit_code`` means nothing).
    """

    exit_code: int
    error: str = ""
    value: Any = None
    worker: str | None = None
    lost: bool = False

    @property
    def ok(self) -> bool:
        """True when the attempt succeeded."""
        return self.exit_code == 0


class StartSink(Protocol):
    """Told once an attempt runs: its process id (None when it has no local process of its
    own) and, for executors that run it elsewhere, the worker's address."""

    def __call__(self, pid: int | None, worker: str | None = None) -> None: ...


class Executor(Protocol):
    """Runs attempts. ``run`` is cancelled to stop one; it must not return before the work
    has really stopped (or, where it cannot be stopped, say so with ``interruptible``)."""

    name: str

    def interruptible(self, job: Job) -> bool:
        """Whether cancelling ``job`` really stops its work."""
        ...

    def submit(
        self, job: Job, on_start: StartSink, output: OutputSink
    ) -> asyncio.Future[ExitStatus]:
        """Start ``job`` on the running loop; call ``on_start(pid)`` once it runs (pid None
        when it has no process of its own here; ``worker=`` where it runs elsewhere) and
        ``output(lines)`` as it prints."""
        ...

    async def close(self) -> None:
        """Release whatever the executor holds."""
        ...
