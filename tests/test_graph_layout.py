"""The graph layouts as plain text: drawings for small workflows, lane lists for big ones."""

from __future__ import annotations

from collections import deque

import pytest
from formicary.model.dag import Dag
from formicary.model.definitions import load_workspace
from formicary.model.synthetic import layered_edges
from formicary.tui.graph_layout import (
    BOX,
    LANE_THRESHOLD,
    GraphLayout,
    NodeRef,
    build_layout,
    label,
    lane_layout,
)

from tests.conftest import SAMPLES

N, E, S, W = 1, 2, 4, 8
MASK = {char: mask for mask, char in BOX.items() if mask not in (N, S, E, W)}
STEPS = {N: (0, -1, S), E: (1, 0, W), S: (0, 1, N), W: (-1, 0, E)}

DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
FAN = {
    "src": [],
    **{f"mid{i}": ["src"] for i in range(5)},
    "sink": [f"mid{i}" for i in range(5)],
}
LONG = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "e": ["a", "d"]}
MIXED = {
    "a": [],
    "b": ["a"],
    "c": ["b"],
    "d": ["a"],
    "e": ["d"],
    "f": ["c", "e", "a"],
    "g": ["a", "b"],
    "h": ["g", "d"],
}


def grid(layout: GraphLayout) -> list[str]:
    """The drawing's rows, padded to its width."""
    return [line.ljust(layout.width) for line in layout.text().split("\n")]


def reached(layout: GraphLayout, task: str) -> set[str]:
    """The tasks whose incoming stub the line leaving ``task`` leads to, read left to right.

    Lines are followed right, up and down but never left (every edge runs rightwards), so
    two bundles merging into one target do not read as a path between their sources.
    """
    rows = grid(layout)
    x, y = layout.positions[task]
    start = (x + len(label(task)) + 1, y)
    inlets = {(px - 2, py): name for name, (px, py) in layout.positions.items()}
    if start[0] >= layout.width or rows[start[1]][start[0]] == " ":
        return set()
    seen, queue, found = {start}, deque([start]), set()
    while queue:
        cx, cy = queue.popleft()
        if (cx, cy) in inlets:
            found.add(inlets[cx, cy])
        mask = MASK.get(rows[cy][cx], 0)
        for bit, (dx, dy, back) in STEPS.items():
            nx, ny = cx + dx, cy + dy
            if (
                bit != W
                and mask & bit
                and (nx, ny) not in seen
                and MASK.get(rows[ny][nx], 0) & back
            ):
                seen.add((nx, ny))
                queue.append((nx, ny))
    return found


def assert_sound(dag: Dag, layout: GraphLayout) -> None:
    """Labels do not overlap, every task is placed once, every edge's line arrives."""
    assert sorted(layout.order) == sorted(dag.nodes)
    taken: set[tuple[int, int]] = set()
    for task, (x, y) in layout.positions.items():
        cells = {(x + i, y) for i in range(-1, len(label(task)) + 1)}  # with a blank each side
        assert not cells & taken, task
        taken |= cells
        assert layout.node_at(x + 2, y) == task
        assert x + len(label(task)) <= layout.width and y < layout.height
    for dep, task in dag.edges():
        assert task in reached(layout, dep), (dep, task)


@pytest.mark.parametrize(
    "graph", [DIAMOND, FAN, LONG, MIXED], ids=["diamond", "fan", "long", "mixed"]
)
def test_layers_are_sound(graph: dict[str, list[str]]) -> None:
    dag = Dag(graph)
    layout = build_layout(dag)
    assert layout.mode == "layers"
    assert_sound(dag, layout)


@pytest.mark.parametrize("graph", [DIAMOND, FAN, LONG], ids=["diamond", "fan", "long"])
def test_simple_shapes_draw_exactly_their_edges(graph: dict[str, list[str]]) -> None:
    dag = Dag(graph)
    layout = build_layout(dag)
    for task in dag.nodes:
        assert reached(layout, task) == set(dag.dependents(task)), task


def test_diamond_exact_text() -> None:
    layout = build_layout(Dag(DIAMOND))
    assert layout.text() == (
        "     ┌─ ○ b ─┐\n"
        "○ a ─┤       ├─ ○ d\n"
        "     └─ ○ c ─┘"
    )  # fmt: skip
    assert layout.columns == [["a"], ["b", "c"], ["d"]]
    assert layout.order == ["a", "b", "c", "d"]
    assert layout.positions == {"a": (0, 1), "b": (8, 0), "c": (8, 2), "d": (16, 1)}
    assert layout.text(lambda task: "✔").startswith("     ┌─ ✔ b")


def test_chain_is_one_straight_row() -> None:
    layout = build_layout(Dag({"lint": [], "test": ["lint"], "build": ["test"]}))
    assert layout.text() == "○ lint ─── ○ test ─── ○ build"
    assert layout.rows[0][1] == (" ", "blank")
    assert layout.rows[0][2] == ("───", "edge")
    assert layout.rows[0][0] == (label("lint"), NodeRef("lint"))


def test_fan_out_fan_in_centres_the_ends() -> None:
    layout = build_layout(Dag(FAN))
    ys = [layout.positions[f"mid{i}"][1] for i in range(5)]
    assert ys == [0, 2, 4, 6, 8]
    assert layout.positions["src"][1] == layout.positions["sink"][1] == 4
    assert layout.height == 9


def test_long_edge_runs_through_dummy_nodes() -> None:
    layout = build_layout(Dag(LONG))
    assert layout.text() == (
        "     ┌─ ○ b ─── ○ c ─── ○ d ─┐\n"
        "○ a ─┤                       ├─ ○ e\n"
        "     └───────────────────────┘"
    )  # fmt: skip
    assert [col for col in layout.columns] == [["a"], ["b"], ["c"], ["d"], ["e"]]


def test_columns_follow_longest_path_layers() -> None:
    dag = Dag(MIXED)
    layout = build_layout(dag)
    assert [sorted(col) for col in layout.columns] == [sorted(layer) for layer in dag.layers()]
    xs = [{layout.positions[task][0] for task in col} for col in layout.columns]
    assert all(len(x) == 1 for x in xs)  # labels of a column are left-aligned
    lefts = [x.pop() for x in xs]
    assert lefts == sorted(set(lefts))


def test_layout_is_deterministic() -> None:
    first, second = build_layout(Dag(MIXED)), build_layout(Dag(MIXED))
    assert first.text() == second.text() and first.positions == second.positions


def test_empty_graph() -> None:
    layout = build_layout(Dag({}))
    assert (layout.width, layout.height, layout.order) == (0, 0, [])
    assert layout.node_at(0, 0) is None


def test_lanes_join_each_task_to_its_dependencies() -> None:
    layout = lane_layout(Dag(MIXED))
    assert layout.mode == "lanes"
    assert layout.text() == (
        "○         ○ a\n"
        "├─○       ○ b\n"
        "├─┼─○     ○ d\n"
        "│ ├─┼─○   ○ c\n"
        "│ │ ├─┼─○ ○ e\n"
        "├─○ │ │ │ ○ g\n"
        "○─┼─┼─╯─╯ ○ f\n"
        "  ○─╯     ○ h"
    )  # fmt: skip
    assert layout.order == [task for layer in Dag(MIXED).layers() for task in layer]
    assert layout.node_at(0, 7) == "h"
    markers = [kind for row in layout.rows for _, kind in row if isinstance(kind, NodeRef)]
    assert sum(kind.marker for kind in markers) == len(layout.order)


def test_big_workflows_switch_to_lanes() -> None:
    graph = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(LANE_THRESHOLD + 1)}
    assert build_layout(Dag(dict(list(graph.items())[:LANE_THRESHOLD]))).mode == "layers"
    layout = build_layout(Dag(graph))
    assert layout.mode == "lanes"
    assert layout.text().split("\n")[:3] == ["○ ○ t0", "○ ○ t1", "○ ○ t2"]


def test_ten_thousand_tasks_lay_out_as_lanes_with_a_capped_gutter() -> None:
    """The shape of a 10,000-task layout; its speed (bar 0.5 s) is measured by
    ``tests/bench/layout_bench.py``, not here, where a busy machine would fail it."""
    layout = build_layout(Dag(dict(layered_edges(100, 100, 2))))
    assert layout.mode == "lanes" and layout.height == 10_000 and len(layout.rows) == 10_000
    assert layout.order[:2] == ["L0_0", "L0_1"] and layout.order[-1] == "L99_99"
    row = layout.rows[5_000]
    gutter = "".join(text for text, _ in row[:-1])
    assert len(gutter) == 24 and gutter.endswith("… ")
    assert row[-1] == (label("L50_0"), NodeRef("L50_0"))
    assert layout.positions["L50_0"] == (24, 5_000)
    assert layout.rows[-1] == layout.rows[9_999]
    with pytest.raises(IndexError):
        layout.rows[10_000]


def test_sample_workflows_draw_exactly_their_edges() -> None:
    workspace = load_workspace(SAMPLES)
    workflows = [wf for project in workspace.projects.values() for wf in project.workflows.values()]
    assert len(workflows) >= 3
    for workflow in workflows:
        layout = build_layout(workflow.dag)
        assert_sound(workflow.dag, layout)
        for task in workflow.dag.nodes:
            assert reached(layout, task) == set(workflow.dag.dependents(task)), task
