"""Durations as every view shows them: ``4.2s``, ``42s``, ``12m05s``, ``3h07m``."""

from __future__ import annotations

import time


def span(seconds: float | None, missing: str = "-") -> str:
    """``seconds`` in the shortest unit that keeps it readable (``missing`` when unknown)."""
    if seconds is None:
        return missing
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def took(start: float | None, end: float | None = None, missing: str = "-") -> str:
    """How long from ``start`` to ``end`` (to now while ``end`` is None)."""
    if start is None:
        return missing
    return span((end or time.time()) - start, missing)


def active_span(
    started_at: float | None,
    end: float | None,
    active_s: float = 0.0,
    active_since: float | None = None,
    now: float | None = None,
) -> float | None:
    """Seconds a session has been active: ``active_s`` (its earlier spans of activity) plus
    the current span, from ``active_since`` (or ``started_at`` when it never stopped) to
    ``end`` (to ``now`` while ``end`` is None). None when it never started.

    A session reopened by a retry, or adopted after its engine died, thus never counts
    the idle time in between.
    """
    since = active_since if active_since is not None else started_at
    if since is None:
        return None
    until = end if end is not None else (now if now is not None else time.time())
    return active_s + max(0.0, until - since)
