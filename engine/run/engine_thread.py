"""An asyncio loop on a daemon thread, for callers that are not async.

The public API (``WorkflowManager``, ``TaskOrchestrator``…) is synchronous, as the library it
replaces was, while the scheduler is asyncio. Every session started through the API runs on
this one loop; the scheduler's state is touched only from it, so API calls hop onto the loop
with :meth:`EngineThread.call` (a function) or :meth:`EngineThread.run` (a coroutine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class EngineThread:
    """One event loop running forever on its own daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "formicary-engine") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        """True while the loop runs."""
        return self._thread.is_alive() and self.loop.is_running()

    def on_loop(self) -> bool:
        """True when called from the loop's own thread."""
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coroutine`` on the loop; its result arrives in the returned future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its result.

        Raises:
            TimeoutError: It did not finish within ``timeout`` seconds (it is cancelled).
            RuntimeError: Called from the loop's own thread, where waiting would deadlock.
        """
        if self.on_loop():
            coroutine.close()
            raise RuntimeError("EngineThread.run() called from the engine's own loop")
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call a plain function on the loop's thread and return what it returns."""
        if self.on_loop():
            return function(*args)

        async def call() -> T:
            return function(*args)

        return self.run(call())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and join its thread (what still runs on it is abandoned)."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.on_loop():
                self._thread.join(timeout)
