"""``ResourceManager``: counted pools that code (and tasks submitted through the API) book,
with usage that reports both what is booked and what is measured.

Booking is exact and thread-safe: an allocation either fits now or is refused, and it is
never over-committed. Measured figures come from the processes of the sessions an
:class:`~formicary.api.orchestration.OrchestrationEngine` runs, and from the machine (psutil).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from typing import TYPE_CHECKING

import psutil
from formicary.errors import ResourceBusyError, UsageError
from formicary.model.records import Resource, ResourceAllocation, ResourceType, ResourceUsage
from formicary.model.specs import default_pools

if TYPE_CHECKING:
    from formicary.api.orchestration import OrchestrationEngine


class ResourceManager:
    """Pools by name, their allocations, and their usage.

    Args:
        pools: Capacity per pool (default: ``cpu`` = the machine's cores).
        engine: Where measured usage comes from (none: only the machine's own figures).
    """

    def __init__(
        self,
        pools: Mapping[str, int] | None = None,
        *,
        engine: OrchestrationEngine | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._capacity: dict[str, int] = {}
        self._types: dict[str, ResourceType] = {}
        self._booked: dict[str, int] = {}
        self._allocations: dict[str, ResourceAllocation] = {}
        self._on_release: list[Callable[[], None]] = []
        self.engine = engine
        for name, capacity in (default_pools() if pools is None else pools).items():
            self.add_pool(name, capacity)

    # -- pools ---------------------------------------------------------------------------

    def add_pool(self, name: str, capacity: int, type: ResourceType | None = None) -> Resource:
        """Add a pool, or change the capacity of one (never below what is booked).

        Raises:
            UsageError: The name is empty, or the capacity is not a positive whole number
                or is below what is booked now.
        """
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"pool name {name!r}: must be a non-empty string")
        _check_amount(f"pool {name!r}: capacity", capacity)
        with self._lock:
            booked = self._booked.get(name, 0)
            if capacity < booked:
                raise UsageError(f"pool {name!r}: capacity {capacity} is below {booked} booked")
            self._capacity[name] = capacity
            self._booked[name] = booked
            self._types[name] = type or ResourceType.for_pool(name)
            return self._resource(name)

    def get_resource(self, name: str) -> Resource:
        """One pool now.

        Raises:
            UsageError: No such pool.
        """
        with self._lock:
            self._require(name)
            return self._resource(name)

    def list_resources(self) -> list[Resource]:
        """Every pool now."""
        with self._lock:
            return [self._resource(name) for name in self._capacity]

    def capacities(self) -> dict[str, int]:
        """Capacity per pool."""
        with self._lock:
            return dict(self._capacity)

    # -- booking -------------------------------------------------------------------------

    def allocate(self, pool: str, amount: int, owner: str = "api") -> ResourceAllocation:
        """Book ``amount`` units of ``pool`` for ``owner``.

        Raises:
            UsageError: Unknown pool, or an amount that is not a positive whole number or
                exceeds the pool's capacity (it could never be granted).
            ResourceBusyError: It fits the pool but not what is free now.
        """
        booked = self.try_allocate({pool: amount}, owner)
        if booked is None:
            with self._lock:
                free = self._capacity[pool] - self._booked[pool]
            raise ResourceBusyError(pool, amount, free)
        return booked[0]

    def try_allocate(
        self, request: Mapping[str, int], owner: str = "api"
    ) -> list[ResourceAllocation] | None:
        """Book every amount of ``request`` at once, or nothing (None) when any pool lacks
        room now.

        Raises:
            UsageError: Unknown pool, or an impossible amount.
        """
        with self._lock:
            for pool, amount in request.items():
                self._require(pool)
                _check_amount(f"pool {pool!r}: amount", amount)
                if amount > self._capacity[pool]:
                    raise UsageError(
                        f"pool {pool!r}: {amount} requested but its capacity is "
                        f"{self._capacity[pool]}; it can never be granted"
                    )
            if any(self._booked[p] + n > self._capacity[p] for p, n in request.items()):
                return None
            made = []
            for pool, amount in request.items():
                self._booked[pool] += amount
                allocation = ResourceAllocation(pool, amount, owner)
                self._allocations[allocation.id] = allocation
                made.append(allocation)
            return made

    def release(self, allocation: ResourceAllocation | str) -> None:
        """Give back one allocation.

        Raises:
            UsageError: It is not (or no longer) booked.
        """
        key = allocation if isinstance(allocation, str) else allocation.id
        with self._lock:
            found = self._allocations.pop(key, None)
            if found is None:
                raise UsageError(f"allocation {key}: not booked (already released?)")
            self._booked[found.pool] -= found.amount
            listeners = list(self._on_release)
        for listener in listeners:
            listener()

    def allocations(self, owner: str | None = None) -> list[ResourceAllocation]:
        """Allocations held now (of ``owner`` only, if given)."""
        with self._lock:
            return [a for a in self._allocations.values() if owner in (None, a.owner)]

    def on_release(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the releasing thread) after every release."""
        with self._lock:
            self._on_release.append(listener)

    # -- usage ---------------------------------------------------------------------------

    def get_usage(self) -> ResourceUsage:
        """Booked units per pool, and measured CPU% and RSS of the processes the engine's
        sessions run now (None without an engine), and the machine's CPU and memory."""
        with self._lock:
            booked = dict(self._booked)
            capacity = dict(self._capacity)
        cpu: float | None = None
        rss: int | None = None
        if self.engine is not None:
            measured = self.engine.get_system_status()["measured"]
            cpu, rss = measured["cpu_percent"], measured["rss_bytes"]
        return ResourceUsage(
            at=time.time(),
            booked=booked,
            capacity=capacity,
            cpu_percent=cpu,
            rss_bytes=rss,
            system_cpu_percent=psutil.cpu_percent(None),
            system_memory_percent=psutil.virtual_memory().percent,
        )

    # -- internals -----------------------------------------------------------------------

    def _require(self, name: str) -> None:
        if name not in self._capacity:
            close = get_close_matches(str(name), list(self._capacity), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise UsageError(f"unknown pool {name!r}{hint}")

    def _resource(self, name: str) -> Resource:
        return Resource(name, self._capacity[name], self._booked[name], self._types[name])


def _check_amount(what: str, amount: object) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise UsageError(f"{what} {amount!r}: must be a whole number of at least 1")
