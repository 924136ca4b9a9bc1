"""Property test: on random DAGs with random pools, dependencies and pools always hold."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from formicary.model.records import SessionStatus, TaskStatus
from formicary.run.events import Event, EventKind
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine_support import start

ROOT = Path(tempfile.mkdtemp(prefix="formicary-prop-"))
(ROOT / "proptasks.py").write_text(
    "import asyncio\n\nasync def work(turns):\n    for _ in range(turns):\n"
    "        await asyncio.sleep(0)\n",
    encoding="utf-8",
)


@st.composite
def workloads(draw: st.DrawFn) -> tuple[dict[str, dict[str, object]], dict[str, int], int]:
    pools = {"a": draw(st.integers(1, 3)), "b": draw(st.integers(1, 2))}
    count = draw(st.integers(1, 25))
    tasks: dict[str, dict[str, object]] = {}
    for index in range(count):
        earlier = [f"t{i}" for i in range(index)]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        request = {pool: draw(st.integers(0, capacity)) for pool, capacity in pools.items()}
        tasks[f"t{index}"] = {
            "call": "proptasks:work",
            "args": {"turns": draw(st.integers(0, 5))},
            "depends_on": deps,
            "resources": {pool: amount for pool, amount in request.items() if amount},
        }
    return tasks, pools, draw(st.integers(1, 6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_no_task_starts_early_and_no_pool_is_over_committed(
    workload: tuple[dict[str, dict[str, object]], dict[str, int], int],
) -> None:
    tasks, pools, max_parallel = workload

    async def scenario() -> None:
        handle = start(ROOT, tasks, pools=pools, max_parallel=max_parallel)
        scheduler = handle.scheduler
        violations: list[str] = []
        peak_running = 0

        def check(event: Event) -> None:
            nonlocal peak_running
            for pool, booked in scheduler.pools.booked.items():
                if booked > scheduler.pools.capacity[pool]:
                    violations.append(f"pool {pool} booked {booked}")
            if event.kind is EventKind.TASK_STATE and event.data["state"] == "running":
                for dep in tasks[event.task or ""]["depends_on"]:  # type: ignore[union-attr]
                    if scheduler.state(dep) is not TaskStatus.COMPLETED:
                        violations.append(f"{event.task} started before {dep} completed")
                peak_running = max(peak_running, scheduler.counts().get(TaskStatus.RUNNING, 0))

        scheduler.bus.add_listener(check)
        # The first dispatch happens on the next loop turn, after the listener is attached.
        assert await asyncio.wait_for(handle.wait(), 30) is SessionStatus.COMPLETED
        await handle.close()
        assert violations == []
        assert peak_running <= max_parallel

    asyncio.run(scenario())
