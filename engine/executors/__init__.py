"""Executors run one attempt of a task. They are a small protocol so others can follow.

The scheduler decides when an attempt starts and why it stops early (timeout, cancel); an
executor only runs it, reports its process id, streams its output, and, when its asyncio
task is cancelled, makes sure nothing it started is still alive before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

OutputSink = Callable[[list[str]], None]
"""Receives output lines (without newlines) as they arrive."""


@dataclass(frozen=True, slots=True)
class Job:
    """Everything an executor needs to run one attempt.

    Attributes:
        session: Session id.
        task: Task name.
        attempt: Attempt number, from 1.
        kind: ``"shell"`` or ``"python"``.
        target: The rendered shell command, or ``module:function``.
        args: Keyword arguments of a callable.
        cwd: The project folder.
        env: Variables added to the engine's environment.
        log_path: File the attempt's output is written to.
    """

    session: str
    task: str
    attempt: int
    kind: str
    target: str
    cwd: Path
    log_path: Path
    args: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How an attempt's work ended on its own.

    ``exit_code`` is the process's code (negative: killed by that signal); a callable's is 0
    when it returned and 1 when it raised. ``error`` describes a failure in words.
    """

    exit_code: int
    error: str = ""
    value: Any = None
    worker: str | None = None

    @property
    def ok(self) -> bool:
        """True when the attempt succeeded."""
        return self.exit_code == 0


class Executor(Protocol):
    """Runs attempts. ``run`` is cancelled to stop one; it must not return before the work
    has really stopped (or, where it cannot be stopped, say so with ``interruptible``)."""

    name: str

    def interruptible(self, job: Job) -> bool:
        """Whether cancelling ``job`` really stops its work."""
        ...

    async def run(
        self, job: Job, on_start: Callable[[int | None], None], output: OutputSink
    ) -> ExitStatus:
        """Run ``job``; call ``on_start(pid)`` once it runs and ``output(lines)`` as it prints."""
        ...

    async def close(self) -> None:
        """Release whatever the executor holds."""
        ...
