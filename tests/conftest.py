"""Shared fixtures: workspace writers, and the no-orphans guard every test runs under."""

from __future__ import annotations

import contextlib
import os
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_projects"

# Every process started during the run inherits this marker, even when it is re-parented
# (a `sleep &` whose shell died), so the guard below finds it wherever it ended up.
MARKER = "FORMICARY_TEST_RUN"
os.environ[MARKER] = uuid.uuid4().hex


def marked_processes() -> list[psutil.Process]:
    """Live processes (other than this one) that inherited this test run's marker, and this
    process's own descendants (a child between fork and exec does not show the marker yet)."""
    found = [child for child in psutil.Process().children(recursive=True) if _alive(child)]
    me = os.getpid()
    for process in psutil.process_iter(["pid"]):
        if process.pid == me:
            continue
        try:
            if (
                process.environ().get(MARKER) == os.environ[MARKER]
                and _alive(process)
                and process not in found
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(autouse=True)
def private_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's ~/.config (saved theme, settings)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Fail the test if any process it started is still alive shortly after it ends."""
    yield
    deadline = time.monotonic() + 5.0
    left = marked_processes()
    while left and time.monotonic() < deadline:
        psutil.wait_procs(left, timeout=0.2)
        left = marked_processes()
    if left:
        described = [f"{p.pid} {' '.join(p.cmdline())}" for p in left]
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        pytest.fail(f"processes left behind: {described}")


WriteProject = Callable[..., Path]


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """Write ``formicary.toml`` (dedented) into ``tmp_path/folder`` and return the file."""

    def write(text: str, folder: str = "proj") -> Path:
        target = tmp_path / folder
        target.mkdir(parents=True, exist_ok=True)
        file = target / "formicary.toml"
        file.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return file

    return write


def make_project(root: Path, tasks: dict[str, dict[str, object]], **workflow: object) -> object:
    """A ProjectSpec (rooted at ``root``) with one workflow ``main`` built from ``tasks``.

    Each value is a dict of TaskSpec fields; ``depends_on`` may be a list.
    """
    from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec, default_pools

    specs = {}
    for name, fields in tasks.items():
        values = dict(fields)
        values["depends_on"] = tuple(values.get("depends_on", ()))  # type: ignore[arg-type]
        specs[name] = TaskSpec(name=name, **values)  # type: ignore[arg-type]
    pools = {**default_pools(), **workflow.pop("pools", {})}  # type: ignore[dict-item]
    flow = WorkflowSpec(name="main", tasks=specs, **workflow)  # type: ignore[arg-type]
    return ProjectSpec(name="test", workflows={"main": flow}, resources=pools, root=root)


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of sample_projects (runs write outputs into project folders)."""
    import shutil

    target = tmp_path / "samples"
    shutil.copytree(
        SAMPLES, target, ignore=shutil.ignore_patterns("out", ".chaos", "dist", ".formicary")
    )
    return target
