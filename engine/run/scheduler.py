"""The scheduler: runs one session of one workflow as a DAG on asyncio.

Ready tasks are dispatched by priority, then first-come, when their resources fit in their
pools and the workflow's ``max_parallel`` allows. Everything is event-driven: a change (an
attempt ending, a retry delay passing, a control call) schedules one dispatch pass; nothing
polls. All mutable state of a session lives here, and every change is published as an event.

Control calls (:meth:`Scheduler.cancel`, :meth:`Scheduler.retry`, ...) run on the event
loop's thread, apply at once, and raise :class:`~formicary.errors.TransitionError` when the
task's state does not allow them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from formicary.errors import TransitionError, UnknownTaskError
from formicary.model.records import AttemptOutcome, SessionStatus, TaskResult, TaskStatus
from formicary.model.specs import ProjectSpec, WorkflowSpec
from formicary.model.states import (
    BLOCKABLE_TASK_STATES,
    BROKEN_TASK_STATES,
    FINAL_TASK_STATES,
    FINE_TASK_STATES,
    UNCANCELLABLE_TASK_STATES,
    WAITING_TASK_STATES,
    final_session_status,
)
from formicary.run import event_data
from formicary.run.event_data import AttemptEnd
from formicary.run.events import EventBus, EventKind
from formicary.run.executors import Executor, ExitStatus
from formicary.run.jobs import JobBuilder
from formicary.run.private_files import private_dir
from formicary.run.ready_queue import ReadyQueue
from formicary.run.resources import ResourcePools, TreeSample, UsageMonitor
from formicary.run.task_runs import (
    _STOP_REASONS,
    Attempt,
    RestoredTask,
    TaskRun,
    TaskView,
    default_max_parallel,
    retry_delay,
)

log = logging.getLogger(__name__)

S = TaskStatus


class Scheduler:
    """Runs one workflow of one project as a session.

    Args:
        session_id: The session's id.
        project: The project spec (its folder is every task's cwd).
        workflow: The workflow to run.
        params: Parameter values, already resolved against the workflow's declarations.
        bus: Where events go.
        executors: ``{"shell": ..., "python": ...}``.
        log_dir: Folder for this session's attempt logs.
        max_parallel: Overrides the workflow's limit.
        monitor_interval: Seconds between resource samples (None: no sampling).
        seed: Seeds the retry jitter (tests).
    """

    def __init__(
        self,
        session_id: str,
        project: ProjectSpec,
        workflow: WorkflowSpec,
        params: Mapping[str, Any],
        *,
        bus: EventBus,
        executors: Mapping[str, Executor],
        log_dir: Path,
        max_parallel: int | None = None,
        monitor_interval: float | None = 1.0,
        seed: int | None = None,
    ) -> None:
        self.session_id = session_id
        self.project = project
        self.workflow = workflow
        self.params = dict(params)
        self.bus = bus
        self.log_dir = log_dir
        self.max_parallel = max_parallel or workflow.max_parallel or default_max_parallel()
        self.status = SessionStatus.CREATED
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.pools = ResourcePools(project.resources)
        self._executors = executors
        self._rng = random.Random(seed)
        self._dag = workflow.dag
        self._runs = {
            name: TaskRun(spec, index) for index, (name, spec) in enumerate(workflow.tasks.items())
        }
        self._counts: Counter[TaskStatus] = Counter({S.PENDING: len(self._runs)})
        self._ready = ReadyQueue()
        self._active: dict[str, Attempt] = {}
        self._order = 0
        self._paused = False
        self._stop_processes = False
        self._cancelling = False
        self._cancel_reason = "session cancelled"
        """Recorded on the tasks a cancel of the whole session ends."""
        self._dispatch_scheduled = False
        self._finished = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs = JobBuilder(session_id, project, workflow, self.params, log_dir)
        self._monitor = (
            UsageMonitor(self.running_pids, self._bookings, self._on_sample, monitor_interval)
            if monitor_interval
            else None
        )

    # -- reading ---------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once every task is final and nothing runs."""
        return self._finished.is_set()

    @property
    def paused(self) -> bool:
        """True while the session dispatches nothing new."""
        return self._paused

    def counts(self) -> dict[TaskStatus, int]:
        """How many tasks are in each state."""
        return {state: count for state, count in self._counts.items() if count}

    def state(self, task: str) -> TaskStatus:
        """The state of ``task``."""
        return self._run(task).state

    def history(self, task: str) -> list[TaskResult]:
        """Every finished attempt of ``task``, oldest first."""
        return list(self._run(task).history)

    def view(self, task: str) -> TaskView:
        """A snapshot of one task."""
        return self._run(task).view()

    def snapshot(self) -> list[TaskView]:
        """Every task, in definition order."""
        return [self.view(name) for name in self._runs]

    def log_path(self, task: str, attempt: int) -> Path:
        """Where attempt ``attempt`` of ``task`` writes its output."""
        return Path(self._log_file(task, attempt))

    def _log_file(self, task: str, attempt: int) -> str:
        return self._jobs.log_file(task, attempt)

    def waiting_on(self, task: str) -> str:
        """Why ``task`` is not running, in words (empty when it is running or final)."""
        run = self._run(task)
        pools = self.pools
        short = [
            pool
            for pool, amount in run.spec.resources.items()
            if pools.booked[pool] + amount > pools.capacity[pool]
        ]
        full = len(self._active) >= self.max_parallel
        return run.waiting_on(
            self._runs,
            paused=self._paused,
            short_pools=short,
            at_max_parallel=f"max_parallel ({self.max_parallel}) reached" if full else "",
        )

    async def wait(self) -> SessionStatus:
        """Wait until the session has finished; return its status."""
        await self._finished.wait()
        return self.status

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Begin the session: tasks without dependencies become ready."""
        if self.status is not SessionStatus.CREATED:
            raise TransitionError(f"session {self.session_id}", self.status.value, "start")
        self._loop = asyncio.get_running_loop()
        self.started_at = time.time()
        self.status = SessionStatus.RUNNING
        private_dir(self.log_dir)
        self.bus.publish(
            self.session_id,
            EventKind.SESSION_STARTED,
            data=event_data.session_started(
                self.project.name,
                self.workflow.name,
                self.params,
                list(self._runs),
                self.max_parallel,
            ),
        )
        for run in self._runs.values():
            run.unmet = len(run.spec.depends_on)
            if run.unmet == 0:
                self._make_ready(run)
        self._schedule_dispatch()
        self._check_finished()

    def adopt(
        self,
        restored: Mapping[str, RestoredTask],
        *,
        paused: bool = False,
        ended: SessionStatus | None = None,
    ) -> None:
        """Continue a session that another process ran until it stopped.

        Completed and skipped tasks are never run again; an attempt that was running is
        recorded as ``lost`` and its task retried by its policy; held tasks stay held, and a
        paused session stays paused.

        A session that had already ended (``ended`` is its final status) is taken over
        silently: it stays ended and nothing is published, so adopting it rewrites none of
        its history. Only a control call that reopens it (a retry) makes it run again, and
        that reopening is published (``session_resumed`` with ``reopened``).
        """
        if self.status is not SessionStatus.CREATED:
            raise TransitionError(f"session {self.session_id}", self.status.value, "adopt")
        self._loop = asyncio.get_running_loop()
        self.started_at = time.time()
        self.status = SessionStatus.RUNNING
        private_dir(self.log_dir)
        for name, run in self._runs.items():
            record = restored.get(name)
            if record is not None:
                run.state = record.state
                run.attempts = record.attempts
                run.budget_from = record.budget_from
                run.held = record.held
                run.history = list(record.history)
        self._counts = Counter(run.state for run in self._runs.values())
        for run in self._runs.values():
            run.unmet = sum(
                1 for dep in run.spec.depends_on if self._runs[dep].state not in FINE_TASK_STATES
            )
        if ended is not None and ended.is_final:
            self.status = ended
            self.ended_at = self.started_at
            self._finished.set()
            return
        self.bus.publish(
            self.session_id,
            EventKind.SESSION_RESUMED,
            data=event_data.session_resumed(adopted_by=os.getpid()),
        )
        if paused:
            self._paused = True
            self.status = SessionStatus.PAUSED
            self.bus.publish(
                self.session_id,
                EventKind.SESSION_PAUSED,
                data=event_data.session_paused(adopted=True),
            )
        for name, run in self._runs.items():
            record = restored.get(name)
            if record is not None and record.lost_attempt is not None:
                self._record_lost(run, record.lost_attempt)
            elif run.state in (S.READY, S.RETRYING) or (run.state is S.PENDING and not run.unmet):
                self._make_ready(run)
        self._schedule_dispatch()
        self._check_finished()

    def _record_lost(self, run: TaskRun, number: int) -> None:
        reason = "lost: the process running the engine stopped"
        now = time.time()
        result = TaskResult(
            task=run.spec.name,
            status=S.FAILED,
            attempt=number,
            outcome=AttemptOutcome.LOST,
            reason=reason,
            ended_at=now,
            log_path=self._log_file(run.spec.name, number),
        )
        run.history.append(result)
        lost = event_data.attempt_ended(AttemptOutcome.LOST, None, reason)
        failures = run.attempts - run.budget_from
        if failures > run.spec.retries:
            self._set_state(run, S.FAILED, reason, number, lost)
            self._block_downstream(run)
        elif run.held:
            self._set_state(run, S.PAUSED, reason, number, lost)
        elif run.unmet == 0:
            self._make_ready(run, number, lost)
        else:  # pragma: no cover - a running task had all its dependencies done
            self._set_state(run, S.PENDING, reason, number, lost)

    # -- control calls ---------------------------------------------------------------------

    def pause(self, stop_processes: bool = False) -> None:
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
            self.session_id,
            EventKind.SESSION_PAUSED,
            data=event_data.session_paused(stop_processes=stop_processes),
        )

    def resume(self) -> None:
        """Undo :meth:`pause`: continue stopped processes and dispatch again."""
        if not self._paused:
            raise TransitionError(f"session {self.session_id}", self.status.value, "resume")
        self._paused = False
        self.status = SessionStatus.RUNNING
        for name, attempt in self._active.items():
            if not self._runs[name].held:
                attempt.resume(self._loop, partial(self._on_timeout, self._runs[attempt.job.task]))
        self.bus.publish(
            self.session_id, EventKind.SESSION_RESUMED, data=event_data.session_resumed()
        )
        self._schedule_dispatch()

    def hold(self, task: str) -> None:
        """Keep ``task`` from being dispatched (state ``paused``); a running shell attempt is
        stopped with SIGSTOP and its timeout suspended."""
        run = self._run(task)
        if run.held or run.state in FINAL_TASK_STATES:
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

    def release(self, task: str) -> None:
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

    def cancel(self, task: str) -> None:
        """Cancel ``task`` (ending its processes); its downstream becomes ``blocked``."""
        run = self._run(task)
        if run.state in UNCANCELLABLE_TASK_STATES:
            raise TransitionError(f"task {task}", run.state.value, "cancel")
        if run.running is not None:
            run.running.interrupt("cancel")
            return
        self._drop_timer(run)
        self._set_state(run, S.CANCELLED, "cancelled by the user")
        self._block_downstream(run)
        self._check_finished()

    def cancel_session(self, reason: str = "session cancelled") -> None:
        """Cancel every task that has not finished and end running attempts; ``reason`` is
        recorded on each (the dashboard crashed, a signal ended ``run``...)."""
        if self._finished.is_set():
            return
        self._cancelling = True
        self._cancel_reason = reason
        for run in self._runs.values():
            if run.running is not None:
                run.running.interrupt("session")
            elif run.state in WAITING_TASK_STATES:
                self._drop_timer(run)
                self._set_state(run, S.CANCELLED, reason)
        if self._paused:
            self._paused = False
        self._check_finished()

    def retry(self, task: str) -> None:
        """Run a failed, cancelled or blocked task again, with a fresh retry budget.

        Failed or cancelled tasks upstream of it are retried too (it cannot run without
        them), and its blocked downstream returns to ``pending``.
        """
        run = self._run(task)
        if run.state not in BROKEN_TASK_STATES:
            raise TransitionError(f"task {task}", run.state.value, "retry")
        upstream = [self._runs[name] for name in self._dag.upstream(task)]
        self._retry_runs([run, *(r for r in upstream if r.state in BROKEN_TASK_STATES)])

    def retry_failed(self) -> list[str]:
        """Retry every failed task; returns their names."""
        failed = [run for run in self._runs.values() if run.state is S.FAILED]
        if failed:
            self._retry_runs(failed)
        return [run.spec.name for run in failed]

    def skip(self, task: str) -> None:
        """Mark ``task`` skipped (ending it if it runs); tasks after it may then run."""
        run = self._run(task)
        if run.state in FINE_TASK_STATES:
            raise TransitionError(f"task {task}", run.state.value, "skip")
        if run.running is not None:
            run.running.interrupt("skip")
            return
        self._drop_timer(run)
        self._mark_skipped(run)

    async def close(self, reason: str = "session cancelled") -> None:
        """Cancel whatever still runs (recording ``reason``), wait for it to stop, and stop
        sampling."""
        if not self._finished.is_set() and self.status is not SessionStatus.CREATED:
            self.cancel_session(reason)
            await self._finished.wait()
        if self._monitor is not None:
            await self._monitor.close()

    # -- internals: state ------------------------------------------------------------------

    def _run(self, task: str) -> TaskRun:
        try:
            return self._runs[task]
        except KeyError:
            raise UnknownTaskError(task, self._runs) from None

    def _set_state(
        self,
        run: TaskRun,
        state: TaskStatus,
        reason: str = "",
        attempt: int | None = None,
        extra: AttemptEnd | None = None,
        publish: bool = True,
    ) -> None:
        """Change a task's state and publish it as one ``task_state`` event.

        The event also carries what the change is about: ``extra`` holds the attempt's
        details when it starts (log, pid...) or ends (outcome, exit code, duration), so an
        attempt costs no events of its own. ``publish=False`` changes the state silently
        (dispatch: the event follows once the work really runs).
        """
        previous = run.state
        if previous is state and not extra:
            return
        if previous is not state:
            run.state = state
            counts = self._counts
            counts[previous] -= 1
            counts[state] += 1
        if not publish:
            return
        data = event_data.task_state(
            state,
            previous,
            reason=reason,
            held=run.held,
            budget_from=run.budget_from if state is not S.RUNNING else 0,
            ended=extra,
        )
        self.bus.publish(
            self.session_id,
            EventKind.TASK_STATE,
            run.spec.name,
            attempt if attempt is not None else (run.attempts or None),
            data,
        )

    def _make_ready(
        self, run: TaskRun, attempt: int | None = None, extra: AttemptEnd | None = None
    ) -> None:
        if run.held:
            self._set_state(run, S.PAUSED, "held by the user", attempt, extra)
            return
        self._order += 1
        run.order = self._order
        self._ready.push(run.spec.priority.rank, run.order, run.spec.name, run.spec.resources)
        self._set_state(run, S.READY, attempt=attempt, extra=extra)
        self._schedule_dispatch()

    def _drop_timer(self, run: TaskRun) -> None:
        if run.retry_timer is not None:
            run.retry_timer.cancel()
            run.retry_timer = None

    def _satisfy_dependents(self, run: TaskRun) -> None:
        for name in self._dag.dependents(run.spec.name):
            dependent = self._runs[name]
            dependent.unmet -= 1
            if dependent.unmet == 0 and dependent.state in (S.PENDING, S.PAUSED):
                if dependent.held:
                    continue
                self._make_ready(dependent)

    def _block_downstream(self, run: TaskRun) -> None:
        reason = f"upstream task {run.spec.name} {run.state.value}"
        for name in self._dag.sorted(self._dag.downstream(run.spec.name)):
            dependent = self._runs[name]
            if dependent.state in BLOCKABLE_TASK_STATES:
                self._set_state(dependent, S.BLOCKED, reason)

    def _reevaluate_downstream(self, names: Iterable[str]) -> None:
        """Unblock blocked tasks below ``names`` whose dependencies are no longer broken."""
        for name in self._dag.sorted(self._dag.downstream(names)):
            run = self._runs[name]
            if run.state is not S.BLOCKED:
                continue
            if any(self._runs[dep].state in BROKEN_TASK_STATES for dep in run.spec.depends_on):
                continue
            if run.unmet == 0:
                self._make_ready(run)
            else:
                self._set_state(run, S.PAUSED if run.held else S.PENDING, "upstream retried")

    def _retry_runs(self, runs: list[TaskRun]) -> None:
        self._reopen()
        names = {run.spec.name for run in runs}
        for name in self._dag.sorted(names):
            run = self._runs[name]
            run.budget_from = run.attempts
            if run.unmet == 0:
                self._make_ready(run)
            else:
                self._set_state(run, S.PAUSED if run.held else S.PENDING, "retried by the user")
        self._reevaluate_downstream(names)
        self._schedule_dispatch()

    def _mark_skipped(self, run: TaskRun, ended_attempt: AttemptEnd | None = None) -> None:
        self._reopen()
        self._set_state(run, S.SKIPPED, "skipped by the user", extra=ended_attempt)
        self._satisfy_dependents(run)
        self._reevaluate_downstream([run.spec.name])
        self._schedule_dispatch()
        self._check_finished()

    def _reopen(self) -> None:
        """A manual action on a finished session starts it running again."""
        self._cancelling = False
        if self._finished.is_set():
            self._finished.clear()
            self.status = SessionStatus.RUNNING
            self.ended_at = None
            self.bus.publish(
                self.session_id,
                EventKind.SESSION_RESUMED,
                data=event_data.session_resumed(reopened=True),
            )

    def _check_finished(self) -> None:
        if self._finished.is_set() or self._active or self.status is SessionStatus.CREATED:
            return
        final = sum(self._counts[state] for state in FINAL_TASK_STATES)
        if final < len(self._runs):
            return
        # One rule for every view (formicary.model.states): a cancel of the session does not hide a
        # task that had failed, and a cancelled task without a failed one is no failure.
        status = final_session_status(self._counts)
        data = event_data.session_finished(
            status, self.counts(), self._cancel_reason if self._cancelling else None
        )
        self._cancelling = False
        self._paused = False
        self.status = status
        self.ended_at = time.time()
        self.bus.publish(self.session_id, EventKind.SESSION_FINISHED, data=data)
        self._finished.set()

    # -- internals: dispatch ---------------------------------------------------------------

    def _schedule_dispatch(self) -> None:
        if not self._dispatch_scheduled and self._loop is not None:
            self._dispatch_scheduled = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        if self._paused or self._cancelling:
            return
        runs = self._runs

        def current(name: str, order: int) -> bool:
            run = runs[name]
            return run.state is S.READY and run.order == order

        while len(self._active) < self.max_parallel:
            name = self._ready.pop(current, self.pools.fits)
            if name is None:
                return
            self._start_attempt(runs[name])

    def _start_attempt(self, run: TaskRun) -> None:
        spec = run.spec
        self.pools.acquire(spec.resources)
        run.attempts += 1
        number = run.attempts
        job = self._jobs.job(spec, number)
        kind = job.kind
        executor = self._executors[kind]
        attempt = Attempt(number, job, kind == "shell", time.time())
        run.running = attempt
        self._active[spec.name] = attempt
        attempt.previous = run.state
        self._set_state(run, S.RUNNING, attempt=number, publish=False)
        assert self._loop is not None
        if spec.timeout:
            attempt.deadline = self._loop.time() + spec.timeout
            attempt.timer = self._loop.call_later(spec.timeout, self._on_timeout, run, attempt)
        attempt.future = executor.submit(
            job,
            partial(self._on_started, run, attempt),
            partial(self._deliver_output, spec.name, number),
        )
        attempt.future.add_done_callback(partial(self._on_attempt_done, run, attempt))

    def _deliver_output(self, task: str, number: int, lines: list[str]) -> None:
        self.bus.publish(self.session_id, EventKind.OUTPUT, task, number, event_data.output(lines))

    def _announce(self, run: TaskRun, attempt: Attempt) -> None:
        """Publish the ``running`` state once the work really runs, with the attempt's log
        file and pid (its start time is the event's)."""
        if attempt.announced:
            return
        attempt.announced = True
        data = event_data.attempt_started(
            attempt.previous,
            attempt.job.log_path,
            attempt.pid,
            worker=attempt.worker,
            held=run.held,
        )
        self.bus.publish(self.session_id, EventKind.TASK_STATE, run.spec.name, attempt.number, data)

    def _on_started(
        self, run: TaskRun, attempt: Attempt, pid: int | None, worker: str | None = None
    ) -> None:
        attempt.pid = pid
        attempt.worker = worker
        self._announce(run, attempt)
        if pid is not None:
            if self._monitor is not None:
                self._monitor.poke()
            if run.held or (self._paused and self._stop_processes):
                attempt.stop(self._loop)
        if attempt.stop_reason is None:
            attempt.interruptible = pid is not None or self._executors[
                attempt.job.kind
            ].interruptible(attempt.job)

    def _on_timeout(self, run: TaskRun, attempt: Attempt) -> None:
        attempt.timer = None
        if run.running is attempt and attempt.stop_reason is None:
            attempt.interrupt("timeout")

    def _on_attempt_done(
        self, run: TaskRun, attempt: Attempt, task: asyncio.Future[ExitStatus]
    ) -> None:
        if attempt.timer is not None:
            attempt.timer.cancel()
            attempt.timer = None
        if attempt.worker is None and not task.cancelled() and task.exception() is None:
            attempt.worker = task.result().worker
        self._announce(run, attempt)
        status: ExitStatus | None = None
        if task.cancelled():
            outcome = (
                AttemptOutcome.TIMED_OUT
                if attempt.stop_reason == "timeout"
                else AttemptOutcome.CANCELLED
            )
            if attempt.stop_reason == "timeout":
                reason = f"timed out after {run.spec.timeout or 0:g}s"
            else:
                reason = _STOP_REASONS.get(attempt.stop_reason or "", "cancelled")
                if attempt.stop_reason == "session":
                    reason = self._cancel_reason
            if not attempt.interruptible:
                reason += " (the Python callable cannot be interrupted and may still be running)"
        elif task.exception() is not None:
            error = task.exception()
            outcome = AttemptOutcome.FAILED
            reason = f"could not run: {type(error).__name__}: {error}"
            log.warning("attempt %s.%s failed to run: %s", run.spec.name, attempt.number, error)
        else:
            status = task.result()
            if status.lost:
                outcome = AttemptOutcome.LOST
            else:
                outcome = AttemptOutcome.SUCCEEDED if status.ok else AttemptOutcome.FAILED
            reason = status.error
        self._finish_attempt(run, attempt, outcome, reason, status)

    def _finish_attempt(
        self,
        run: TaskRun,
        attempt: Attempt,
        outcome: AttemptOutcome,
        reason: str,
        status: ExitStatus | None,
    ) -> None:
        spec = run.spec
        self.pools.release(spec.resources)
        del self._active[spec.name]
        run.running = None
        ended = time.time()
        succeeded = outcome is AttemptOutcome.SUCCEEDED
        result = TaskResult(
            task=spec.name,
            status=S.COMPLETED if succeeded else S.FAILED,
            attempt=attempt.number,
            outcome=outcome,
            exit_code=status.exit_code if status is not None and not status.lost else None,
            reason=reason,
            value=status.value if status is not None else None,
            started_at=attempt.started_at,
            ended_at=ended,
            log_path=attempt.job.log_path,
            worker=attempt.worker,
        )
        run.history.append(result)
        ended_attempt = event_data.attempt_ended(outcome, result.exit_code, reason)
        number = attempt.number
        if attempt.stop_reason == "skip":
            self._mark_skipped(run, ended_attempt)
        elif succeeded:
            self._set_state(run, S.COMPLETED, attempt=number, extra=ended_attempt)
            self._satisfy_dependents(run)
        elif outcome is AttemptOutcome.CANCELLED or self._cancelling:
            self._set_state(run, S.CANCELLED, reason, number, ended_attempt)
            self._block_downstream(run)
        else:
            failures = run.attempts - run.budget_from
            if failures <= spec.retries:
                delay = retry_delay(spec, failures, self._rng)
                self._set_state(
                    run, S.RETRYING, f"{reason}; retry in {delay:.1f}s", number, ended_attempt
                )
                assert self._loop is not None
                run.retry_timer = self._loop.call_later(delay, self._retry_due, run)
            else:
                self._set_state(run, S.FAILED, reason, number, ended_attempt)
                self._block_downstream(run)
        self._schedule_dispatch()
        self._check_finished()

    def _retry_due(self, run: TaskRun) -> None:
        run.retry_timer = None
        if run.state is S.RETRYING:
            self._make_ready(run)

    # -- internals: resources --------------------------------------------------------------

    def running_pids(self) -> dict[tuple[str, int], int]:
        """The process id of each running attempt, by ``(task, attempt)``."""
        return {
            (name, attempt.number): attempt.pid
            for name, attempt in self._active.items()
            if attempt.pid is not None
        }

    def _bookings(self) -> tuple[dict[str, int], dict[str, int]]:
        return dict(self.pools.booked), dict(self.pools.capacity)

    def _on_sample(self, samples: Mapping[tuple[str, int], TreeSample], totals: Any) -> None:
        self.bus.publish(
            self.session_id,
            EventKind.RESOURCE_SAMPLE,
            data=event_data.resource_sample(samples, totals),
        )
