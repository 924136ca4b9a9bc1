"""Big synthetic workspaces (layered DAGs of 10k or 100k tasks) for tests and benchmarks.

Task ``L{layer}_{i}`` depends on ``fan_in`` tasks of the layer before it, so the graph has
the shape of a real pipeline: wide layers, several edges per task, one long critical path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import tomli_w


def task_name(layer: int, index: int) -> str:
    """The name of the ``index``-th task of ``layer``."""
    return f"L{layer}_{index}"


def layered_edges(layers: int, width: int, fan_in: int = 2) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(task, dependencies)`` for a ``layers`` x ``width`` layered DAG."""
    for layer in range(layers):
        for index in range(width):
            deps = (
                []
                if layer == 0
                else [task_name(layer - 1, (index + k) % width) for k in range(min(fan_in, width))]
            )
            yield task_name(layer, index), deps


def write_project(
    folder: Path,
    name: str,
    *,
    layers: int,
    width: int,
    fan_in: int = 2,
    run: str | None = "true",
    call: str | None = None,
    max_parallel: int | None = None,
) -> Path:
    """Write one project whose single workflow ``main`` is a layered DAG; return its file.

    Tasks are written as one inline table per line, the densest form TOML allows, so the
    file stays about 60 bytes a task.
    """
    folder.mkdir(parents=True, exist_ok=True)
    header: dict[str, object] = {"project": {"name": name, "type": "custom"}}
    workflow: dict[str, object] = {"description": f"{layers} layers of {width} tasks"}
    if max_parallel is not None:
        workflow["max_parallel"] = max_parallel
    header["workflows"] = {"main": workflow}
    action = f"run = {json.dumps(run)}" if call is None else f"call = {json.dumps(call)}"
    lines = [tomli_w.dumps(header), "[workflows.main.tasks]"]
    for task, deps in layered_edges(layers, width, fan_in):
        if deps:
            listed = ", ".join(f'"{dep}"' for dep in deps)
            lines.append(f"{task} = {{ {action}, depends_on = [{listed}] }}")
        else:
            lines.append(f"{task} = {{ {action} }}")
    file = folder / "formicary.toml"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return file


def write_workspace(
    root: Path,
    *,
    tasks: int,
    projects: int = 1,
    width: int = 100,
    fan_in: int = 2,
    run: str | None = "true",
    call: str | None = None,
) -> list[Path]:
    """Write ``projects`` projects sharing ``tasks`` tasks between them; return their files."""
    per_project = tasks // projects
    files = []
    for number in range(projects):
        layers = max(1, per_project // width)
        files.append(
            write_project(
                root / f"synthetic-{number:03d}",
                f"synthetic-{number:03d}",
                layers=layers,
                width=min(width, per_project),
                fan_in=fan_in,
                run=run,
                call=call,
            )
        )
    return files
