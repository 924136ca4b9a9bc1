"""``formicary run PROJECT[:WORKFLOW]``: run a workflow headless.

On a terminal it shows a Rich live view (counts, running tasks, elapsed time) with a line per
finished task above it; otherwise it prints plain lines. Ctrl-C (SIGINT), SIGTERM or SIGHUP
cancels the session, waits until every process of it has ended, and exits 128+N.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from formicary.api.control import SessionHandle
from formicary.api.event_source import EventSource
from formicary.api.runtime import executors_for, start_session
from formicary.cli.output import make_console
from formicary.errors import UsageError
from formicary.model.definitions import display_path
from formicary.model.params import parse_overrides
from formicary.model.records import SessionStatus, TaskStatus
from formicary.model.targets import resolve_target
from formicary.run.event_data import as_task_state, starts_attempt
from formicary.run.events import Event, EventKind, Subscription
from formicary.run.executors import Executor
from formicary.run.signals import ENDING_SIGNALS, signal_exit_code, signal_reason
from formicary.tui.glyphs import STYLES, glyph
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

_REPORTED = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.RETRYING,
        TaskStatus.BLOCKED,
        TaskStatus.SKIPPED,
    }
)


def run(args: argparse.Namespace) -> int:
    """Resolve the target, run it, report, and return the exit code."""
    workspace = Path(args.workspace or ".")
    project, workflow = resolve_target(workspace, args.target)
    overrides = parse_overrides(args.param)
    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError(f"--max-parallel {args.max_parallel}: must be at least 1")
    console = make_console()
    live = console.is_terminal and not args.plain
    kind = args.executor or ("dask" if args.scheduler else workflow.executor)
    executors = executors_for(kind, args.scheduler)

    async def start_and_follow() -> int:
        await _connect(executors, args.scheduler)
        handle = start_session(
            project,
            workflow,
            overrides,
            workspace=workspace,
            max_parallel=args.max_parallel,
            persist=True,
            executors=executors,
            executor=kind,
            own_executors=True,
        )
        return await follow(handle, console, live)

    return asyncio.run(start_and_follow())


async def _connect(executors: Mapping[str, Executor], scheduler: str | None) -> None:
    """Reach a cluster executor's scheduler before the session starts, so a wrong address is
    one line of bad input rather than every task failing."""
    for executor in {id(e): e for e in executors.values()}.values():
        connect = getattr(executor, "connect", None)
        if connect is None:
            continue
        try:
            await connect()
        except (TimeoutError, OSError) as error:
            await executor.close()
            where = f"--scheduler {scheduler}" if scheduler else "the local Dask cluster"
            raise UsageError(f"{where}: cannot connect: {error}") from None


async def follow(
    handle: SessionHandle,
    console: Console,
    live: bool,
    before: Callable[[], None] | None = None,
    subscription: EventSource | None = None,
    front_end: str = "formicary run",
) -> int:
    """Report a session of this process until it finishes; SIGINT (Ctrl-C), SIGTERM or
    SIGHUP cancels it, ending every process of it, with ``cancelled: <front_end> got
    <SIGNAL>`` recorded on each task cancelled.

    ``before`` runs once the report is set up, so its effects are reported too; a
    ``subscription`` made earlier (by :func:`report_subscription`, before a control call
    that adopted the session) is reported from instead of a new one.

    Returns:
        0 when every task completed, 1 when something failed, 128+N after signal N (130 for
        SIGINT, 143 for SIGTERM, 129 for SIGHUP).
    """
    if subscription is None:
        subscription = report_subscription(handle)
    received: list[signal.Signals] = []
    pump: asyncio.Future[None] | None = None

    def interrupt(signum: signal.Signals) -> None:
        # Stop reporting; the ``finally`` below closes the session with the signal's reason
        # (ending every process of it) before the exit code says which signal it was.
        if not received:
            received.append(signum)
            console.print(f"[yellow]interrupted: cancelling the session… ({signum.name})[/]")
        if pump is not None:
            pump.cancel()

    loop = asyncio.get_running_loop()
    for signum in ENDING_SIGNALS:
        loop.add_signal_handler(signum, interrupt, signum)
    started = time.monotonic()
    total = len(handle.tasks())
    console.print(
        f"session {handle.session_id}: {handle.project}:{handle.workflow} ({total} tasks)"
    )
    report = _Reporter(handle, console, started)
    try:
        if before is not None:
            before()
        pump = asyncio.ensure_future(_pump_events(handle, subscription, report))
        if received:
            pump.cancel()  # a signal came while the report was set up
        # Waited for, not awaited: a signal cancels the pump, not this coroutine.
        if live:
            with Live(report, console=console, refresh_per_second=4):
                await asyncio.wait({pump})
        else:
            await asyncio.wait({pump})
        if not pump.cancelled():
            pump.result()  # an error of the report is raised here
    finally:
        if pump is not None:
            pump.cancel()  # (done already, unless this coroutine itself was cancelled)
        reason = signal_reason(front_end, received[0]) if received else "session cancelled"
        await handle.close(reason)
        for event in subscription.drain():
            report.event(event)
        report.flush()
        subscription.close()
        for signum in ENDING_SIGNALS:
            loop.remove_signal_handler(signum)
    report.summary()
    if received:
        return signal_exit_code(received[0])
    return 0 if handle.status is SessionStatus.COMPLETED else 1


def report_subscription(handle: SessionHandle) -> Subscription:
    """The events :func:`follow` reports, from now on."""
    return handle.subscribe(kinds=frozenset({EventKind.TASK_STATE, EventKind.SESSION_FINISHED}))


async def _pump_events(handle: SessionHandle, subscription: EventSource, report: _Reporter) -> None:
    while True:
        for event in subscription.drain():
            report.event(event)
        report.flush()
        if handle.finished:
            return
        await subscription.wait()


class _Reporter:
    """Turns events into lines and the live view."""

    def __init__(self, handle: SessionHandle, console: Console, started: float) -> None:
        self.handle = handle
        self.console = console
        self.started = started
        self.running: dict[str, tuple[int, float]] = {}
        # Off a terminal, lines go straight to the file: Rich's print cost a third of the
        # engine's time in a run of 10,000 short shell tasks, to print what it prints here.
        self._plain = None if console.is_terminal else console.file

    def event(self, event: Event) -> None:
        if event.kind is not EventKind.TASK_STATE or event.task is None:
            return
        data = as_task_state(event.data)
        state = TaskStatus(data["state"])
        if state is TaskStatus.RUNNING:
            if starts_attempt(data):  # the attempt really started
                self.running[event.task] = (event.attempt or 1, time.monotonic())
                if not self.console.is_terminal:
                    self._line(TaskStatus.RUNNING, event.task, f"attempt {event.attempt}")
            return
        began = self.running.pop(event.task, None)
        if state not in _REPORTED:
            return
        detail = data.get("reason", "")
        if state is TaskStatus.COMPLETED and began is not None:
            detail = f"in {time.monotonic() - began[1]:.1f}s"
            if began[0] > 1:
                detail += f" (attempt {began[0]})"
        if state is TaskStatus.FAILED and event.attempt:
            log = self.handle.log_path(event.task, event.attempt)
            detail = f"{detail} (log: {display_path(log)})"
        self._line(state, event.task, detail)

    def _line(self, state: TaskStatus, task: str, detail: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self._plain is not None:
            if detail:
                detail = f": {detail}" if state is not TaskStatus.COMPLETED else f" {detail}"
            self._plain.write(f"{stamp} {glyph(state)} {task} {state.value}{detail}\n")
            return
        text = Text(f"{stamp} ")
        text.append(f"{glyph(state)} {task}", style=STYLES[state])
        text.append(f" {state.value}")
        if detail:
            text.append(f": {detail}" if state is not TaskStatus.COMPLETED else f" {detail}")
        self.console.print(text)

    def flush(self) -> None:
        """Hand the plain lines written so far to the file (once per batch of events)."""
        if self._plain is not None:
            self._plain.flush()

    def __rich__(self) -> Group:
        """Rendered afresh at every refresh of the live view, so the clock keeps moving."""
        return self.render()

    def render(self) -> Group:
        counts = self.handle.counts()
        total = sum(counts.values())
        done = counts.get(TaskStatus.COMPLETED, 0)
        header = Text(f"{done}/{total} done", style="bold")
        for state in (
            TaskStatus.RUNNING,
            TaskStatus.FAILED,
            TaskStatus.RETRYING,
            TaskStatus.BLOCKED,
        ):
            if counts.get(state):
                header.append(f" · {counts[state]} {state.value}", style=STYLES[state])
        header.append(f" · {time.monotonic() - self.started:.0f}s")
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for task, (attempt, began) in sorted(self.running.items(), key=lambda item: item[1][1]):
            table.add_row(
                Text(f"{glyph(TaskStatus.RUNNING)} {task}", style=STYLES[TaskStatus.RUNNING]),
                f"attempt {attempt}",
                f"{now - began:.0f}s",
            )
        return Group(header, table)

    def summary(self) -> None:
        counts = self.handle.counts()
        parts = ", ".join(f"{count} {state.value}" for state, count in counts.items())
        took = time.monotonic() - self.started
        status = self.handle.status
        style = "green" if status is SessionStatus.COMPLETED else "red"
        self.console.print(
            Text(
                f"session {self.handle.session_id} {status.value} in {took:.1f}s: {parts}",
                style=style,
            )
        )
        sys.stdout.flush()
