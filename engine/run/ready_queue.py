"""Ready tasks in dispatch order: priority, then first-come, among those whose resources fit.

Tasks are kept in one heap per resource request (tasks asking for the same pools share a
heap), so a dispatch looks at the head of a handful of heaps instead of scanning every ready
task for one that fits. Entries that went stale (the task was held, cancelled or skipped
while ready) are dropped lazily when they reach a head.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping

Entry = tuple[int, int, str]
Signature = tuple[tuple[str, int], ...]


class ReadyQueue:
    """Heaps of ``(priority rank, order, task)`` keyed by the task's resource request."""

    def __init__(self) -> None:
        self._heaps: dict[Signature, list[Entry]] = {}

    def push(self, rank: int, order: int, task: str, resources: Mapping[str, int]) -> None:
        """Queue ``task``; ``order`` is its first-come stamp (it identifies this entry)."""
        signature = tuple(sorted(resources.items()))
        heapq.heappush(self._heaps.setdefault(signature, []), (rank, order, task))

    def pop(
        self,
        current: Callable[[str, int], bool],
        fits: Callable[[Mapping[str, int]], bool],
    ) -> str | None:
        """Remove and return the best task whose request ``fits``, or None.

        Args:
            current: Whether ``(task, order)`` is still a live, ready entry.
            fits: Whether a resource request fits in the pools now.
        """
        best: Entry | None = None
        best_heap: list[Entry] | None = None
        for signature, heap in self._heaps.items():
            while heap and not current(heap[0][2], heap[0][1]):
                heapq.heappop(heap)
            if not heap or (best is not None and heap[0] >= best):
                continue
            if signature and not fits(dict(signature)):
                continue
            best, best_heap = heap[0], heap
        if best is None or best_heap is None:
            return None
        heapq.heappop(best_heap)
        return best[2]
