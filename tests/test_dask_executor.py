"""The Dask executor on a real ``LocalCluster(processes=True, n_workers=2)`` on loopback.

One cluster serves the module (starting one costs seconds). The conftest's orphan guard is
replaced here by one that spares the cluster's own processes (its worker processes and
multiprocessing's resource tracker, all direct children of this process) and nothing else:
task processes are children of the workers, or orphans re-parented away from them, so any
left behind still fails the test. Once the cluster is closed, nothing marked may remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from formicary.api.runtime import DASK_MISSING, executors_for, start_session
from formicary.errors import UsageError
from formicary.model.records import AttemptOutcome, SessionStatus, TaskStatus
from formicary.model.targets import resolve_target
from formicary.run.executors import Job
from formicary.store.database import Store

from tests.conftest import REPO, WriteProject, marked_processes
from tests.engine_support import record, start, wait_state
from tests.test_cli_foundation import FORMICARY

distributed = pytest.importorskip("distributed")

DEADLINE = 30.0


def _cluster_processes() -> set[int]:
    """This process's direct children that multiprocessing started (workers, tracker)."""
    found = set()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if any("multiprocessing" in part for part in child.cmdline()):
                found.add(child.pid)
    return found


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes on 127.0.0.1, no dashboard; closed with everything it started."""
    from multiprocessing import resource_tracker

    from formicary.run.executors.dask import loopback_cluster_options

    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, **loopback_cluster_options()
    )
    try:
        yield local
    finally:
        local.close()
        # The tracker outlives the workers it watched; it ends when its pipe closes.
        resource_tracker._resource_tracker._stop()
    left = marked_processes()
    assert not left, f"left after the cluster closed: {[p.cmdline() for p in left]}"


@pytest.fixture(autouse=True)
def no_orphans(cluster: Any) -> Iterator[None]:
    """The conftest guard, sparing only the module cluster's own processes."""
    yield
    deadline = time.monotonic() + 5.0
    while True:
        keep = _cluster_processes()
        left = [process for process in marked_processes() if process.pid not in keep]
        if not left or time.monotonic() > deadline:
            break
        psutil.wait_procs(left, timeout=0.2)
    if left:
        described = [f"{p.pid} {' '.join(p.cmdline())}" for p in left]
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        pytest.fail(f"processes left behind: {described}")


def attempt_processes(session: str, task: str, attempt: int | None = None) -> list[int]:
    """Live processes whose environment names this task (its shell and everything below)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            environment = process.environ()
            if environment.get("FORMICARY_SESSION") != session:
                continue
            if environment.get("FORMICARY_TASK") != task:
                continue
            if attempt is None or environment.get("FORMICARY_ATTEMPT") == str(attempt):
                found.append(process.pid)
    return found


def dask(cluster: Any) -> dict[str, Any]:
    return executors_for("dask", cluster.scheduler_address)


async def test_sample_project_completes_and_records_workers(cluster: Any, samples: Path) -> None:
    project, workflow = resolve_target(samples, "data-pipeline")
    handle = start_session(
        project,
        workflow,
        workspace=samples,
        persist=True,
        executor="dask",
        scheduler=cluster.scheduler_address,
        monitor_interval=None,
    )
    recorder = record(handle)
    try:
        assert await asyncio.wait_for(handle.wait(), DEADLINE) is SessionStatus.COMPLETED
    finally:
        await handle.close()
    workers = set(cluster.scheduler_info["workers"])
    started = [e for e in recorder.events if e.kind == "task_state" and "log" in e.data]
    assert started and all(event.data["worker"] in workers for event in started)
    for name in workflow.tasks:
        (result,) = handle.history(name)
        assert result.outcome is AttemptOutcome.SUCCEEDED
        assert result.worker in workers
    assert (samples / "data_pipeline" / "out" / "report.md").exists()
    session = handle.session_id
    store = Store.for_workspace(samples)
    try:
        attempts = store.attempts(int(session))
    finally:
        store.close()
    assert {attempt.worker for attempt in attempts} <= workers
    assert all(attempt.worker for attempt in attempts)


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_stop_ends_the_process_group_on_the_worker(
    cluster: Any, tmp_path: Path, how: str
) -> None:
    command = "sh -c 'sleep 60 & echo started; sleep 60'"
    spec: dict[str, Any] = {"run": command}
    if how == "timeout":
        spec["timeout"] = 2.0
    handle = start(tmp_path, {"slow": spec}, executors=dask(cluster), own_executors=True)
    recorder = record(handle)
    try:
        await recorder.until(
            lambda: any(
                e.kind == "output" and "started" in e.data["lines"] for e in recorder.events
            )
        )
        processes = attempt_processes(handle.session_id, "slow")
        assert len(processes) >= 3  # the shells and both sleeps
        if how == "cancel":
            handle.cancel("slow")
        await wait_state(
            handle,
            recorder,
            "slow",
            TaskStatus.FAILED if how == "timeout" else TaskStatus.CANCELLED,
        )
        assert attempt_processes(handle.session_id, "slow") == []
        (result,) = handle.history("slow")
        expected = AttemptOutcome.TIMED_OUT if how == "timeout" else AttemptOutcome.CANCELLED
        assert result.outcome is expected
        assert result.worker is not None
    finally:
        await handle.close()


async def test_output_reaches_the_log_while_the_task_runs(cluster: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    handle = start(
        tmp_path,
        {"talk": {"run": f"echo first; read line < {gate}; echo second $line"}},
        executors=dask(cluster),
        own_executors=True,
    )
    recorder = record(handle)
    try:
        await recorder.until(
            lambda: any(e.kind == "output" and "first" in e.data["lines"] for e in recorder.events)
        )
        log = handle.log_path("talk", 1)
        assert log.read_text() == "first\n"
        assert handle.state("talk") is TaskStatus.RUNNING
        writer = await asyncio.to_thread(os.open, gate, os.O_WRONLY)
        os.write(writer, b"done\n")
        os.close(writer)
        assert await asyncio.wait_for(handle.wait(), DEADLINE) is SessionStatus.COMPLETED
        assert log.read_text() == "first\nsecond done\n"
    finally:
        await handle.close()


async def test_a_killed_worker_makes_the_attempt_lost_and_the_retry_completes(
    cluster: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-once"
    command = (
        f"if [ -e {marker} ]; then echo again; else touch {marker}; echo started; sleep 60; fi"
    )
    handle = start(
        tmp_path,
        {"fragile": {"run": command, "retries": 1, "retry_delay": 0.1}},
        executors=dask(cluster),
        own_executors=True,
    )
    recorder = record(handle)
    try:
        await recorder.until(
            lambda: any(
                e.kind == "output" and "started" in e.data["lines"] for e in recorder.events
            )
        )
        (running,) = [e for e in recorder.events if e.kind == "task_state" and "log" in e.data]
        address = running.data["worker"]
        executor = handle.scheduler._executors["shell"]
        pids = await executor.client.run(os.getpid, workers=[address])
        assert attempt_processes(handle.session_id, "fragile", 1)
        os.kill(pids[address], signal.SIGKILL)
        assert await asyncio.wait_for(handle.wait(), DEADLINE) is SessionStatus.COMPLETED
        first, second = handle.history("fragile")
        assert first.outcome is AttemptOutcome.LOST
        assert first.worker == address
        assert "lost" in first.reason
        assert second.outcome is AttemptOutcome.SUCCEEDED
        assert handle.log_path("fragile", 2).read_text() == "again\n"
        # The sleep the dead worker left behind was ended by a worker on the same host.
        assert attempt_processes(handle.session_id, "fragile", 1) == []
        first_log = handle.log_path("fragile", 1).read_text()
        assert first_log.startswith("started\n[formicary] lost: worker ")
        assert "process(es) the lost attempt left on 127.0.0.1" in first_log
    finally:
        await handle.close()
        await asyncio.to_thread(cluster.wait_for_workers, 2, 30)


CALLABLES = """
import asyncio
import os
import time


def value(n):
    print("computing", n)
    return {"n": n, "pid": os.getpid()}


async def forever():
    print("waiting")
    await asyncio.sleep(3600)


def stubborn(gate):
    print("stubborn", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
"""


async def test_python_callables_run_on_workers(cluster: Any, tmp_path: Path) -> None:
    (tmp_path / "callables.py").write_text(textwrap.dedent(CALLABLES))
    gate = tmp_path / "gate"
    handle = start(
        tmp_path,
        {
            "value": {"call": "callables:value", "args": {"n": 3}},
            "forever": {"call": "callables:forever"},
            "stubborn": {"call": "callables:stubborn", "args": {"gate": str(gate)}},
        },
        executors=dask(cluster),
        own_executors=True,
    )
    recorder = record(handle)
    try:
        await wait_state(handle, recorder, "value", TaskStatus.COMPLETED)
        (result,) = handle.history("value")
        assert result.value["n"] == 3
        assert result.value["pid"] != os.getpid()  # it ran in a worker process
        assert handle.log_path("value", 1).read_text() == "computing 3\n"

        def printed(task: str, text: str) -> bool:
            return any(
                e.kind == "output" and e.task == task and text in e.data["lines"]
                for e in recorder.events
            )

        await recorder.until(
            lambda: printed("forever", "waiting") and printed("stubborn", "stubborn")
        )
        handle.cancel("forever")
        handle.cancel("stubborn")
        await wait_state(handle, recorder, "forever", TaskStatus.CANCELLED)
        await wait_state(handle, recorder, "stubborn", TaskStatus.CANCELLED)
        assert "cannot be interrupted" not in handle.history("forever")[0].reason
        assert "cannot be interrupted" in handle.history("stubborn")[0].reason
        assert "cannot be interrupted" in handle.log_path("stubborn", 1).read_text()
    finally:
        gate.touch()
        await handle.close()


def test_keys_priorities_and_resources() -> None:
    from formicary.run.executors.dask import DaskExecutor

    executor = DaskExecutor("tcp://127.0.0.1:1")
    job = Job(
        "7",
        "extract",
        2,
        "shell",
        "true",
        REPO,
        "/tmp/x.log",
        priority=1,
        resources={"gpu": 1, "cpu": 2, "db": 5},
    )
    other = DaskExecutor("tcp://127.0.0.1:1")
    assert executor.key(job) != other.key(job)
    assert executor.key(job) != executor.key(job._replace(attempt=3))
    assert executor._resources(job) is None  # no worker declares a resource
    executor._declared = {"gpu": 2, "db": 1}
    assert executor._resources(job) == {"gpu": 1}  # cpu undeclared, db more than any holds


async def test_workflow_executor_in_toml_selects_dask(
    cluster: Any, write_project: WriteProject, tmp_path: Path
) -> None:
    write_project(
        """
        [project]
        name = "remote"

        [workflows.main]
        executor = "dask"

        [workflows.main.tasks.hello]
        run = "echo hello from $FORMICARY_TASK"
        """
    )
    project, workflow = resolve_target(tmp_path, "remote")
    assert workflow.executor == "dask"
    handle = start_session(
        project,
        workflow,
        workspace=tmp_path,
        scheduler=cluster.scheduler_address,
        monitor_interval=None,
    )
    try:
        assert handle.scheduler._executors["shell"].name == "dask"
        assert await asyncio.wait_for(handle.wait(), DEADLINE) is SessionStatus.COMPLETED
        assert handle.log_path("hello", 1).read_text() == "hello from hello\n"
        assert handle.history("hello")[0].worker is not None
    finally:
        await handle.close()


def test_cli_runs_on_a_scheduler_and_rejects_a_bad_address(cluster: Any, samples: Path) -> None:
    base = [FORMICARY, "-w", str(samples), "run", "web-app", "--plain"]
    result = subprocess.run(
        [*base, "--scheduler", cluster.scheduler_address],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " completed in " in result.stdout.splitlines()[-1]
    own = subprocess.run(  # no address: the executor starts and closes a local cluster
        [*base, "--executor", "dask"], capture_output=True, text=True, timeout=120, check=False
    )
    assert own.returncode == 0, own.stdout + own.stderr
    assert " completed in " in own.stdout.splitlines()[-1]
    assert "Traceback" not in own.stderr
    bad = subprocess.run(
        [*base, "--executor", "dask", "--scheduler", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "formicary: error: --scheduler 127.0.0.1: expected an address like tcp://HOST:PORT"
    ]


def test_without_distributed_asking_for_dask_says_how_to_install(samples: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["distributed"] = None  # as if it were not installed
        from formicary.cli import main
        code = main(["-w", {str(samples)!r}, "run", "web-app", "--executor", "dask"])
        assert "distributed" not in [m for m in sys.modules if sys.modules[m] is not None]
        sys.exit(code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"formicary: error: {DASK_MISSING}"]
    with pytest.raises(UsageError, match="only the dask executor"):
        executors_for("local", "tcp://127.0.0.1:8786")


def test_the_base_install_does_not_import_distributed(samples: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from formicary.cli import main
        code = main(["-w", {str(samples)!r}, "run", "web-app", "--plain"])
        assert code == 0, code
        assert "distributed" not in sys.modules, "distributed was imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_resume_after_the_engine_is_killed_ends_what_its_cluster_left(tmp_path: Path) -> None:
    project = tmp_path / "crashy"
    project.mkdir()
    (project / "formicary.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "crashy"
            [workflows.w]
            executor = "dask"
            [workflows.w.tasks.long]
            run = "echo $$ > started; sleep 60"
            """
        )
    )
    engine = subprocess.Popen(
        [FORMICARY, "-w", str(tmp_path), "run", "crashy", "--plain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = project / "started"
    deadline = time.monotonic() + DEADLINE
    while not started.exists() or not started.read_text().strip():
        assert time.monotonic() < deadline and engine.poll() is None, "the task never started"
        time.sleep(0.05)
    group = int(started.read_text())
    while _stored_state(tmp_path, "long") != "running":  # what the store knows is recovered
        assert time.monotonic() < deadline and engine.poll() is None, "never recorded running"
        time.sleep(0.05)
    engine.kill()  # kill -9 the engine; its local cluster dies, the task's shell stays
    engine.wait(30)
    resumed = subprocess.run(
        [FORMICARY, "-w", str(tmp_path), "resume", "--plain"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr  # lost, no retries: failed
    assert (
        "lost"
        in subprocess.run(
            [FORMICARY, "-w", str(tmp_path), "status", "1"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    deadline = time.monotonic() + DEADLINE
    while any(_in_group(pid, group) for pid in psutil.pids()):
        assert time.monotonic() < deadline, "the lost attempt's processes were not ended"
        time.sleep(0.05)


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def _stored_state(workspace: Path, task: str) -> str | None:
    try:
        store = Store.for_workspace(workspace, create=False)
    except UsageError:
        return None
    try:
        return next((t.state for t in store.tasks(1) if t.name == task), None)
    except LookupError:
        return None
    finally:
        store.close()
