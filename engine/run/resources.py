"""Resource pools (counted, never over-committed) and measured use of running process trees.

Pools are bookkeeping: a task declares what it needs and starts only when all of it is free.
The :class:`UsageMonitor` measures what running attempts really use (CPU% and RSS of each
attempt's whole process tree, with psutil) plus the system's CPU and memory, about once a
second and only while something runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psutil
from formicary.model.records import Resource, ResourceType, ResourceUsage

log = logging.getLogger(__name__)


class ResourcePools:
    """Counted pools. ``fits``/``acquire``/``release`` are exact and never over-commit."""

    def __init__(self, capacity: Mapping[str, int]) -> None:
        self.capacity: dict[str, int] = dict(capacity)
        self.booked: dict[str, int] = dict.fromkeys(capacity, 0)

    def fits(self, request: Mapping[str, int]) -> bool:
        """True when every requested amount is free now."""
        if not request:
            return True
        booked, capacity = self.booked, self.capacity
        return all(booked[pool] + amount <= capacity[pool] for pool, amount in request.items())

    def acquire(self, request: Mapping[str, int]) -> None:
        """Book ``request``.

        Raises:
            ValueError: It does not fit (the scheduler checks :meth:`fits` first).
        """
        if not request:
            return
        if not self.fits(request):
            raise ValueError(f"request {dict(request)} does not fit {self.available()}")
        for pool, amount in request.items():
            self.booked[pool] += amount

    def release(self, request: Mapping[str, int]) -> None:
        """Give back what :meth:`acquire` booked."""
        for pool, amount in request.items():
            self.booked[pool] -= amount
            if self.booked[pool] < 0:  # pragma: no cover - would be a scheduler bug
                raise AssertionError(f"pool {pool} released more than it booked")

    def available(self) -> dict[str, int]:
        """Free units per pool."""
        return {pool: self.capacity[pool] - self.booked[pool] for pool in self.capacity}

    def snapshot(self) -> list[Resource]:
        """Every pool as a :class:`~formicary.model.records.Resource` record."""
        return [
            Resource(pool, capacity, self.booked[pool], ResourceType.for_pool(pool))
            for pool, capacity in self.capacity.items()
        ]


@dataclass(frozen=True, slots=True)
class TreeSample:
    """Measured use of one attempt's process tree."""

    cpu_percent: float
    rss_bytes: int
    processes: int


class TreeMeter:
    """Measures a process tree over time; psutil needs the same objects between calls."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def sample(self, root_pid: int) -> TreeSample | None:
        """CPU% since the last sample and RSS of ``root_pid`` and all its descendants."""
        try:
            root = self._process(root_pid)
            members = [root, *root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        cpu = 0.0
        rss = 0
        alive: dict[int, psutil.Process] = {}
        for member in members:
            process = self._known.get(member.pid, member)
            try:
                with process.oneshot():
                    cpu += process.cpu_percent(None)
                    rss += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            alive[process.pid] = process
        self._known = alive
        return TreeSample(cpu, rss, len(alive))

    def _process(self, pid: int) -> psutil.Process:
        return self._known.get(pid) or psutil.Process(pid)


class UsageMonitor:
    """Samples running attempts about once a second while any run, and idles otherwise.

    Args:
        running: Returns ``{key: root pid}`` of the attempts running now.
        booked: Returns the pools' current bookings and capacities.
        emit: Receives each sample: the per-attempt figures and the totals.
        interval: Seconds between samples.
    """

    def __init__(
        self,
        running: Callable[[], Mapping[tuple[str, int], int]],
        booked: Callable[[], tuple[Mapping[str, int], Mapping[str, int]]],
        emit: Callable[[dict[tuple[str, int], TreeSample], ResourceUsage], None],
        interval: float = 1.0,
    ) -> None:
        self._running = running
        self._booked = booked
        self._emit = emit
        self._interval = interval
        self._meters: dict[tuple[str, int], TreeMeter] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        psutil.cpu_percent(None)

    def poke(self) -> None:
        """Something started: make sure sampling runs."""
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            running = dict(self._running())
            if not running:
                self._meters.clear()
                self._wake.clear()
                await self._wake.wait()
                continue
            samples = await asyncio.to_thread(self._measure, running)
            booked, capacity = self._booked()
            self._emit(samples, self._totals(samples, booked, capacity))
            await asyncio.sleep(self._interval)

    def _measure(self, running: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], TreeSample]:
        meters = {key: self._meters.get(key) or TreeMeter() for key in running}
        self._meters = meters
        samples = {}
        for key, pid in running.items():
            sample = meters[key].sample(pid)
            if sample is not None:
                samples[key] = sample
        return samples

    @staticmethod
    def _totals(
        samples: Mapping[tuple[str, int], TreeSample],
        booked: Mapping[str, int],
        capacity: Mapping[str, int],
    ) -> ResourceUsage:
        return ResourceUsage(
            at=time.time(),
            booked=dict(booked),
            capacity=dict(capacity),
            cpu_percent=sum(sample.cpu_percent for sample in samples.values()),
            rss_bytes=sum(sample.rss_bytes for sample in samples.values()),
            system_cpu_percent=psutil.cpu_percent(None),
            system_memory_percent=psutil.virtual_memory().percent,
        )
