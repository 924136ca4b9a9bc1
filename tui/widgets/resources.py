"""The resources pane: each pool's bookings against its capacity, and sparklines of measured
CPU and memory of the running tasks and of the whole machine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import ClassVar

from formicary.tui.state import Changes, Sample, SessionView
from rich.text import Text
from textual.app import ComposeResult
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Sparkline, Static

log = logging.getLogger(__name__)

BAR_WIDTH = 10
"""Cells of a pool's bar."""

NO_VALUE = "—"
"""Shown where there is nothing measured yet."""


def format_bytes(size: float) -> str:
    """``size`` bytes for people: ``"120 MB"``, ``"1.2 GB"``."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


METRICS: tuple[tuple[str, str, Callable[[Sample], float], Callable[[float], str]], ...] = (
    ("tasks-cpu", "tasks cpu", lambda s: s.cpu, lambda v: f"{v:.0f}%"),
    ("tasks-mem", "tasks mem", lambda s: s.rss, format_bytes),
    ("system-cpu", "system cpu", lambda s: s.system_cpu, lambda v: f"{v:.0f}%"),
    ("system-mem", "system mem", lambda s: s.system_memory, lambda v: f"{v:.0f}%"),
)
"""Each sparkline: id, label, the figure it plots from a sample, and how its latest reads."""


class ResourcePane(Widget):
    """Pools and measured use of one session; repaints only when samples or status change."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-pane--pool",
        "resource-pane--used",
        "resource-pane--full",
        "resource-pane--free",
    }
    """
    | Class | Description |
    | :- | :- |
    | `resource-pane--pool` | A pool's name and its `booked/capacity` figures. |
    | `resource-pane--used` | The booked part of a pool's bar. |
    | `resource-pane--full` | The bar of a pool booked to capacity. |
    | `resource-pane--free` | The free part of a pool's bar. |
    """

    DEFAULT_CSS = """
    ResourcePane {
        height: auto;
        width: 28;
        padding: 0 1;
        & > .resource-pane--pool { color: $foreground; }
        & > .resource-pane--used { color: $accent; }
        & > .resource-pane--full { color: $warning; }
        & > .resource-pane--free { color: $foreground-muted; }
        & > #pools { height: auto; margin-bottom: 1; }
        & > .figure { height: 1; color: $text-muted; }
        & > Sparkline { height: 2; margin-bottom: 1; }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._view: SessionView | None = None
        self._pools_shown: Text | None = None
        self._figures_shown: dict[str, str] = {}
        """What each label shows, so an unchanged one is not written (and repainted) again."""

    def compose(self) -> ComposeResult:
        """The pools' bars, then a label and a sparkline per metric."""
        yield Static(NO_VALUE, id="pools")
        for key, label, _figure, _reading in METRICS:
            yield Static(f"{label} {NO_VALUE}", id=f"{key}-label", classes="figure")
            yield Sparkline([], id=key)

    def on_mount(self) -> None:
        """Recolour the bars whenever the theme changes."""
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._paint()

    def show(self, view: SessionView | None) -> None:
        """Show ``view``'s pools and samples (``None``: nothing, every figure "—")."""
        self._view = view
        self._paint()

    def apply(self, view: SessionView, changes: Changes) -> None:
        """Repaint the pools on samples or a status change (bookings move then), the figures
        and sparklines on samples; a label whose text did not change is left alone."""
        if view is not self._view:
            self.show(view)
            return
        if not self.is_mounted:
            return
        if changes.samples or changes.status:
            self._paint_pools()
        if changes.samples:
            self._paint_samples()

    # -- internals --------------------------------------------------------------------------

    def _paint(self) -> None:
        if not self.is_mounted:
            return
        self._pools_shown = None
        self._figures_shown.clear()
        self._paint_pools()
        self._paint_samples()

    def _paint_pools(self) -> None:
        pools = self._pools(self._view)
        if pools == self._pools_shown:
            return
        lines = None if self._pools_shown is None else self._pools_shown.plain.count("\n")
        # Only a change in the number of pools changes the height: lay out only then.
        self.query_one("#pools", Static).update(pools, layout=pools.plain.count("\n") != lines)
        self._pools_shown = pools

    def _paint_samples(self) -> None:
        view = self._view
        samples: Iterable[Sample] = view.samples if view is not None else ()
        latest = view.samples[-1] if view is not None and view.samples else None
        for key, label, figure, reading in METRICS:
            value = NO_VALUE if latest is None else reading(figure(latest))
            text = f"{label} {value}"
            if self._figures_shown.get(key) != text:
                self.query_one(f"#{key}-label", Static).update(text, layout=False)
                self._figures_shown[key] = text
            series = [float(figure(s)) for s in samples]
            # Textual draws a lone value as a full-height bar whatever it is: wait for two.
            self.query_one(f"#{key}", Sparkline).data = series if len(series) > 1 else []

    def _pools(self, view: SessionView | None) -> Text:
        if view is None:
            return Text(NO_VALUE)
        if not view.capacity:
            return Text("no pools")
        pool, used, full, free = (
            self.get_component_rich_style(f"resource-pane--{part}", partial=True)
            for part in ("pool", "used", "full", "free")
        )
        width = max(len(name) for name in view.capacity)
        figures = [f"{view.booked.get(n, 0)}/{c}" for n, c in view.capacity.items()]
        figures_width = max(len(f) for f in figures)
        text = Text(no_wrap=True, overflow="ellipsis")
        for (name, capacity), figure in zip(view.capacity.items(), figures, strict=True):
            booked = view.booked.get(name, 0)
            filled = BAR_WIDTH if capacity <= 0 else round(BAR_WIDTH * booked / capacity)
            filled = max(0, min(BAR_WIDTH, filled))
            if text:
                text.append("\n")
            text.append(f"{name:<{width}} {figure:>{figures_width}} ", pool)
            text.append("█" * filled, full if booked >= capacity > 0 else used)
            text.append("░" * (BAR_WIDTH - filled), free)
        return text

    def _restyle(self, _theme: Theme) -> None:
        self._paint()
