"""Text layouts of a workflow's DAG: a layered drawing, or a lane list for big graphs.

Pure Python (no Textual), so a layout is tested as plain text and the widget only paints it.
Up to :data:`LANE_THRESHOLD` tasks the graph is drawn left to right in columns (one per
``Dag.layers()`` layer) with orthogonal box-drawing edges; above it a drawing would be too big
to read, so tasks are listed one per row in topological order with ``git log --graph`` lanes.

A layout never depends on task states: every glyph is one cell wide, so a state change only
repaints a label's first cell (where :data:`PLACEHOLDER` stands here) and never moves anything.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, overload

from formicary.model.dag import Dag
from rich.cells import cell_len

LANE_THRESHOLD = 200
"""Workflows with more tasks than this are shown as a lane list."""
GUTTER_CAP = 24
"""Widest lane gutter, in cells; lanes beyond it are summed up by an ellipsis."""
PLACEHOLDER = "○"
"""The cell a label's state glyph goes in (the pending glyph, so plain text reads right)."""
SWEEPS = 6
"""Barycenter sweeps (alternately down and up) tried when ordering each column."""

N, E, S, W = 1, 2, 4, 8
BOX = {
    E | W: "─", N | S: "│", E | S: "┌", S | W: "┐", N | E: "└", N | W: "┘",
    N | E | S: "├", N | S | W: "┤", E | S | W: "┬", N | E | W: "┴", N | E | S | W: "┼",
    N: "│", S: "│", E: "─", W: "─",
}  # fmt: skip
"""Box-drawing character for each set of directions a cell's lines leave it in."""


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A segment that draws ``task``: its label, or (``marker``) its glyph in the lane gutter."""

    task: str
    marker: bool = False


SegmentKind = Literal["edge", "blank"] | NodeRef
Segment = tuple[str, SegmentKind]
Mode = Literal["layers", "lanes"]


@dataclass(frozen=True, eq=False)
class GraphLayout:
    """Where everything of one drawing goes, in cells.

    Attributes:
        mode: ``"layers"`` (a drawing) or ``"lanes"`` (a list with a lane gutter).
        width: Cells across the widest row.
        height: Rows.
        rows: Each row's segments, left to right; a row ends where its last segment does.
            Lane rows are made on demand, so a 10,000-task list costs nothing until seen.
        positions: Each task's label as ``(x, y)`` of its glyph cell.
        order: Every task, column by column and top to bottom: the order the cursor visits.
        columns: The tasks of each column top to bottom (in lane mode, each layer's tasks).
    """

    mode: Mode
    width: int
    height: int
    rows: Sequence[list[Segment]]
    positions: dict[str, tuple[int, int]]
    order: list[str]
    columns: list[list[str]]

    def node_at(self, x: int, y: int) -> str | None:
        """The task drawn at cell ``(x, y)``; in lane mode, the task of row ``y``."""
        if not 0 <= y < self.height:
            return None
        if self.mode == "lanes":
            return self.order[y]
        left = 0
        for text, kind in self.rows[y]:
            right = left + cell_len(text)
            if left <= x < right:
                return kind.task if isinstance(kind, NodeRef) else None
            left = right
        return None

    def text(self, glyph: Callable[[str], str] | None = None) -> str:
        """The drawing as plain text, with ``glyph(task)`` in each glyph cell if given."""
        lines = []
        for row in self.rows:
            parts = []
            for text, kind in row:
                if glyph is not None and isinstance(kind, NodeRef):
                    text = glyph(kind.task) + text[1:]
                parts.append(text)
            lines.append("".join(parts).rstrip())
        return "\n".join(lines)


def build_layout(dag: Dag, *, lane_threshold: int = LANE_THRESHOLD) -> GraphLayout:
    """Lay ``dag`` out as a drawing, or as a lane list when it has over ``lane_threshold`` tasks.

    Raises:
        graphlib.CycleError: The graph has a cycle (loaded workflows never do).
    """
    return lane_layout(dag) if len(dag) > lane_threshold else layered_layout(dag)


def label(task: str) -> str:
    """A task's label before it is coloured: glyph cell, space, name."""
    return f"{PLACEHOLDER} {task}"


# Layered drawing ---------------------------------------------------------------------------


def layered_layout(dag: Dag) -> GraphLayout:
    """Draw ``dag`` left to right: a column per layer, edges routed in the gutters between.

    Vertices are numbered: tasks first, then one dummy per (source, layer) that a long edge
    crosses, shared by every long edge of that source, so a fan-out over several layers is
    one line until it splits.
    """
    layers = dag.layers()
    names = [task for layer in layers for task in layer]
    index = {task: i for i, task in enumerate(names)}
    columns = [[index[task] for task in layer] for layer in layers]
    rank = [k for k, layer in enumerate(layers) for _ in layer]
    succ: list[list[int]] = [[] for _ in names]
    pred: list[list[int]] = [[] for _ in names]
    dummies: dict[tuple[int, int], int] = {}
    for task in dag.nodes:
        target = index[task]
        for dep in dict.fromkeys(dag.dependencies(task)):
            prev = index[dep]
            for k in range(rank[prev] + 1, rank[target]):
                dummy = dummies.get((index[dep], k))
                if dummy is None:
                    dummy = dummies[index[dep], k] = len(succ)
                    succ.append([])
                    pred.append([])
                    columns[k].append(dummy)
                    succ[prev].append(dummy)
                    pred[dummy].append(prev)
                prev = dummy
            succ[prev].append(target)
            pred[target].append(prev)
    columns = _order_columns(columns, pred, succ)
    ys = _place_rows(columns, pred, succ)
    real = len(names)
    widths = [cell_len(name) + 2 for name in names]
    col_w = [max(widths[v] for v in col if v < real) for col in columns]
    col_x = [0]
    cells: dict[tuple[int, int], int] = {}

    def hline(y: int, x0: int, x1: int) -> None:
        for x in range(x0, x1):
            cells[y, x] = cells.get((y, x), 0) | E
            cells[y, x + 1] = cells.get((y, x + 1), 0) | W

    def vline(x: int, y0: int, y1: int) -> None:
        for y in range(y0, y1):
            cells[y, x] = cells.get((y, x), 0) | S
            cells[y + 1, x] = cells.get((y + 1, x), 0) | N

    routes = [_bundles(col, pred, succ, ys) for col in columns[:-1]]
    for k, (_, tracks) in enumerate(routes):
        col_x.append(col_x[k] + col_w[k] + max(5, max(tracks, default=0) + 5))
    for k, (bundles, tracks) in enumerate(routes):
        end = col_x[k] + col_w[k]
        for (sources, targets), track in zip(bundles, tracks, strict=True):
            joint = end + 2 + track if track >= 0 else None
            for u in sources:
                start = end if u >= real else col_x[k] + widths[u] + 1
                hline(ys[u], start, joint if joint is not None else col_x[k + 1] - 2)
            for v in targets:
                stop = col_x[k + 1] - (1 if v >= real else 2)
                if joint is not None:
                    hline(ys[v], joint, stop)
                elif v >= real:  # a straight edge into a dummy: close the pad cell
                    hline(ys[v], stop - 1, stop)
            if joint is not None:
                joined = [ys[v] for v in (*sources, *targets)]
                vline(joint, min(joined), max(joined))
        for v in columns[k]:
            if v >= real:
                hline(ys[v], col_x[k] - 1, end)
    labels: dict[int, list[tuple[int, str]]] = {}
    positions: dict[str, tuple[int, int]] = {}
    ordered: list[list[str]] = []
    for k, col in enumerate(columns):
        shown = sorted((ys[v], names[v]) for v in col if v < real)
        ordered.append([name for _, name in shown])
        for y, name in shown:
            positions[name] = (col_x[k], y)
            labels.setdefault(y, []).append((col_x[k], name))
    height = max(ys, default=-1) + 1
    edges: dict[int, list[tuple[int, int]]] = {}
    for (y, x), mask in cells.items():
        edges.setdefault(y, []).append((x, mask))
    rows = [_draw_row(labels.get(y, []), edges.get(y, [])) for y in range(height)]
    return GraphLayout(
        mode="layers",
        width=col_x[-1] + col_w[-1] if names else 0,
        height=height,
        rows=rows,
        positions=positions,
        order=[name for col in ordered for name in col],
        columns=ordered,
    )


def _order_columns(
    columns: list[list[int]], pred: list[list[int]], succ: list[list[int]]
) -> list[list[int]]:
    """Reorder each column by barycenter sweeps; keep the order with the fewest crossings."""
    cols = [list(col) for col in columns]
    pos = [0] * len(pred)
    for col in cols:
        for i, v in enumerate(col):
            pos[v] = i
    best, fewest = [list(col) for col in cols], _crossings(cols, succ, pos)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        ks = range(1, len(cols)) if down else range(len(cols) - 2, -1, -1)
        for k in ks:
            near, size = (pred, len(cols[k - 1])) if down else (succ, len(cols[k + 1]))
            own = len(cols[k])
            keyed = sorted((_barycenter(v, near[v], pos, size, own), pos[v], v) for v in cols[k])
            cols[k] = [v for _, _, v in keyed]
            for i, v in enumerate(cols[k]):
                pos[v] = i
        crossings = _crossings(cols, succ, pos)
        if crossings < fewest:
            best, fewest = [list(col) for col in cols], crossings
    return best


def _barycenter(v: int, near: list[int], pos: list[int], size: int, own: int) -> float:
    """Mean position of ``v``'s neighbours as a fraction of their column (its own if none)."""
    if not near:
        return (pos[v] + 0.5) / own
    return sum(pos[u] + 0.5 for u in near) / len(near) / size


def _crossings(cols: list[list[int]], succ: list[list[int]], pos: list[int]) -> int:
    """Edge crossings between neighbouring columns, counted as inversions."""
    total = 0
    for col in cols:
        seen: list[int] = []
        for _, b in sorted((pos[u], pos[v]) for u in col for v in succ[u]):
            total += len(seen) - bisect.bisect_right(seen, b)
            bisect.insort(seen, b)
    return total


def _place_rows(cols: list[list[int]], pred: list[list[int]], succ: list[list[int]]) -> list[int]:
    """Give each vertex a row: near the mean row of its neighbours, two rows apart in a column.

    Passes down (towards dependencies), up (towards dependents) and down again; each column is
    placed by isotonic regression, the least-squares fit keeping order and spacing.
    """
    ys = [0] * len(pred)
    for col in cols:
        for i, v in enumerate(col):
            ys[v] = 2 * i
    passes = [(pred, range(1, len(cols))), (succ, range(len(cols) - 2, -1, -1))]
    for near, ks in [*passes, passes[0]]:
        for k in ks:
            wanted = [
                sum(ys[u] for u in near[v]) / len(near[v]) if near[v] else ys[v] for v in cols[k]
            ]
            for v, y in zip(cols[k], _pack(wanted), strict=True):
                ys[v] = y
    top = min(ys, default=0)
    return [y - top for y in ys]


def _pack(wanted: list[float], gap: int = 2) -> list[int]:
    """Rows as close to ``wanted`` as possible (least squares), in order, ``gap`` apart."""
    blocks: list[list[float]] = []  # [sum, count] of z = y - gap * i, kept non-decreasing
    for i, want in enumerate(wanted):
        blocks.append([want - gap * i, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    rows: list[int] = []
    for total, count in blocks:
        z, first = math.floor(total / count + 0.5), len(rows)
        rows.extend(z + gap * (first + j) for j in range(int(count)))
    return rows


def _bundles(
    col: list[int], pred: list[list[int]], succ: list[list[int]], ys: list[int]
) -> tuple[list[tuple[list[int], list[int]]], list[int]]:
    """Group the edges leaving ``col`` into bundles, each drawn on one vertical track.

    An edge joins its source's bundle when the source fans out at least as widely as the
    target fans in, else its target's bundle.

    Returns:
        ``(sources, targets)`` per bundle, and each bundle's track (see :func:`_tracks`).
    """
    groups: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for u in col:
        for v in succ[u]:
            fan_out = len(succ[u])
            key = ("s", u) if fan_out > 1 and fan_out >= len(pred[v]) else ("t", v)
            sources, targets = groups.setdefault(key, ([], []))
            if u not in sources:
                sources.append(u)
            if v not in targets:
                targets.append(v)
    bundles = list(groups.values())
    return bundles, _tracks(bundles, ys)


def _tracks(bundles: list[tuple[list[int], list[int]]], ys: list[int]) -> list[int]:
    """A track for each bundle (-1 for a straight one), left to right from 0.

    Where a source and a target share a row, the source's bundles get tracks left of the
    target's, so the two stubs on that row do not touch; bundles whose rows do not overlap
    share a track. Conflicting wishes (a cycle) are settled by taking the topmost bundle.
    """
    spans = [(min(rows), max(rows)) for rows in ([ys[v] for v in (*u, *v)] for u, v in bundles)]
    by_source: dict[int, list[int]] = {}
    by_target: dict[int, list[int]] = {}
    for b, (sources, targets) in enumerate(bundles):
        if spans[b][0] < spans[b][1]:
            for u in sources:
                by_source.setdefault(ys[u], []).append(b)
            for v in targets:
                by_target.setdefault(ys[v], []).append(b)
    right_of: list[set[int]] = [set() for _ in bundles]
    for row in by_source.keys() & by_target.keys():
        for a in by_source[row]:
            right_of[a].update(b for b in by_target[row] if b != a)
    waiting = [0] * len(bundles)
    for later in right_of:
        for b in later:
            waiting[b] += 1
    track, floor = [-1] * len(bundles), [0] * len(bundles)
    used: list[list[tuple[int, int]]] = []  # the spans on each track
    todo = sorted(range(len(bundles)), key=lambda b: (*spans[b], b))
    while todo:
        b = next((b for b in todo if waiting[b] == 0), todo[0])
        todo.remove(b)
        top, bottom = spans[b]
        if top < bottom:
            t = floor[b]
            while t < len(used) and any(s <= bottom and top <= e for s, e in used[t]):
                t += 1
            if t == len(used):
                used.append([])
            used[t].append(spans[b])
            track[b] = t
        for after in right_of[b]:
            waiting[after] -= 1
            floor[after] = max(floor[after], track[b] + 1)
    return track


def _draw_row(labels: list[tuple[int, str]], edges: list[tuple[int, int]]) -> list[Segment]:
    """One row's segments from its labels and its edge cells, as ``(x, text or mask)``."""
    items: list[tuple[int, str, SegmentKind]] = [(x, BOX[mask], "edge") for x, mask in edges]
    items += [(x, label(name), NodeRef(name)) for x, name in labels]
    items.sort(key=lambda item: item[0])
    row: list[Segment] = []
    at = 0
    for x, text, kind in items:
        if x > at:
            _append(row, " " * (x - at), "blank")
        _append(row, text, kind)
        at = x + cell_len(text)
    return row


def _append(row: list[Segment], text: str, kind: SegmentKind) -> None:
    """Add a segment, merging it into the last one when both are edges or blanks."""
    if row and kind == row[-1][1] and not isinstance(kind, NodeRef):
        row[-1] = (row[-1][0] + text, kind)
    else:
        row.append((text, kind))


# Lane list ---------------------------------------------------------------------------------


def lane_layout(dag: Dag, *, cap: int = GUTTER_CAP) -> GraphLayout:
    """List ``dag`` one task a row in layer order, with dependency lanes on the left.

    A task opens a lane (two cells: the lane and a connector) for its dependents; each
    dependent's row joins it, with ``╯``/``╰`` where the lane ends and ``┤``/``├`` where it
    goes on to later dependents. Only what each row needs to draw is kept; rows are drawn when
    asked for.
    """
    layers = dag.layers()
    order = [task for layer in layers for task in layer]
    remaining = {task: len(dag.dependents(task)) for task in order}
    lane_of: dict[str, int] = {}
    free: list[int] = []
    lanes = 0
    occupied = 0
    steps: list[tuple[int, int, dict[int, bool]]] = []
    for task in order:
        joins: dict[int, bool] = {}
        for dep in dag.dependencies(task):
            remaining[dep] -= 1
            joins[lane_of[dep]] = remaining[dep] == 0
        ending = [lane for lane, ends in joins.items() if ends]
        if ending:
            lane = min(ending)
        elif free:
            lane = heapq.heappop(free)
        else:
            lane, lanes = lanes, lanes + 1
        steps.append((lane, occupied, joins))
        for gone in ending:
            occupied &= ~(1 << gone)
            if gone != lane:
                heapq.heappush(free, gone)
        if dag.dependents(task):
            lane_of[task] = lane
            occupied |= 1 << lane
        else:
            heapq.heappush(free, lane)
    rows = _LaneRows(order, steps, lanes, cap)
    return GraphLayout(
        mode="lanes",
        width=rows.label_x + max((cell_len(label(task)) for task in order), default=0),
        height=len(order),
        rows=rows,
        positions={task: (rows.label_x, y) for y, task in enumerate(order)},
        order=order,
        columns=layers,
    )


class _LaneRows(Sequence[list[Segment]]):
    """The rows of a lane list, each drawn when indexed (nothing is kept)."""

    def __init__(
        self, order: list[str], steps: list[tuple[int, int, dict[int, bool]]], lanes: int, cap: int
    ) -> None:
        self._order = order
        self._steps = steps
        self._overflow = 2 * lanes > cap
        self._visible = (cap - 2) // 2 if self._overflow else lanes
        self.label_x = cap if self._overflow else 2 * lanes
        """Where labels start: right after the gutter."""

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, y: int) -> list[Segment]: ...
    @overload
    def __getitem__(self, y: slice) -> list[list[Segment]]: ...
    def __getitem__(self, y: int | slice) -> list[Segment] | list[list[Segment]]:
        if isinstance(y, slice):
            return [self._row(i) for i in range(*y.indices(len(self)))]
        if y < 0:
            y += len(self)
        if not 0 <= y < len(self):
            raise IndexError(y)
        return self._row(y)

    def _row(self, y: int) -> list[Segment]:
        task = self._order[y]
        lane, occupied, joins = self._steps[y]
        span = [lane, *joins]
        low, high = min(span), max(span)
        row: list[Segment] = []
        for j in range(self._visible):
            if j == lane:
                row.append((PLACEHOLDER, NodeRef(task, marker=True)))
            else:
                if j in joins:
                    char = ("╯" if joins[j] else "┤") if j > lane else ("╰" if joins[j] else "├")
                elif occupied >> j & 1:
                    char = "┼" if low < j < high else "│"
                else:
                    char = "─" if low < j < high else " "
                _append(row, char, "edge")
            _append(row, "─" if low <= j < high else " ", "edge")
        if self._overflow:
            more = occupied >> self._visible or high >= self._visible
            _append(row, "… " if more else "  ", "edge")
        row.append((label(task), NodeRef(task)))
        return row
