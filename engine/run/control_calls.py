"""What each control call does to a session: pause, resume, hold, release, cancel, retry,
skip. The calls validate against the task's state, apply at once and publish their effects;
:class:`~formicary.run.scheduler.Scheduler` inherits them and provides the state they work on.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from formicary.errors import TransitionError
from formicary.model.records import SessionStatus, TaskStatus
from formicary.run.events import EventKind
from formicary.run.task_runs import BROKEN, FINAL, WAITING

if TYPE_CHECKING:
    from formicary.run.scheduler import Scheduler

S = TaskStatus


class ControlCalls:
    """The control API of a running session (a mixin of the scheduler)."""

    def pause(self: Scheduler, stop_processes: bool = False) -> None:
        """Dispatch nothing new; with ``stop_processes``, SIGSTOP running process groups too.

        Timeouts of stopped attempts are suspended while they are stopped.
        """
        if self._finished.is_set() or self._paused:
            raise TransitionError(f"session {self.session_id}", self.status.value, "pause")
        self._paused = True
        self._stop_processes = stop_processes
        self.status = SessionStatus.PAUSED
        if stop_processes:
            for attempt in self._active.values():
                attempt.stop(self._loop)
        self.bus.publish(
            self.session_id, EventKind.SESSION_PAUSED, data={"stop_processes": stop_processes}
        )

    def resume(self: Scheduler) -> None:
        """Undo :meth:`pause`: continue stopped processes and dispatch again."""
        if not self._paused:
            raise TransitionError(f"session {self.session_id}", self.status.value, "resume")
        self._paused = False
        self.status = SessionStatus.RUNNING
        for name, attempt in self._active.items():
            if not self._runs[name].held:
                attempt.resume(self._loop, partial(self._on_timeout, self._runs[attempt.job.task]))
        self.bus.publish(self.session_id, EventKind.SESSION_RESUMED)
        self._schedule_dispatch()

    def hold(self: Scheduler, task: str) -> None:
        """Keep ``task`` from being dispatched (state ``paused``); a running shell attempt is
        stopped with SIGSTOP and its timeout suspended."""
        run = self._run(task)
        if run.held or run.state in FINAL:
            raise TransitionError(f"task {task}", run.state.value, "hold")
        if run.state is S.RUNNING:
            attempt = run.running
            assert attempt is not None
            if attempt.pid is None:
                raise TransitionError(f"task {task}", "running Python code", "hold")
            run.held = True
            attempt.stop(self._loop)
            self._set_state(run, S.PAUSED, "held by the user")
            return
        run.held = True
        if run.retry_timer is not None:
            run.retry_timer.cancel()
            run.retry_timer = None
        self._set_state(run, S.PAUSED, "held by the user")

    def release(self: Scheduler, task: str) -> None:
        """Undo :meth:`hold`."""
        run = self._run(task)
        if not run.held:
            raise TransitionError(f"task {task}", run.state.value, "release")
        run.held = False
        if run.running is not None:
            if not (self._paused and self._stop_processes):
                run.running.resume(self._loop, partial(self._on_timeout, run))
            self._set_state(run, S.RUNNING, "released by the user")
        elif run.state is S.PAUSED:
            if run.unmet == 0:
                self._make_ready(run)
            else:
                self._set_state(run, S.PENDING, "released by the user")
        self._schedule_dispatch()

    def cancel(self: Scheduler, task: str) -> None:
        """Cancel ``task`` (ending its processes); its downstream becomes ``blocked``."""
        run = self._run(task)
        if run.state in (S.COMPLETED, S.FAILED, S.CANCELLED, S.SKIPPED):
            raise TransitionError(f"task {task}", run.state.value, "cancel")
        if run.running is not None:
            run.running.interrupt("cancel")
            return
        self._drop_timer(run)
        self._set_state(run, S.CANCELLED, "cancelled by the user")
        self._block_downstream(run)
        self._check_finished()

    def cancel_session(self: Scheduler, reason: str = "session cancelled") -> None:
        """Cancel every task that has not finished and end running attempts; ``reason`` is
        recorded on each (the dashboard crashed, a signal ended ``run``...)."""
        if self._finished.is_set():
            return
        self._cancelling = True
        self._cancel_reason = reason
        for run in self._runs.values():
            if run.running is not None:
                run.running.interrupt("session")
            elif run.state in WAITING:
                self._drop_timer(run)
                self._set_state(run, S.CANCELLED, reason)
        if self._paused:
            self._paused = False
        self._check_finished()

    def retry(self: Scheduler, task: str) -> None:
        """Run a failed, cancelled or blocked task again, with a fresh retry budget.

        Failed or cancelled tasks upstream of it are retried too (it cannot run without
        them), and its blocked downstream returns to ``pending``.
        """
        run = self._run(task)
        if run.state not in BROKEN:
            raise TransitionError(f"task {task}", run.state.value, "retry")
        upstream = [self._runs[name] for name in self._dag.upstream(task)]
        self._retry_runs([run, *(r for r in upstream if r.state in BROKEN)])

    def retry_failed(self: Scheduler) -> list[str]:
        """Retry every failed task; returns their names."""
        failed = [run for run in self._runs.values() if run.state is S.FAILED]
        if failed:
            self._retry_runs(failed)
        return [run.spec.name for run in failed]

    def skip(self: Scheduler, task: str) -> None:
        """Mark ``task`` skipped (ending it if it runs); tasks after it may then run."""
        run = self._run(task)
        if run.state in (S.COMPLETED, S.SKIPPED):
            raise TransitionError(f"task {task}", run.state.value, "skip")
        if run.running is not None:
            run.running.interrupt("skip")
            return
        self._drop_timer(run)
        self._mark_skipped(run)
