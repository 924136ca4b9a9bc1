"""Python callables as tasks: output, return values, exceptions, cancellation, imports."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from formicary.model.records import SessionStatus, TaskStatus
from formicary.run.events import EventKind

from tests.engine_support import record, start

MODULE = """
import asyncio
import threading
import time
from pathlib import Path

def greet(name, times=1):
    for _ in range(times):
        print(f"hello {name}")
    return {"greeted": name}

def boom():
    raise ValueError("no good")

async def slow_async(flag):
    try:
        await asyncio.sleep(60)
    finally:
        Path(flag).write_text("stopped")

RELEASE = threading.Event()

def slow_sync():
    RELEASE.wait(30)
    return "finished"

def where():
    return __file__
"""


def write_module(root: Path, name: str = "tasks", body: str = MODULE) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")


async def test_output_and_return_value(tmp_path: Path) -> None:
    write_module(tmp_path)
    handle = start(
        tmp_path,
        {"greet": {"call": "tasks:greet", "args": {"name": "{who}", "times": 2}}},
        params={"who": "ants"},
    )
    subscription = handle.subscribe(kinds=frozenset({EventKind.OUTPUT}))
    assert await handle.wait() is SessionStatus.COMPLETED
    lines = [line for event in subscription.drain() for line in event.data["lines"]]
    assert lines == ["hello ants", "hello ants"]
    assert handle.log_path("greet", 1).read_text() == "hello ants\nhello ants\n"
    assert handle.history("greet")[-1].value == {"greeted": "ants"}
    await handle.close()


async def test_exception_fails_with_traceback_in_log(tmp_path: Path) -> None:
    write_module(tmp_path)
    handle = start(tmp_path, {"boom": {"call": "tasks:boom"}})
    assert await handle.wait() is SessionStatus.FAILED
    result = handle.history("boom")[-1]
    assert result.reason == "ValueError: no good"
    log = handle.log_path("boom", 1).read_text()
    assert "Traceback (most recent call last)" in log and "ValueError: no good" in log
    await handle.close()


async def test_missing_module_fails_the_attempt(tmp_path: Path) -> None:
    handle = start(tmp_path, {"gone": {"call": "nowhere:main"}})
    assert await handle.wait() is SessionStatus.FAILED
    assert "ModuleNotFoundError" in handle.history("gone")[-1].reason
    await handle.close()


async def test_cancel_really_stops_an_async_callable(tmp_path: Path) -> None:
    write_module(tmp_path)
    flag = tmp_path / "flag.txt"
    handle = start(tmp_path, {"slow": {"call": "tasks:slow_async", "args": {"flag": str(flag)}}})
    recorder = record(handle)
    await recorder.until(lambda: any("log" in e.data for e in recorder.events))
    handle.cancel("slow")
    # Cancelled, not failed: nothing failed (formicary.model.states.final_session_status).
    assert await handle.wait() is SessionStatus.CANCELLED
    assert handle.state("slow") is TaskStatus.CANCELLED
    assert flag.read_text() == "stopped"
    assert "cannot be interrupted" not in handle.history("slow")[-1].reason
    await handle.close()


async def test_timeout_of_a_sync_callable_is_reported_honestly(tmp_path: Path) -> None:
    write_module(tmp_path)
    handle = start(tmp_path, {"slow": {"call": "tasks:slow_sync", "timeout": 0.2}})
    assert await handle.wait() is SessionStatus.FAILED
    result = handle.history("slow")[-1]
    assert result.outcome == "timed_out"
    assert "cannot be interrupted and may still be running" in result.reason
    import sys

    sys.modules["tasks"].RELEASE.set()  # let the abandoned thread finish
    await handle.close()


async def test_same_module_name_in_two_projects(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        (root / "scripts").mkdir(parents=True)
        (root / "scripts" / "__init__.py").write_text("")
        write_module(root / "scripts", "report", "def where():\n    return __file__\n")
    for root in (one, two):
        handle = start(root, {"w": {"call": "scripts.report:where"}})
        assert await handle.wait() is SessionStatus.COMPLETED
        assert handle.history("w")[-1].value.startswith(str(root))
        await handle.close()


async def test_edited_module_is_imported_again_by_the_next_session(tmp_path: Path) -> None:
    write_module(tmp_path, "edit", "def value():\n    return 1\n")
    handle = start(tmp_path, {"v": {"call": "edit:value"}})
    await handle.wait()
    assert handle.history("v")[-1].value == 1
    await handle.close()
    write_module(tmp_path, "edit", "def value():\n    return 2\n\n\n# longer file\n")
    import os

    stat = (tmp_path / "edit.py").stat()
    os.utime(tmp_path / "edit.py", (stat.st_atime, stat.st_mtime + 5))
    handle = start(tmp_path, {"v": {"call": "edit:value"}})
    await handle.wait()
    assert handle.history("v")[-1].value == 2
    await handle.close()


async def test_sync_callables_do_not_block_the_loop(tmp_path: Path) -> None:
    write_module(tmp_path)
    handle = start(tmp_path, {"slow": {"call": "tasks:slow_sync", "timeout": 30}})
    recorder = record(handle)
    await recorder.until(lambda: any("log" in e.data for e in recorder.events))
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 5 and not handle.finished
    import sys

    sys.modules["tasks"].RELEASE.set()
    assert await handle.wait() is SessionStatus.COMPLETED
    assert handle.history("slow")[-1].value == "finished"
    await handle.close()
