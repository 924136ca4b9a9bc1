"""A child process watched by the event loop: its exit, and its output as it comes.

The output pipe is a plain reader of the loop, and the exit is watched through a pidfd (on
Linux 5.3 and later) or, elsewhere, by a thread that waits for it. asyncio's own
subprocesses cost far more per process on Python 3.11: a transport, protocols and a stream
reader each, and a new thread per process to wait for its exit; in a run of 10,000 short
shell tasks they were a third of the engine's time. They also report an exit only once
every process holding the output pipe has closed it, so a task that left ``sleep 60 &``
behind looked alive for another minute; here the exit is the shell's, and the attempt ends
what it left behind (see :mod:`formicary.run.executors.local`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

_CHUNK = 64 * 1024
_PIDFD = hasattr(os, "pidfd_open")

Output = Callable[[bytes], None]


class Child:
    """A started process in a session of its own, stdout and stderr together on one pipe.

    ``pid`` is also the id of its process group. Start one with :func:`start_child`.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None,
        output: Output,
    ) -> None:
        self._output = output
        self._loop = asyncio.get_running_loop()
        self._popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        self._exit: asyncio.Future[int] = self._loop.create_future()
        self._eof: asyncio.Future[None] = self._loop.create_future()
        assert self._popen.stdout is not None
        self._pipe = self._popen.stdout.fileno()
        os.set_blocking(self._pipe, False)
        self._loop.add_reader(self._pipe, self._read)
        self._pidfd = -1
        if _PIDFD:
            try:
                self._pidfd = os.pidfd_open(self.pid)
            except OSError:  # no pidfds here after all (ENOSYS, EPERM)
                self._pidfd = -1
        if self._pidfd >= 0:
            self._loop.add_reader(self._pidfd, self._reap)
        else:
            threading.Thread(target=self._wait, name="formicary-child", daemon=True).start()

    async def exited(self) -> int:
        """Wait for the process to end; its exit code (minus the signal that killed it)."""
        return await asyncio.shield(self._exit)

    async def drained(self) -> None:
        """Wait until its output pipe is closed and read to the end (every process holding
        it, the process's own children included, has ended or closed it)."""
        await asyncio.shield(self._eof)

    def _read(self) -> None:
        try:
            data = os.read(self._pipe, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._output(data)
            return
        self._loop.remove_reader(self._pipe)
        assert self._popen.stdout is not None
        self._popen.stdout.close()
        if not self._eof.done():
            self._eof.set_result(None)

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._exited(self._popen.wait())

    def _wait(self) -> None:
        code = self._popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._exited, code)

    def _exited(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)


def start_child(
    argv: Sequence[str], cwd: str | os.PathLike[str], env: Mapping[str, str] | None, output: Output
) -> Child:
    """Start ``argv`` in ``cwd`` with ``env`` (None: this process's environment), handing
    every chunk of its output to ``output`` (on the running loop).

    Not a coroutine, so a cancelled caller cannot leave a half-started process: once this
    returns the process exists, and the caller can always end it.
    """
    return Child(argv, cwd, env, output)
