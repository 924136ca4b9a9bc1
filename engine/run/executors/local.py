"""Shell tasks as local processes: own process group, output streamed to the log and to
subscribers, and the whole group ended when the attempt stops for any reason."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, BinaryIO, TypeVar

from formicary.run.executors import ExitStatus, Job, OutputSink
from formicary.run.executors.child import Child, start_child
from formicary.run.executors.lines import ByteLines
from formicary.run.private_files import open_private_log
from formicary.run.processes import DEFAULT_GRACE, terminate_group

T = TypeVar("T")


class LocalExecutor:
    """Runs ``/bin/sh -c COMMAND`` with cwd = the project folder, in a new session.

    Args:
        grace: Seconds between SIGTERM and SIGKILL when an attempt is stopped.
    """

    name = "local"

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace

    def interruptible(self, job: Job) -> bool:
        """Shell attempts always stop when asked."""
        return True

    def submit(
        self, job: Job, on_start: Callable[[int | None], None], output: OutputSink
    ) -> asyncio.Future[ExitStatus]:
        """Start the attempt as an asyncio task; cancelling it ends the process group."""
        return asyncio.get_running_loop().create_task(self.run(job, on_start, output))

    async def run(
        self, job: Job, on_start: Callable[[int | None], None], output: OutputSink
    ) -> ExitStatus:
        """Run the attempt to its end; on cancellation end its process group first."""
        log = _LazyLog(job.log_path)
        lines = ByteLines(output)

        def take(data: bytes) -> None:
            log.write(data)  # every byte, before a long line is cut for subscribers
            lines.feed(data)

        try:
            child = start_child(["/bin/sh", "-c", job.target], job.cwd, job.env or None, take)
            on_start(child.pid)
            try:
                code = await child.exited()
                leftovers = await terminate_group(child.pid, self.grace)
                await child.drained()
                lines.end()
                if leftovers:
                    note = f"[formicary] ended {leftovers} process(es) the task left running"
                    log.write(f"{note}\n".encode())
                    output([note])
            except asyncio.CancelledError:
                await _despite_cancel(self._stop(child))
                raise
        finally:
            log.close()
        return ExitStatus(code, describe_exit(code))

    async def _stop(self, child: Child) -> None:
        await terminate_group(child.pid, self.grace)
        await child.exited()
        await child.drained()

    async def close(self) -> None:
        """Nothing is held between attempts."""


class _LazyLog:
    """The attempt's log file, created when the first output arrives: a silent task costs
    no file (creating one costs about as much as starting the process). The Dask executor
    writes its attempts' logs with it too."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            # Private (0600, in a 0700 folder): a task's output may hold its secrets.
            self._file = open_private_log(self.path)
        self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def _despite_cancel(work: Coroutine[Any, Any, T] | asyncio.Future[T]) -> T:
    """Run ``work`` to the end even if the caller is cancelled again meanwhile."""
    future = asyncio.ensure_future(work)
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
    return future.result()


def describe_exit(code: int) -> str:
    """An exit code in words (empty for 0; a negative code is the signal that killed it)."""
    if code == 0:
        return ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"
