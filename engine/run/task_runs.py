"""The records the scheduler keeps per task and per attempt, and the policies it applies:
retry delays and default parallelism. Mutable records live only inside the scheduler;
``RestoredTask`` and ``TaskView`` are the frozen ones that cross its boundary."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from formicary.model.records import TaskResult, TaskStatus
from formicary.model.specs import TaskSpec
from formicary.model.states import FINAL_TASK_STATES, FINE_TASK_STATES
from formicary.run.executors import ExitStatus, Job
from formicary.run.processes import signal_group

JITTER = 0.1
_STOP_REASONS = {
    "cancel": "cancelled by the user",
    "skip": "skipped by the user",
    "session": "session cancelled",
}


def default_max_parallel() -> int:
    """Parallelism when a workflow sets none: twice the cores, at least 4."""
    return max(4, 2 * (os.cpu_count() or 1))


def retry_delay(spec: TaskSpec, failures: int, rng: random.Random) -> float:
    """Seconds to wait before the retry after the ``failures``-th failed attempt.

    ``retry_delay * retry_backoff ** (failures - 1)``, with ±10% jitter, capped at
    ``retry_max_delay``.
    """
    base = spec.retry_delay * spec.retry_backoff ** (failures - 1)
    return min(spec.retry_max_delay, base * (1 + rng.uniform(-JITTER, JITTER)))


@dataclass(slots=True)
class Attempt:
    number: int
    job: Job
    interruptible: bool
    started_at: float
    future: asyncio.Future[ExitStatus] | None = None
    pid: int | None = None
    worker: str | None = None
    stop_reason: str | None = None
    timer: asyncio.TimerHandle | None = None
    deadline: float | None = None
    remaining: float | None = None
    stopped: bool = False
    announced: bool = False
    previous: TaskStatus = TaskStatus.READY

    def interrupt(self, reason: str) -> None:
        """Stop the attempt for ``reason`` (timeout, cancel, skip, session); once only."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.future is not None:
            self.future.cancel()

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """SIGSTOP the attempt's process group and suspend its timeout."""
        if self.pid is None or self.stopped or not signal_group(self.pid, signal.SIGSTOP):
            return
        self.stopped = True
        if self.timer is not None and self.deadline is not None and loop is not None:
            self.remaining = max(0.0, self.deadline - loop.time())
            self.timer.cancel()
            self.timer = None

    def resume(
        self, loop: asyncio.AbstractEventLoop | None, on_timeout: Callable[[Attempt], None]
    ) -> None:
        """SIGCONT what :meth:`stop` stopped, and start its timeout's clock again."""
        if not self.stopped or self.pid is None:
            return
        signal_group(self.pid, signal.SIGCONT)
        self.stopped = False
        if self.remaining is not None and loop is not None:
            self.deadline = loop.time() + self.remaining
            self.timer = loop.call_later(self.remaining, on_timeout, self)
            self.remaining = None


@dataclass(slots=True)
class TaskRun:
    spec: TaskSpec
    index: int
    state: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    budget_from: int = 0
    unmet: int = 0
    held: bool = False
    order: int = 0
    running: Attempt | None = None
    retry_timer: asyncio.TimerHandle | None = None
    history: list[TaskResult] = field(default_factory=list)

    def view(self) -> TaskView:
        """A snapshot of this task, as callers outside the scheduler see it."""
        spec = self.spec
        return TaskView(
            name=spec.name,
            state=self.state,
            attempts=self.attempts,
            held=self.held,
            priority=spec.priority.value,
            depends_on=spec.depends_on,
            resources=spec.resources,
            last=self.history[-1] if self.history else None,
            started_at=self.running.started_at if self.running else None,
        )

    def waiting_on(
        self,
        runs: Mapping[str, TaskRun],
        *,
        paused: bool,
        short_pools: list[str],
        at_max_parallel: str,
    ) -> str:
        """Why this task is not running, in words (empty when it runs or is final):
        ``runs`` are the session's tasks, ``short_pools`` the pools it does not fit in now,
        ``at_max_parallel`` what to say when the session's parallelism is used up ("")."""
        if self.state in FINAL_TASK_STATES or self.state is TaskStatus.RUNNING:
            return ""
        if self.held:
            return "held by the user"
        if self.state is TaskStatus.RETRYING:
            return "waiting out its retry delay"
        if self.unmet:
            pending = [d for d in self.spec.depends_on if runs[d].state not in FINE_TASK_STATES]
            return "waiting for " + ", ".join(pending)
        if paused:
            return "the session is paused"
        if short_pools:
            return "waiting for pool " + ", ".join(short_pools)
        return at_max_parallel or "about to start"


@dataclass(frozen=True, slots=True)
class RestoredTask:
    """A task's state as persisted, for :meth:`Scheduler.adopt`.

    ``lost_attempt`` is the number of an attempt that was running when its engine stopped.
    """

    state: TaskStatus
    attempts: int = 0
    budget_from: int = 0
    held: bool = False
    lost_attempt: int | None = None
    history: tuple[TaskResult, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as seen from outside at one moment."""

    name: str
    state: TaskStatus
    attempts: int
    held: bool
    priority: str
    depends_on: tuple[str, ...]
    resources: Mapping[str, int]
    last: TaskResult | None
    started_at: float | None
