"""The worker side of the Dask executor: what runs inside a Dask worker process.

:func:`run_attempt` is the task formicary submits for every attempt. It is a coroutine, so
the worker runs it on its event loop and it can watch its process while it runs. It:

* starts a shell command in a session (process group) of its own, or calls a Python
  callable (async ones on the worker's loop, plain ones in a thread of this module's pool);
* reports, as structured events on the executor's topic (``Worker.log_event``, carried to
  the client over the worker's and the scheduler's batched streams, in order): ``start``
  (worker address, pid, whether it can be interrupted), the output as it arrives (at most
  :data:`CHUNK` bytes a message), and ``end`` (exit code, reason, a value that msgpack can
  carry). The events arrive before Dask reports the task finished, so the client has the
  whole output and the result once the future is done without fetching anything;
* registers itself in this process's table of running attempts, where
  :func:`stop_attempt` (sent by ``Client.run`` through the scheduler) finds it to end its
  process group: SIGTERM, a grace period, SIGKILL. An attempt asked to stop before it
  started here leaves a tombstone, and a runner that finds its tombstone never starts.

Nothing is written to the attempt's log file here: output travels to the engine, which
writes the log, so workers on other machines need no shared log folder (they need
formicary installed, and the project folder at the same path, since tasks run in it).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import signal
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from distributed import get_worker
from formicary.run.executors.local import describe_exit
from formicary.run.executors.python import _current_sink, _routing, resolve_callable
from formicary.run.processes import terminate_group

CHUNK = 32 * 1024
"""Largest output message: the scheduler keeps a topic's last 1,000 events in memory."""
_TOMBSTONES = 10_000

_Emit = Callable[[dict[str, Any]], None]
"""Sends one event on the executor's topic."""

_threads = ThreadPoolExecutor(
    max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="formicary-call"
)


@dataclass(slots=True)
class _Running:
    """One attempt running in this worker process."""

    pid: int | None = None
    call: asyncio.Future[Any] | None = None
    interruptible: bool = True
    stop_requested: bool = False
    grace: float = 3.0
    finished: asyncio.Event = field(default_factory=asyncio.Event)


_running: dict[str, _Running] = {}
_tombstones: OrderedDict[str, None] = OrderedDict()


async def run_attempt(spec: dict[str, Any]) -> dict[str, Any] | None:
    """Run one attempt described by ``spec`` (built by the executor) and report it.

    Returns:
        None when the attempt had been stopped before it started here; otherwise
        ``{"value": ...}`` holding a value that the ``end`` event could not carry.
    """
    key: str = spec["key"]
    if key in _tombstones:
        return None
    worker = get_worker()
    topic: str = spec["topic"]

    def emit(message: dict[str, Any]) -> None:
        message["k"] = key
        worker.log_event(topic, message)

    running = _Running(grace=spec["grace"])
    _running[key] = running
    try:
        if spec["kind"] == "shell":
            code, reason, value = await _run_shell(spec, running, emit, worker.address)
        else:
            code, reason, value = await _run_python(spec, running, emit, worker.address)
    finally:
        del _running[key]
        running.finished.set()
    end: dict[str, Any] = {"end": code, "r": reason}
    if value is None or _packable(value):
        end["v"] = value
        emit(end)
        return None
    end["fetch"] = True
    emit(end)
    return {"value": value}


async def stop_attempt(key: str) -> bool:
    """End attempt ``key`` if it runs in this process, and return once it has stopped.

    An attempt that is not (or not yet) running here gets a tombstone, so it never starts.

    Returns:
        True when the attempt ran here.
    """
    running = _running.get(key)
    if running is None:
        _tombstones[key] = None
        while len(_tombstones) > _TOMBSTONES:
            _tombstones.popitem(last=False)
        return False
    running.stop_requested = True
    if not running.interruptible:
        return True  # a plain function cannot be stopped; the engine says so
    if running.pid is not None:
        await terminate_group(running.pid, running.grace)
    elif running.call is not None and running.interruptible:
        running.call.cancel()
    await running.finished.wait()
    return True


async def end_orphans(pgid: int, session: str, task: str, attempt: int, grace: float) -> int:
    """End process group ``pgid`` on this machine, left running by a worker that died.

    Only processes whose environment names this attempt are counted as its own, so a group
    id reused since cannot be hit by mistake.

    Returns:
        How many processes of the attempt were still alive.
    """
    expected = {
        "FORMICARY_SESSION": session,
        "FORMICARY_TASK": task,
        "FORMICARY_ATTEMPT": str(attempt),
    }
    members = await asyncio.to_thread(_members_of, pgid, expected)
    if not members:
        return 0
    return await terminate_group(pgid, grace)


def _members_of(pgid: int, expected: dict[str, str]) -> list[int]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) != pgid:
                continue
            environment = process.environ()
        except (ProcessLookupError, psutil.Error):
            continue
        if all(environment.get(name) == value for name, value in expected.items()):
            found.append(process.pid)
    return found


async def _run_shell(
    spec: dict[str, Any], running: _Running, emit: _Emit, address: str
) -> tuple[int, str, Any]:
    environment = {**os.environ, **spec["env"]}
    try:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            spec["target"],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=spec["cwd"],
            env=environment,
            start_new_session=True,
        )
    except OSError as error:
        emit({"o": f"[formicary] could not start on {address}: {error}\n".encode()})
        return 127, f"could not start on {address}: {error}", None
    running.pid = process.pid
    emit({"start": address, "p": process.pid, "i": True})
    try:
        if running.stop_requested:
            await terminate_group(process.pid, running.grace)
        assert process.stdout is not None
        while chunk := await process.stdout.read(CHUNK):
            emit({"o": chunk})
        code = await process.wait()
        leftovers = await terminate_group(process.pid, running.grace)
        if leftovers:
            emit({"o": f"[formicary] ended {leftovers} process(es) the task left running\n"})
    finally:
        # Cancelled (the worker is closing) or failed: the group must not outlive us.
        if process.returncode is None or running.stop_requested:
            await asyncio.shield(terminate_group(process.pid, running.grace))
    return code, describe_exit(code), None


async def _run_python(
    spec: dict[str, Any], running: _Running, emit: _Emit, address: str
) -> tuple[int, str, Any]:
    sink = _EventOutput(emit, asyncio.get_running_loop())
    try:
        function = resolve_callable(Path(spec["cwd"]), spec["target"])
    except Exception as error:
        sink.write("".join(traceback.format_exception(error)))
        sink.close()
        return 1, f"{type(error).__name__}: {error}", None
    is_async = inspect.iscoroutinefunction(function)
    running.interruptible = is_async
    emit({"start": address, "p": None, "i": is_async})
    context = contextvars.copy_context()
    context.run(_current_sink.set, sink)
    args = spec["args"]
    with _routing:
        try:
            if is_async:
                running.call = context.run(asyncio.ensure_future, function(**args))
            else:
                loop = asyncio.get_running_loop()
                running.call = loop.run_in_executor(_threads, lambda: context.run(function, **args))
            value = await running.call
        except asyncio.CancelledError:
            if not running.stop_requested:
                raise
            sink.write("[formicary] cancelled\n")
            sink.close()
            return -int(signal.SIGTERM), "cancelled", None
        except BaseException as error:  # the user's code may raise anything
            sink.write("".join(traceback.format_exception(error)))
            sink.close()
            return 1, f"{type(error).__name__}: {error}", None
    sink.close()
    return 0, "", value


class _EventOutput:
    """What a callable prints, sent as output events (from any thread) and kept in order."""

    def __init__(self, emit: _Emit, loop: asyncio.AbstractEventLoop) -> None:
        self._emit = emit
        self._loop = loop
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        data = text.encode()
        with self._lock:
            for start in range(0, len(data), CHUNK):
                self._send({"o": data[start : start + CHUNK]})

    def _send(self, message: dict[str, Any]) -> None:
        try:
            running_loop = asyncio.get_running_loop()
        except RuntimeError:
            running_loop = None
        if running_loop is self._loop:
            self._emit(message)
        else:
            self._loop.call_soon_threadsafe(self._emit, message)

    def close(self) -> None:
        """Nothing is buffered here (lines are split by the engine)."""


def _packable(value: Any) -> bool:
    """True for values an event carries unchanged; others (a tuple would arrive as a list)
    travel as the Dask result, pickled."""
    kind = type(value)
    if kind is int:
        number: int = value
        return -(2**63) <= number < 2**64
    return kind in (str, bool, float, bytes)
