"""The event bus under a slow subscriber, and measured resource use of real processes."""

from __future__ import annotations

from pathlib import Path

from formicary.model.records import SessionStatus
from formicary.run.events import EventBus, EventKind
from formicary.run.resources import ResourcePools, TreeMeter

from tests.engine_support import record, start


def test_slow_subscriber_loses_oldest_events_and_counts_them() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxsize=10)
    fast = bus.subscribe(maxsize=1000)
    for index in range(25):
        bus.publish("s", EventKind.TASK_STATE, f"t{index}", 1, {"state": "ready"})
    kept = slow.drain()
    assert slow.dropped == 15
    assert [event.task for event in kept] == [f"t{index}" for index in range(15, 25)]
    assert len(fast.drain()) == 25 and fast.dropped == 0
    assert [event.seq for event in kept] == list(range(16, 26))


def test_subscription_filters_kinds_and_closes() -> None:
    bus = EventBus()
    only_output = bus.subscribe(kinds=frozenset({EventKind.OUTPUT}))
    bus.publish("s", EventKind.TASK_STATE, "a")
    bus.publish("s", EventKind.OUTPUT, "a", 1, {"lines": ["x"]})
    events = only_output.drain()
    assert [event.kind for event in events] == [EventKind.OUTPUT]
    assert events[0].seq == 0  # output is not numbered
    only_output.close()
    bus.publish("s", EventKind.OUTPUT, "a", 1, {"lines": ["y"]})
    assert only_output.drain() == []


async def test_engine_does_not_wait_for_a_subscriber_that_never_reads(tmp_path: Path) -> None:
    handle = start(tmp_path, {f"t{i}": {"run": "echo tick"} for i in range(30)})
    never_read = handle.subscribe(maxsize=5)
    assert await handle.wait() is SessionStatus.COMPLETED
    assert never_read.dropped > 0
    await handle.close()


def test_pools_book_and_release_exactly() -> None:
    pools = ResourcePools({"cpu": 2, "db": 1})
    assert pools.fits({"cpu": 2, "db": 1})
    pools.acquire({"cpu": 1, "db": 1})
    assert not pools.fits({"db": 1}) and pools.fits({"cpu": 1})
    assert pools.available() == {"cpu": 1, "db": 0}
    pools.release({"cpu": 1, "db": 1})
    assert pools.available() == {"cpu": 2, "db": 1}


async def test_samples_measure_the_cpu_and_memory_of_the_whole_tree(tmp_path: Path) -> None:
    burn = (
        "python3 -c 'import time\n"
        "data = bytearray(60 * 1024 * 1024)\n"
        "end = time.time() + 3\n"
        "while time.time() < end: pass'"
    )
    handle = start(tmp_path, {"burn": {"run": f'sh -c "{burn}"'}}, monitor_interval=0.3)
    recorder = record(handle)
    samples = lambda: [  # noqa: E731
        e for e in recorder.events if e.kind is EventKind.RESOURCE_SAMPLE and e.data["tasks"]
    ]
    await recorder.until(lambda: len(samples()) >= 3 or handle.finished)
    measured = samples()[-1].data
    task = measured["tasks"]["burn.1"]
    assert task["processes"] >= 2  # the shells and the python process
    assert task["rss"] >= 60 * 1024 * 1024
    assert task["cpu"] > 20.0
    assert measured["system_memory"] > 0
    handle.cancel("burn")
    await handle.wait()
    await handle.close()


def test_tree_meter_of_a_missing_process_is_none() -> None:
    assert TreeMeter().sample(2**22 + 12345) is None
