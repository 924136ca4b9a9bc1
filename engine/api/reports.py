"""What an :class:`~formicary.api.orchestration.OrchestrationEngine` reports about itself: what runs
now and what it measures, totals over the store, and whether it is healthy (a mixin, as the
scheduler's control calls are)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psutil
from formicary.model.records import TaskStatus
from formicary.run.resources import TreeMeter
from formicary.store.schema import db_path

if TYPE_CHECKING:
    from formicary.api.orchestration import OrchestrationEngine


class EngineReports:
    """Status, metrics and health of the engine's sessions and workspace."""

    # -- health --------------------------------------------------------------------------

    def get_system_status(self: OrchestrationEngine) -> dict[str, Any]:
        """What runs now: live sessions with their task counts and pools, the processes of
        running attempts (measured CPU% and RSS), and the machine's CPU and memory."""
        live = self._thread.call(self._live_status)
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
            "workspace": str(self.workspace),
            "engine_running": self._thread.alive,
            "sessions": live,
            "running_attempts": len(pids),
            "measured": {"cpu_percent": round(cpu, 1), "rss_bytes": int(rss)},
            "system": {
                "cpu_percent": psutil.cpu_percent(None),
                "memory_percent": memory.percent,
                "cpu_count": psutil.cpu_count() or 1,
            },
        }

    def _live_status(self: OrchestrationEngine) -> list[dict[str, Any]]:
        listed = []
        for sid, live in self._live.items():
            scheduler = live.handle.scheduler
            listed.append(
                {
                    "id": sid,
                    "project": live.handle.project,
                    "workflow": live.handle.workflow,
                    "status": live.handle.status.value,
                    "max_parallel": scheduler.max_parallel,
                    "counts": {state.value: n for state, n in live.handle.counts().items()},
                    "pools": {
                        pool: {"booked": scheduler.pools.booked[pool], "capacity": capacity}
                        for pool, capacity in scheduler.pools.capacity.items()
                    },
                    "pids": list(scheduler._running_pids().values()),
                }
            )
        return listed

    def get_metrics(self: OrchestrationEngine) -> dict[str, Any]:
        """Totals over the sessions in the store: sessions by status, tasks by state, and
        the attempts and mean attempt time of the 20 most recent sessions. Sessions this
        engine runs count as they are now (the store shows them a moment later)."""
        live = self._thread.call(self._live_figures)
        records = self._records(None)
        by_status: dict[str, int] = {}
        by_state: dict[str, int] = {}
        for record in records:
            status, counts, _ = live.get(str(record.id), (record.shown_status, record.counts, []))
            by_status[status] = by_status.get(status, 0) + 1
            for state, count in counts.items():
                by_state[state] = by_state.get(state, 0) + count
        spans: list[tuple[float | None, float | None]] = []
        if records:
            store = self._store()
            try:
                for record in records[:20]:
                    if str(record.id) in live:
                        spans.extend(live[str(record.id)][2])
                    else:
                        spans.extend((a.started_at, a.ended_at) for a in store.attempts(record.id))
            finally:
                store.close()
        took = [end - start for start, end in spans if start is not None and end is not None]
        return {
            "sessions": len(records),
            "sessions_by_status": by_status,
            "tasks_by_state": by_state,
            "recent_attempts": len(spans),
            "recent_mean_attempt_s": round(sum(took) / len(took), 4) if took else None,
            "live_sessions": len(live),
        }

    def _live_figures(
        self: OrchestrationEngine,
    ) -> dict[str, tuple[str, dict[str, int], list[tuple[float | None, float | None]]]]:
        figures = {}
        for sid, live in self._live.items():
            handle = live.handle
            spans: list[tuple[float | None, float | None]] = []
            for view in handle.tasks():
                spans.extend((r.started_at, r.ended_at) for r in handle.history(view.name))
                if view.state is TaskStatus.RUNNING:
                    spans.append((view.started_at, None))
            counts = {state.value: n for state, n in handle.counts().items()}
            figures[sid] = (handle.status.value, counts, spans)
        return figures

    def health_check(self: OrchestrationEngine) -> dict[str, Any]:
        """Whether this engine can do its work: its thread runs, the workspace's definitions
        load, the store passes SQLite's quick check; ``status`` is ``healthy``, ``degraded``
        (definitions with errors, orphaned sessions) or ``unhealthy``."""
        checks: dict[str, Any] = {"engine_thread": self._thread.alive}
        workspace = self.load()
        checks["projects"] = len(workspace.projects)
        checks["definition_errors"] = [str(issue) for issue in workspace.issues]
        orphaned = 0
        if db_path(self.workspace).exists():
            store = self._store()
            try:
                checks["store"] = store.integrity_check()
                orphaned = sum(1 for r in store.sessions() if r.shown_status == "orphaned")
            finally:
                store.close()
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
