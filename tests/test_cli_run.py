"""`formicary run` on the sample projects, exit codes, and Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from formicary.api.runtime import start_session
from formicary.model.records import SessionStatus, TaskStatus
from formicary.model.targets import resolve_target

from tests.test_cli_foundation import FORMICARY


@pytest.mark.parametrize("project", ["data-pipeline", "web-app", "ai-analysis", "ml-sweep"])
def test_sample_project_completes(project: str, samples: Path) -> None:
    result = subprocess.run(
        [FORMICARY, "-w", str(samples), "run", project],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " completed in " in result.stdout.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_chaos_ends_as_designed_then_passes_after_a_manual_retry(samples: Path) -> None:
    result = subprocess.run(
        [FORMICARY, "-w", str(samples), "run", "chaos", "--param", "long_seconds=1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "✘ slowpoke failed: timed out after 2s" in out
    assert "✘ needs_fix failed: exited with code 3" in out
    assert "⊗ after_fix blocked" in out
    assert "✔ wrap_up completed" in out
    assert "(attempt 3)" in out  # flaky passed on its third attempt


async def test_chaos_needs_fix_passes_after_marker_and_retry(samples: Path) -> None:
    project, workflow = resolve_target(samples, "chaos")
    handle = start_session(
        project, workflow, {"long_seconds": "1"}, workspace=samples, monitor_interval=None
    )
    assert await handle.wait() is SessionStatus.FAILED
    assert handle.state("needs_fix") is TaskStatus.FAILED
    (samples / "chaos" / ".chaos" / "fixed").touch()
    handle.retry("needs_fix")
    handle.skip("slowpoke")
    assert await handle.wait() is SessionStatus.COMPLETED
    assert handle.state("after_fix") is TaskStatus.COMPLETED
    await handle.close()


def test_unknown_project_and_workflow_and_param_exit_2(samples: Path) -> None:
    for args, message in (
        (["run", "nope"], "unknown project 'nope'"),
        (["run", "chaos:nope"], "has no workflow 'nope'"),
        (["run", "chaos", "--param", "nope=1"], "--param nope: unknown parameter"),
        (["run", "chaos", "--param", "long_seconds=abc"], "expected an integer"),
    ):
        result = subprocess.run(
            [FORMICARY, "-w", str(samples), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, args
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_ctrl_c_cancels_the_session_and_leaves_no_process(samples: Path) -> None:
    process = subprocess.Popen(
        [FORMICARY, "-w", str(samples), "run", "chaos", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        seen.append(line)
        if "long_job running" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted: cancelling the session" in rest
    assert "cancelled" in rest.splitlines()[-1]
