"""Shell tasks as local processes: own process group, output streamed to the log and to
subscribers, and the whole group ended when the attempt stops for any reason."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, BinaryIO, TypeVar

from engine.executors import ExitStatus, Job, OutputSink
from engine.processes import DEFAULT_GRACE, terminate_group

_CHUNK = 64 * 1024
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
        """Run the attempt to its end; on cancellation end its process group first.

        The process is created even if the attempt is cancelled meanwhile (a half-created
        process would escape), then ended with the rest of its group.
        """
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                job.target,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=job.cwd,
                env=dict(job.env) if job.env else None,
                start_new_session=True,
            )
        )
        try:
            process = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            process = await _despite_cancel(spawn)
            await _despite_cancel(self._stop(process, None))
            raise
        on_start(process.pid)
        log = _LazyLog(job.log_path)
        assert process.stdout is not None
        pump = asyncio.ensure_future(_pump(process.stdout, log.write, output))
        try:
            code = await process.wait()
            leftovers = await terminate_group(process.pid, self.grace)
            await pump
            if leftovers:
                note = f"[formicary] ended {leftovers} process(es) the task left running"
                log.write(f"{note}\n".encode())
                output([note])
        except asyncio.CancelledError:
            await _despite_cancel(self._stop(process, pump))
            raise
        finally:
            log.close()
        return ExitStatus(code, describe_exit(code))

    async def _stop(
        self, process: asyncio.subprocess.Process, pump: asyncio.Future[None] | None
    ) -> None:
        await terminate_group(process.pid, self.grace)
        await process.wait()
        if pump is not None:
            await pump

    async def close(self) -> None:
        """Nothing is held between attempts."""


class _LazyLog:
    """The attempt's log file, created when the first output arrives: a silent task costs
    no file (creating one costs about as much as starting the process)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            try:
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            except FileNotFoundError:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
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


async def _pump(
    stream: asyncio.StreamReader, write: Callable[[bytes], object], output: OutputSink
) -> None:
    """Copy ``stream`` to the log as it arrives and hand complete lines to ``output``."""
    partial = b""
    while chunk := await stream.read(_CHUNK):
        write(chunk)
        lines = (partial + chunk).split(b"\n")
        partial = lines.pop()
        if lines:
            output([line.decode("utf-8", "replace").rstrip("\r") for line in lines])
    if partial:
        output([partial.decode("utf-8", "replace").rstrip("\r")])


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
