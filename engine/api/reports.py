"""What an :class:`~formicary.api.orchestration.OrchestrationEngine` reports about itself: what
runs now and what it measures, totals over the store, and whether it is healthy.

:class:`EngineReporter` reads only the engine's public accessors (its thread, the handles of
the sessions it runs, the recorded sessions, the workspace's definitions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psutil
from formicary.api.control import SessionHandle
from formicary.model.records import SessionStatus, TaskStatus
from formicary.run.resources import TreeMeter

if TYPE_CHECKING:
    from formicary.api.orchestration import OrchestrationEngine

Span = tuple[float | None, float | None]


class EngineReporter:
    """Status, metrics and health of one engine's sessions and workspace."""

    def __init__(self, engine: OrchestrationEngine) -> None:
        self.engine = engine
        self._meters: dict[int, TreeMeter] = {}

    def system_status(self) -> dict[str, Any]:
        """What runs now: live sessions with their task counts and pools, the processes of
        running attempts (measured CPU% and RSS), and the machine's CPU and memory."""
        engine = self.engine
        live = engine.thread.call(lambda: [_live_status(h) for h in engine.running_handles()])
        pids = [pid for session in live for pid in session.pop("pids")]
        cpu = rss = 0.0
        for pid in pids:
            sample = self._meters.setdefault(pid, TreeMeter()).sample(pid)
            if sample is not None:
                cpu += sample.cpu_percent
                rss += sample.rss_bytes
        for pid in set(self._meters) - set(pids):
            del self._meters[pid]
        memory = psutil.virtual_memory()
        return {
            "workspace": str(engine.workspace),
            "engine_running": engine.thread.alive,
            "sessions": live,
            "running_attempts": len(pids),
            "measured": {"cpu_percent": round(cpu, 1), "rss_bytes": int(rss)},
            "system": {
                "cpu_percent": psutil.cpu_percent(None),
                "memory_percent": memory.percent,
                "cpu_count": psutil.cpu_count() or 1,
            },
        }

    def metrics(self) -> dict[str, Any]:
        """Totals over the sessions in the store: sessions by status, tasks by state, and
        the attempts and mean attempt time of the 20 most recent sessions. Sessions this
        engine runs count as they are now (the store shows them a moment later)."""
        engine = self.engine
        live = engine.thread.call(
            lambda: {h.session_id: _live_figures(h) for h in engine.running_handles()}
        )
        recorded = engine.recorded
        records = recorded.records()
        by_status: dict[str, int] = {}
        by_state: dict[str, int] = {}
        for record in records:
            status, counts, _ = live.get(str(record.id), (record.shown_status, record.counts, []))
            by_status[status] = by_status.get(status, 0) + 1
            for state, count in counts.items():
                by_state[state] = by_state.get(state, 0) + count
        spans: list[Span] = []
        if records:
            with recorded.opened() as store:
                for record in records[:20]:
                    if str(record.id) in live:
                        spans.extend(live[str(record.id)][2])
                    else:
                        spans.extend((a.started_at, a.ended_at) for a in store.attempts(record.id))
        took = [end - start for start, end in spans if start is not None and end is not None]
        return {
            "sessions": len(records),
            "sessions_by_status": by_status,
            "tasks_by_state": by_state,
            "recent_attempts": len(spans),
            "recent_mean_attempt_s": round(sum(took) / len(took), 4) if took else None,
            "live_sessions": len(live),
        }

    def health(self) -> dict[str, Any]:
        """Whether the engine can do its work: its thread runs, the workspace's definitions
        load, the store passes SQLite's quick check; ``status`` is ``healthy``, ``degraded``
        (definitions with errors, orphaned sessions) or ``unhealthy``."""
        engine = self.engine
        checks: dict[str, Any] = {"engine_thread": engine.thread.alive}
        workspace = engine.load()
        checks["projects"] = len(workspace.projects)
        checks["definition_errors"] = [str(issue) for issue in workspace.issues]
        orphaned = 0
        if engine.recorded.exists:
            with engine.recorded.opened() as store:
                checks["store"] = store.integrity_check()
                orphaned = sum(
                    1 for r in store.sessions() if r.shown_status == SessionStatus.ORPHANED
                )
        else:
            checks["store"] = "no store yet"
        checks["orphaned_sessions"] = orphaned
        if not checks["engine_thread"] or checks["store"] not in ("ok", "no store yet"):
            status = "unhealthy"
        elif workspace.issues or orphaned:
            status = "degraded"
        else:
            status = "healthy"
        return {"status": status, "checks": checks}


def _live_status(handle: SessionHandle) -> dict[str, Any]:
    capacity, booked = handle.capacity, handle.booked
    return {
        "id": handle.session_id,
        "project": handle.project,
        "workflow": handle.workflow,
        "status": handle.status.value,
        "max_parallel": handle.max_parallel,
        "counts": {state.value: n for state, n in handle.counts().items()},
        "pools": {
            pool: {"booked": booked[pool], "capacity": size} for pool, size in capacity.items()
        },
        "pids": list(handle.running_pids().values()),
    }


def _live_figures(handle: SessionHandle) -> tuple[str, dict[str, int], list[Span]]:
    spans: list[Span] = []
    for view in handle.tasks():
        spans.extend((r.started_at, r.ended_at) for r in handle.history(view.name))
        if view.state is TaskStatus.RUNNING:
            spans.append((view.started_at, None))
    counts = {state.value: n for state, n in handle.counts().items()}
    return handle.status.value, counts, spans
