"""Python callables (``module:function``) run inside the engine's process.

Async functions are awaited on the event loop; plain functions run in a thread pool so the
loop never blocks. What a callable prints goes to its attempt's log (routed by a context
variable, so concurrent callables never mix their output). An exception fails the attempt
with its traceback in the log. A plain function cannot be interrupted once it runs: when
such an attempt is cancelled or times out the scheduler says so instead of pretending.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import io
import os
import queue
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TextIO

from formicary.run.executors import ExitStatus, Job, OutputSink
from formicary.run.executors.lines import TextLines
from formicary.run.private_files import private_dir, private_opener


class _TextSink(Protocol):
    """Where the text printed inside an attempt goes (an :class:`_AttemptOutput` here, the
    Dask worker's output events there)."""

    def write(self, text: str) -> None:
        """Take a piece of printed text."""


_current_sink: contextvars.ContextVar[_TextSink | None] = contextvars.ContextVar(
    "formicary_attempt_output", default=None
)


class _AttemptOutput:
    """Collects one attempt's printed text: appended to its log (opened on first write) and
    handed line by line to subscribers on the event loop."""

    def __init__(self, log_path: str, output: OutputSink, loop: asyncio.AbstractEventLoop) -> None:
        self._log_path = log_path
        self._output = output
        self._loop = loop
        self._file: io.TextIOWrapper | None = None
        self._lines = TextLines()
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            if self._file is None:
                private_dir(os.path.dirname(self._log_path))
                self._file = open(  # noqa: SIM115
                    self._log_path, "a", encoding="utf-8", opener=private_opener
                )
            self._file.write(text)  # all of it, before a long line is cut for subscribers
            self._file.flush()
            lines = self._lines.feed(text)
        if lines:
            self._deliver(lines)

    def _deliver(self, lines: list[str]) -> None:
        if _running_loop() is self._loop:
            self._output(lines)
        else:
            self._loop.call_soon_threadsafe(self._output, lines)

    def close(self) -> None:
        with self._lock:
            rest = self._lines.end()
            if self._file is not None:
                self._file.close()
                self._file = None
        if rest:
            self._deliver(rest)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _RoutingStream(io.TextIOBase):
    """Stands in for stdout/stderr: text written inside an attempt goes to that attempt."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        sink = _current_sink.get()
        if sink is None:
            return self.fallback.write(text)
        sink.write(text)
        return len(text)

    def flush(self) -> None:
        if _current_sink.get() is None:
            self.fallback.flush()


class _StreamRouting:
    """Installs the routing streams while at least one callable runs."""

    def __init__(self) -> None:
        self._users = 0
        self._lock = threading.Lock()
        self._saved: tuple[TextIO, TextIO] | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = (sys.stdout, sys.stderr)
                sys.stdout = _RoutingStream(sys.stdout)
                sys.stderr = _RoutingStream(sys.stderr)
            self._users += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                if isinstance(sys.stdout, _RoutingStream):
                    sys.stdout = self._saved[0]
                if isinstance(sys.stderr, _RoutingStream):
                    sys.stderr = self._saved[1]
                self._saved = None


_routing = _StreamRouting()
_import_lock = threading.Lock()
_import_mtimes: dict[str, float] = {}


def resolve_callable(root: Path, target: str) -> Callable[..., Any]:
    """Import ``module:function`` with ``root`` (the project folder) first on ``sys.path``.

    A module of the same name imported earlier from another project is replaced, so two
    projects may both have ``scripts/report.py``; a module whose file changed since it was
    imported is imported again.

    Raises:
        ImportError, AttributeError, TypeError: The target cannot be imported or called.
    """
    module_name, _, function_name = target.partition(":")
    root_text = os.path.realpath(root)
    with _import_lock:
        module = sys.modules.get(module_name)
        if module is not None and (
            not _is_under(module, root_text) or _changed_since_import(module_name, module)
        ):
            _forget(module_name, root_text)
            module = None
        if module is None:
            sys.path.insert(0, root_text)
            try:
                importlib.invalidate_caches()
                module = importlib.import_module(module_name)
            finally:
                sys.path.remove(root_text)
            file = getattr(module, "__file__", None)
            if file:
                _import_mtimes[module_name] = os.stat(file).st_mtime
    function: object = getattr(module, function_name)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function


def _is_under(module: Any, root: str) -> bool:
    files = [module.__file__] if getattr(module, "__file__", None) else []
    files += list(getattr(module, "__path__", []))
    prefix = root.rstrip(os.sep) + os.sep
    return any(os.path.realpath(file).startswith(prefix) for file in files)


def _changed_since_import(name: str, module: Any) -> bool:
    file = getattr(module, "__file__", None)
    try:
        return file is not None and os.stat(file).st_mtime != _import_mtimes.get(name)
    except OSError:
        return True


def _forget(module_name: str, root: str) -> None:
    """Drop ``module_name``, its submodules, and parent packages that live elsewhere."""
    for name in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
        del sys.modules[name]
        _import_mtimes.pop(name, None)
    parts = module_name.split(".")
    for length in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:length])
        if parent in sys.modules and not _is_under(sys.modules[parent], root):
            del sys.modules[parent]


class _Threads:
    """A pool of worker threads that report back to the event loop in batches.

    ``run_in_executor`` wakes the loop once per finished call; here finished calls queue up
    and one wake-up delivers all of them, which matters when thousands of short callables
    finish close together.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[asyncio.Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._finished: deque[tuple[asyncio.Future[Any], Any]] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``call()`` in a worker; the future gets what it returns (it must not raise)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((future, call))
        with self._lock:
            grow = self._idle <= 0 and len(self._threads) < self._size
            if not grow:
                self._idle -= 1
        if grow:
            thread = threading.Thread(target=self._work, name="formicary-python", daemon=True)
            self._threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            future, call = item
            result = call()
            with self._lock:
                self._finished.append((future, result))
                self._idle += 1
                wake = not self._wake_pending
                self._wake_pending = True
            if wake and self._loop is not None:
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # the loop closed while a callable ran
                    return

    def _deliver(self) -> None:
        with self._lock:
            finished = list(self._finished)
            self._finished.clear()
            self._wake_pending = False
        for future, result in finished:
            if not future.cancelled():
                future.set_result(result)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        self._threads.clear()


class PythonExecutor:
    """Runs callables in this process: async ones on the loop, plain ones in threads."""

    name = "python"

    def __init__(self, max_threads: int | None = None) -> None:
        self._threads = _Threads(max_threads or min(32, (os.cpu_count() or 1) + 4))
        self._functions: dict[tuple[Path, str], tuple[Callable[..., Any], bool]] = {}

    def function(self, job: Job) -> tuple[Callable[..., Any], bool]:
        """The job's callable and whether it is async, imported once per executor."""
        key = (job.cwd, job.target)
        found = self._functions.get(key)
        if found is None:
            function = resolve_callable(job.cwd, job.target)
            found = self._functions[key] = (function, inspect.iscoroutinefunction(function))
        return found

    def interruptible(self, job: Job) -> bool:
        """Async callables stop when cancelled; plain functions cannot be interrupted."""
        try:
            return self.function(job)[1]
        except Exception:
            return True

    def submit(
        self, job: Job, on_start: Callable[[int | None], None], output: OutputSink
    ) -> asyncio.Future[ExitStatus]:
        """Start the callable: async ones as a task on the loop, plain ones in a worker.

        A plain function goes straight to a worker thread with no coroutine around it: this
        path is what sets formicary's cost per Python task.
        """
        loop = asyncio.get_running_loop()
        try:
            function, is_async = self.function(job)
        except Exception as error:
            future: asyncio.Future[ExitStatus] = loop.create_future()
            sink = _AttemptOutput(job.log_path, output, loop)
            future.set_result(_failure(sink, error))
            sink.close()
            return future
        if is_async:
            return loop.create_task(self._run_async(job, function, on_start, output))
        sink = _AttemptOutput(job.log_path, output, loop)
        context = contextvars.copy_context()
        context.run(_current_sink.set, sink)
        args = job.args
        _routing.__enter__()

        def call() -> ExitStatus:
            try:
                value = context.run(function, **args)
            except BaseException as error:  # the user's code may raise anything
                return _failure(sink, error)
            finally:
                sink.close()
                _routing.__exit__()
            return ExitStatus(0, value=value)

        on_start(None)
        return self._threads.submit(call)

    async def _run_async(
        self,
        job: Job,
        function: Callable[..., Any],
        on_start: Callable[[int | None], None],
        output: OutputSink,
    ) -> ExitStatus:
        sink = _AttemptOutput(job.log_path, output, asyncio.get_running_loop())
        token = _current_sink.set(sink)
        try:
            with _routing:
                on_start(None)
                try:
                    value = await function(**job.args)
                except asyncio.CancelledError:
                    raise
                except BaseException as error:  # the user's code may raise anything
                    return _failure(sink, error)
        finally:
            _current_sink.reset(token)
            sink.close()
        return ExitStatus(0, value=value)

    async def close(self) -> None:
        """Stop the worker threads once they finish what they run."""
        self._threads.shutdown()


def _failure(sink: _AttemptOutput, error: BaseException) -> ExitStatus:
    """Write the traceback to the attempt's log and describe the failure."""
    sink.write("".join(traceback.format_exception(error)))
    return ExitStatus(1, f"{type(error).__name__}: {error}")
