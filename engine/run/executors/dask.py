"""Attempts on a Dask cluster: shell commands and Python callables run on Dask workers.

formicary keeps what Dask does not do: its own retries (Dask's are off, ``retries=0``),
timeouts and real cancellation, pools, persistence and the dashboard. Every attempt is one
Dask task with its own key (``formicary-<session>-<task>-<attempt>-<executor token>``,
never deduplicated); a task's priority becomes the Dask ``priority`` and its pool bookings
become Dask worker ``resources`` for the pools the workers declare (formicary still books
its pools first).

How an attempt travels (the worker side is :mod:`formicary.run.executors.dask_worker`):

* Output, the start (with the worker's address) and the end come back as structured events
  on this executor's topic, through the scheduler, in order and before Dask reports the task
  done; this process writes them to the attempt's log file as they arrive. That works for
  workers on other machines (nothing but the project folder needs to be shared with them).
* Cancel and timeout call :func:`~formicary.run.executors.dask_worker.stop_attempt` on the
  attempt's worker (``Client.run``, through the scheduler), which ends the process group
  (SIGTERM, grace, SIGKILL) and answers once it is gone; an attempt not started yet is
  sent to every worker and tombstoned there so it never starts. A per-attempt
  ``distributed.Event`` the runner waits on would do the same, but it costs a long-poll RPC
  per attempt: measured at 1.55 x a bare ``client.submit`` loop over ``true`` tasks, where
  this way costs 1.1 x.
* A worker that leaves the cluster (the scheduler's ``remove-worker`` event on the topic
  named after the worker, watched once an attempt starts there, or Dask's ``KilledWorker``)
  makes its running attempts ``lost``, retried by the task's policy. The
  processes a dead worker left behind are ended by another worker on the same host, and a
  copy of the attempt Dask may start elsewhere is stopped as soon as it reports.
* Attempts have no process here: the resource pane does not sample them, and pausing a
  session with ``--stop`` does not SIGSTOP them (it still stops new dispatches).
* A plain Python function cannot be interrupted: the attempt says so (``interruptible``
  False, a note in its log) and the function runs on to its end on its worker.

Without a scheduler address the executor starts a ``LocalCluster`` (loopback, no dashboard)
in this process and closes it with the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, cast
from urllib.parse import urlsplit

import dask
from distributed import Client, KilledWorker, LocalCluster
from formicary.run.executors import ExitStatus, Job, OutputSink, StartSink
from formicary.run.executors.dask_worker import end_orphans, run_attempt, stop_attempt
from formicary.run.executors.lines import ByteLines
from formicary.run.executors.local import _despite_cancel, _LazyLog
from formicary.run.processes import DEFAULT_GRACE

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
"""Seconds to reach the scheduler before giving up."""
STOP_DEADLINE = 30.0
"""Seconds past the grace period to wait for a stopped attempt's worker to confirm."""
_REJOIN_DEADLINE = 10.0


def loopback_cluster_options() -> dict[str, Any]:
    """``LocalCluster`` options for a cluster on this machine only: worker processes on
    127.0.0.1 and no dashboard. (Without a dashboard the scheduler still serves its health
    routes over HTTP; they go to a free loopback port, not to 8787.)"""
    return {
        "host": "127.0.0.1",
        "processes": True,
        "dashboard_address": None,
        "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    }


# -- what this executor calls on distributed, typed ------------------------------------------
# distributed leaves most of these calls unannotated, and annotates the rest for its
# synchronous and asynchronous modes at once. The Protocols say what they are for the
# asynchronous client used here; the objects are cast to them where they are made.

_Topic = Callable[[tuple[float, Any]], None]
"""A topic's handler: gets ``(time, message)`` for each event logged on the topic."""


class _AsyncFuture(Protocol):
    """An attempt's ``distributed.Future``."""

    @property
    def status(self) -> str:
        """``pending``, ``finished``, ``error``, ``cancelled`` or ``lost``."""

    def exception(self) -> Awaitable[BaseException | None]:
        """Wait for the task to end; the exception it raised, if any."""

    def release(self) -> None:
        """Let the scheduler forget the task."""

    def __await__(self) -> Generator[Any, None, Any]:
        """The task's result."""


class _SchedulerRpc(Protocol):
    """The scheduler's RPC handlers this executor calls."""

    async def identity(self, *, n_workers: int) -> dict[str, Any]:
        """The scheduler's description of itself and its workers."""


class _AsyncClient(Protocol):
    """An asynchronous ``distributed.Client``."""

    @property
    def scheduler(self) -> _SchedulerRpc:
        """The scheduler's RPC (set once the client is connected)."""

    def submit(
        self,
        func: Callable[..., Any],
        /,
        *args: Any,
        key: str,
        pure: bool,
        retries: int,
        priority: int,
        resources: dict[str, int] | None,
    ) -> _AsyncFuture:
        """Submit one task."""

    def run(
        self,
        function: Callable[..., Any],
        /,
        *args: Any,
        workers: list[str] | None = None,
        on_error: Literal["raise", "return", "ignore"] = "raise",
    ) -> Awaitable[dict[str, Any]]:
        """Run ``function`` on workers outside the task graph; the answer of each."""

    def cancel(self, futures: list[_AsyncFuture]) -> Awaitable[None]:
        """Cancel tasks."""

    def subscribe_topic(self, topic: str, handler: _Topic) -> None:
        """Call ``handler`` for every event logged on ``topic``."""

    def unsubscribe_topic(self, topic: str) -> None:
        """Stop calling the topic's handler."""

    def close(self) -> Awaitable[None]:
        """Disconnect."""


class _AsyncCluster(Protocol):
    """An asynchronous ``distributed.LocalCluster``."""

    @property
    def scheduler_address(self) -> str:
        """Where its scheduler listens."""

    def close(self) -> Awaitable[None]:
        """Stop its workers and its scheduler."""


_new_client = cast("Callable[..., Awaitable[_AsyncClient]]", Client)
_new_cluster = cast("Callable[..., Awaitable[_AsyncCluster]]", LocalCluster)


@dataclass(slots=True)
class _Remote:
    """The engine's side of one attempt running on the cluster."""

    key: str
    job: Job
    on_start: StartSink
    output: OutputSink
    log: _LazyLog
    future: _AsyncFuture | None = None
    worker: str | None = None
    pid: int | None = None
    interruptible: bool = True
    end: dict[str, Any] | None = None
    lost: str | None = None
    lines: ByteLines | None = None

    def write(self, data: bytes) -> None:
        self.log.write(data)  # every byte, before a long line is cut for subscribers
        if self.lines is None:
            self.lines = ByteLines(self.output)
        self.lines.feed(data)

    def note(self, text: str) -> None:
        self.write(f"[formicary] {text}\n".encode())

    def flush(self) -> None:
        if self.lines is not None:
            self.lines.end()


class DaskExecutor:
    """Runs attempts on a Dask cluster (see the module's docstring).

    Args:
        address: The scheduler (``tcp://HOST:PORT``); None starts a ``LocalCluster``.
        grace: Seconds between SIGTERM and SIGKILL when an attempt is stopped.
        cluster_options: Keyword arguments for the ``LocalCluster`` started without address.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        grace: float = DEFAULT_GRACE,
        cluster_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.grace = grace
        self._cluster_options = dict(cluster_options or {})
        self._token = secrets.token_hex(4)
        self._topic = f"formicary-{self._token}"
        self._connecting: asyncio.Future[_AsyncClient] | None = None
        self._client: _AsyncClient | None = None
        self._cluster: _AsyncCluster | None = None
        self._declared: dict[str, float] = {}
        self._remotes: dict[str, _Remote] = {}
        self._chores: set[asyncio.Future[Any]] = set()
        self._watched: set[str] = set()
        # What the engine's own environment holds is not sent: a worker runs a task in its
        # own environment plus what the task sets (its env and the FORMICARY_* variables).
        self._engine_env = dict(os.environ)

    # -- connection ----------------------------------------------------------------------

    async def connect(self) -> Client:
        """Connect (once) to the scheduler, starting the local cluster first if there is no
        address.

        Raises:
            OSError: The scheduler cannot be reached.
        """
        return cast(Client, await self._connected())

    async def _connected(self) -> _AsyncClient:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _AsyncClient:
        address = self.address
        if not log.isEnabledFor(logging.INFO):
            # Dask's own INFO lines (workers joining, comms closing) are noise to a user of
            # formicary unless they asked for the engine's log.
            logging.getLogger("distributed").setLevel(logging.WARNING)
        if address is None:
            options = {**loopback_cluster_options(), **self._cluster_options}
            # formicary retries lost attempts by its own policy; Dask must not rerun them.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = await _new_cluster(asynchronous=True, **options)
            address = self._cluster.scheduler_address
        client = await _new_client(
            address, asynchronous=True, set_as_default=False, timeout=CONNECT_TIMEOUT
        )
        client.subscribe_topic(self._topic, self._on_event)
        identity = await client.scheduler.identity(n_workers=-1)
        for info in identity.get("workers", {}).values():
            for pool, amount in (info.get("resources") or {}).items():
                self._declared[pool] = max(amount, self._declared.get(pool, 0))
        self._client = client
        return client

    async def close(self) -> None:
        """Close the client, and the local cluster if this executor started it."""
        if self._connecting is None:
            return
        try:
            client = await self._connecting
        except Exception:
            client = None
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)
        if client is not None:
            # Unsubscribed first: the scheduler would tell a closed client of its leaving.
            for topic in (self._topic, *self._watched):
                with contextlib.suppress(ValueError):
                    client.unsubscribe_topic(topic)
            self._watched.clear()
            await client.close()
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None
        self._connecting = None
        self._client = None

    @property
    def client(self) -> Client | None:
        """The connected client (None before the first attempt or :meth:`connect`)."""
        return cast("Client | None", self._client)

    # -- attempts ------------------------------------------------------------------------

    def key(self, job: Job) -> str:
        """The Dask key of ``job``'s attempt (unique per attempt and per executor)."""
        return f"formicary-{job.session}-{job.task}-{job.attempt}-{self._token}"

    def interruptible(self, job: Job) -> bool:
        """Shell attempts and async callables stop when asked; plain functions do not (the
        worker reports which one it found when the attempt starts)."""
        remote = self._remotes.get(self.key(job))
        return remote.interruptible if remote is not None else True

    def submit(
        self, job: Job, on_start: StartSink, output: OutputSink
    ) -> asyncio.Future[ExitStatus]:
        """Start the attempt as an asyncio task; cancelling it stops the attempt on its
        worker and returns once the worker says its processes are gone."""
        return asyncio.get_running_loop().create_task(self._run(job, on_start, output))

    async def _run(self, job: Job, on_start: StartSink, output: OutputSink) -> ExitStatus:
        client = self._client or await self._connected()
        key = self.key(job)
        remote = _Remote(key, job, on_start, output, _LazyLog(job.log_path))
        self._remotes[key] = remote
        try:
            remote.future = client.submit(
                run_attempt,
                self._spec(job, key),
                key=key,
                pure=False,
                retries=0,
                priority=-job.priority,
                resources=self._resources(job),
            )
            try:
                await remote.future.exception()
            except asyncio.CancelledError:
                await _despite_cancel(self._stop(remote))
                raise
            return await self._outcome(remote)
        finally:
            del self._remotes[key]
            remote.flush()
            remote.log.close()
            if remote.future is not None:
                remote.future.release()

    def _spec(self, job: Job, key: str) -> dict[str, Any]:
        engine_env = self._engine_env
        env = {name: value for name, value in job.env.items() if engine_env.get(name) != value}
        return {
            "key": key,
            "topic": self._topic,
            "kind": job.kind,
            "target": job.target,
            "cwd": str(job.cwd),
            "env": env,
            "args": dict(job.args),
            "grace": self.grace,
        }

    def _resources(self, job: Job) -> dict[str, int] | None:
        """The bookings of pools that the workers declare as resources (and can hold)."""
        if not job.resources or not self._declared:
            return None
        wanted = {
            pool: amount
            for pool, amount in job.resources.items()
            if amount <= self._declared.get(pool, -1)
        }
        return wanted or None

    async def _outcome(self, remote: _Remote) -> ExitStatus:
        future = remote.future
        assert future is not None
        if remote.lost is not None:
            return await self._lost(remote)
        if future.status == "finished" and remote.end is not None:
            end = remote.end
            value = end.get("v")
            if end.get("fetch"):
                value = (await future)["value"]
            return ExitStatus(end["end"], end["r"], value, worker=remote.worker)
        if future.status == "error":
            error = await future.exception()
            if isinstance(error, KilledWorker):
                remote.lost = f"lost: its worker died ({error})"
                return await self._lost(remote)
            if error is not None:
                raise error
        raise RuntimeError(f"Dask dropped attempt {remote.key} ({future.status})")

    async def _stop(self, remote: _Remote) -> None:
        """End a cancelled or timed-out attempt on its worker, or keep it from starting."""
        client = self._client
        future = remote.future
        if client is None or future is None:
            return
        if not remote.interruptible:
            remote.note(
                f"stop asked, but the Python callable cannot be interrupted: it runs on to "
                f"its end on {remote.worker}"
            )
            return
        workers = [remote.worker] if remote.worker else None
        try:
            answers = await client.run(stop_attempt, remote.key, workers=workers, on_error="return")
            if any(answer is True for answer in answers.values()):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(future.exception(), self.grace + STOP_DEADLINE)
            else:
                await client.cancel([future])
        except (OSError, RuntimeError) as error:  # the scheduler went away meanwhile
            log.warning("could not stop %s on the cluster: %s", remote.key, error)
            remote.note(f"could not reach the cluster to stop the attempt: {error}")

    async def _lost(self, remote: _Remote) -> ExitStatus:
        """Record the attempt as lost: end what its dead worker left on its host, and stop
        any copy Dask started elsewhere."""
        reason = remote.lost or "lost: its worker left the cluster"
        remote.note(reason)
        client = self._client
        assert client is not None and remote.future is not None
        try:
            await client.run(stop_attempt, remote.key, on_error="return")
            await client.cancel([remote.future])
            if remote.pid is not None and remote.worker is not None:
                await self._end_orphans(client, remote, remote.worker)
        except (OSError, RuntimeError) as error:  # the scheduler went away meanwhile
            log.warning("could not clean up after %s: %s", remote.key, error)
            remote.note(f"could not reach the cluster to clean up: {error}")
        return ExitStatus(-1, reason, worker=remote.worker, lost=True)

    async def _end_orphans(self, client: _AsyncClient, remote: _Remote, worker: str) -> None:
        host = urlsplit(worker).hostname
        deadline = time.monotonic() + _REJOIN_DEADLINE
        while True:
            identity = await client.scheduler.identity(n_workers=-1)
            neighbours = [
                address
                for address in identity.get("workers", {})
                if address != worker and urlsplit(address).hostname == host
            ]
            if neighbours or time.monotonic() > deadline:
                break
            # A nanny restarts its worker within a second or two; wait for one on that host.
            await asyncio.sleep(0.25)
        if not neighbours:
            remote.note(f"no worker left on {host} to end process group {remote.pid}")
            return
        job = remote.job
        answers = await client.run(
            end_orphans,
            remote.pid,
            job.session,
            job.task,
            job.attempt,
            self.grace,
            workers=neighbours[:1],
            on_error="return",
        )
        ended = next(iter(answers.values()), 0)
        if isinstance(ended, int) and ended:
            remote.note(f"ended {ended} process(es) the lost attempt left on {host}")

    # -- events from the cluster ---------------------------------------------------------

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        remote = self._remotes.get(message["k"])
        if "o" in message:
            if remote is not None:
                remote.write(message["o"])
        elif "start" in message:
            if remote is not None and remote.worker is not None and remote.lost is None:
                # Dask started the attempt again: the worker it ran on is gone.
                self._mark_lost(remote, remote.worker)
            if remote is None or remote.lost is not None:
                self._chore(self._stop_stray(message["k"], message["start"]))
                return
            remote.worker = message["start"]
            if remote.worker not in self._watched and self._client is not None:
                self._watched.add(remote.worker)
                handler = partial(self._on_worker_event, remote.worker)
                self._client.subscribe_topic(remote.worker, handler)
            remote.pid = message["p"]
            remote.interruptible = message["i"]
            remote.on_start(None, worker=remote.worker)
        elif "end" in message and remote is not None:
            remote.end = message

    def _on_worker_event(self, address: str, event: tuple[float, dict[str, Any]]) -> None:
        """Events the scheduler logs about a worker an attempt ran on (topic: its address)."""
        message = event[1]
        if not isinstance(message, dict) or message.get("action") != "remove-worker":
            return
        processing = set(message.get("processing-tasks") or ())
        for remote in self._remotes.values():
            if remote.end is not None or remote.lost is not None or remote.future is None:
                continue
            if remote.worker == address or remote.key in processing:
                self._mark_lost(remote, address)

    def _mark_lost(self, remote: _Remote, address: str) -> None:
        """End ``remote`` as lost: its future is cancelled, which wakes its ``_run``."""
        remote.worker = remote.worker or address
        remote.lost = f"lost: worker {address} left the cluster"
        if self._client is not None and remote.future is not None:
            self._chore(self._client.cancel([remote.future]))

    async def _stop_stray(self, key: str, worker: str) -> None:
        """A copy of an attempt that already ended (Dask reran it after its worker died)."""
        if self._client is not None:
            await self._client.run(stop_attempt, key, workers=[worker], on_error="return")

    def _chore(self, work: Awaitable[Any]) -> None:
        chore = asyncio.ensure_future(work)
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)
