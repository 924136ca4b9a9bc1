"""Definition snapshots: written as project_to_dict's JSON, read back equal to the specs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from formicary.model.definitions import load_workspace, parse_project
from formicary.model.records import TaskPriority
from formicary.model.snapshot import load_snapshot, snapshot_text
from formicary.model.specs import Defaults, ProjectSpec, TaskSpec, WorkflowSpec, project_to_dict

SAMPLES = Path(__file__).resolve().parent.parent / "sample_projects"


def sample_projects() -> list[ProjectSpec]:
    projects = list(load_workspace(SAMPLES).projects.values())
    assert projects
    return projects


def tricky_project(root: Path) -> ProjectSpec:
    """Every setting away from its default, inherited and overridden."""
    defaults = Defaults(
        retries=2, retry_delay=0.5, timeout=30.0, priority=TaskPriority.HIGH, env={"A": "1"}
    )
    tasks = {
        "plain": TaskSpec(
            name="plain",
            run="true",
            retries=2,
            retry_delay=0.5,
            timeout=30.0,
            priority=TaskPriority.HIGH,
            env={"A": "1"},
        ),
        "odd": TaskSpec(
            name="odd",
            call="m:f",
            args={"x": 1},
            depends_on=("plain",),
            retries=0,
            retry_delay=0.5,
            timeout=None,
            priority=TaskPriority.LOW,
            description="d",
            resources={"cpu": 1},
            env={"A": "1"},
        ),
        "env": TaskSpec(
            name="env",
            run="echo {p}",
            depends_on=("plain", "odd"),
            retries=2,
            retry_delay=0.5,
            retry_backoff=3.0,
            retry_max_delay=9.0,
            timeout=30.0,
            priority=TaskPriority.HIGH,
            env={"A": "1", "B": "2"},
        ),
    }
    workflow = WorkflowSpec(
        name="w", tasks=tasks, description="x", max_parallel=3, params={"p": "v"}
    )
    return ProjectSpec(
        name="tricky",
        workflows={"w": workflow},
        description="t",
        resources={"cpu": 4, "db": 1},
        defaults=defaults,
        root=root,
    )


def all_projects(tmp_path: Path) -> list[ProjectSpec]:
    return [*sample_projects(), tricky_project(tmp_path)]


def test_snapshot_text_is_project_to_dict(tmp_path: Path) -> None:
    for project in all_projects(tmp_path):
        assert json.loads(snapshot_text(project)) == project_to_dict(project), project.name


def test_load_snapshot_gives_back_equal_specs(tmp_path: Path) -> None:
    for project in all_projects(tmp_path):
        loaded = load_snapshot(snapshot_text(project), project.root)
        assert loaded == project, project.name
        assert loaded.root == project.root
        validated = parse_project(json.loads(snapshot_text(project)), project.file)
        assert loaded == validated, project.name


def test_a_document_it_does_not_understand_is_validated(tmp_path: Path) -> None:
    document = project_to_dict(tricky_project(tmp_path))
    document["workflows"]["w"]["tasks"]["plain"]["retries"] = "many"
    with pytest.raises(Exception, match="retries"):
        load_snapshot(json.dumps(document), tmp_path)
    fine = replace(tricky_project(tmp_path))
    assert load_snapshot(snapshot_text(fine), tmp_path) == fine
