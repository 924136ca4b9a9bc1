"""Child processes watched by the event loop (a pidfd on Linux, a waiting thread elsewhere):
exit codes, output, the pipe kept open by grandchildren, cancellation."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from formicary.run.executors import Job, child
from formicary.run.executors.child import start_child
from formicary.run.executors.local import LocalExecutor

from tests.engine_support import DEADLINE, eventually, process_alive

GATE = "while [ ! -e {gate} ]; do sleep 0.01; done"


@pytest.fixture(params=["pidfd", "thread"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with both ways of watching a child."""
    if request.param == "thread":
        monkeypatch.setattr(child, "_PIDFD", False)
    return str(request.param)


async def test_output_and_exit_code(kind: str, tmp_path: Path) -> None:
    chunks: list[bytes] = []
    script = "echo one; echo two >&2; exit 3"
    started = start_child(["/bin/sh", "-c", script], str(tmp_path), None, chunks.append)
    assert await started.exited() == 3
    await started.drained()
    assert b"".join(chunks) == b"one\ntwo\n"


async def test_a_signal_is_a_negative_exit_code(kind: str, tmp_path: Path) -> None:
    started = start_child(["/bin/sh", "-c", "kill -TERM $$"], str(tmp_path), None, print)
    assert await started.exited() == -signal.SIGTERM


async def test_environment_and_folder(kind: str, tmp_path: Path) -> None:
    chunks: list[bytes] = []
    env = {"PATH": os.environ["PATH"], "GREETING": "hello"}
    started = start_child(
        ["/bin/sh", "-c", 'echo "$GREETING"; pwd'], str(tmp_path), env, chunks.append
    )
    assert await started.exited() == 0
    await started.drained()
    assert b"".join(chunks).decode().split() == ["hello", str(tmp_path)]


async def test_drained_waits_for_whoever_still_holds_the_pipe(kind: str, tmp_path: Path) -> None:
    chunks: list[bytes] = []
    gate = tmp_path / "gate"
    script = f"({GATE.format(gate=gate)}; echo late) & echo early"
    started = start_child(["/bin/sh", "-c", script], str(tmp_path), None, chunks.append)
    assert await started.exited() == 0
    drained = asyncio.ensure_future(started.drained())
    done, _ = await asyncio.wait({drained}, timeout=0.2)
    assert not done, "drained while a background process still held the pipe"
    gate.touch()
    await asyncio.wait_for(drained, DEADLINE)
    assert b"".join(chunks) == b"early\nlate\n"


async def test_the_child_leads_a_process_group_of_its_own(kind: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    started = start_child(["/bin/sh", "-c", GATE.format(gate=gate)], str(tmp_path), None, print)
    try:
        assert os.getpgid(started.pid) == started.pid != os.getpgid(0)
    finally:
        gate.touch()
    assert await started.exited() == 0


async def test_a_cancelled_attempt_leaves_nothing(kind: str, tmp_path: Path) -> None:
    executor = LocalExecutor(grace=1.0)
    pids: list[int | None] = []
    job = Job(
        session="s",
        task="t",
        attempt=1,
        kind="shell",
        target="sleep 60 & sleep 60",
        cwd=tmp_path,
        log_path=str(tmp_path / "t.1.log"),
    )
    attempt = executor.submit(job, pids.append, lambda lines: None)
    await eventually(lambda: bool(pids))
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    pid = pids[0]
    assert pid is not None
    await eventually(lambda: not process_alive(pid))
