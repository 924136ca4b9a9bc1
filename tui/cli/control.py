"""``formicary retry|cancel|pause|resume|hold|release|skip SESSION [TASK]`` and ``prune``.

When the session's engine is alive (a ``formicary run`` elsewhere, a dashboard), the call is
queued for it and this command waits for the outcome. When nobody runs the session any more,
this process adopts it, applies the call, and runs it in the foreground like ``run``.

Either way the session runs the definitions it stored when it started (reproducibility);
when the workspace now defines a task it would start differently, a ``note:`` line per such
task says so (:mod:`formicary.api.definition_drift`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

from formicary.api.control import SessionHandle
from formicary.api.definition_drift import session_drift
from formicary.api.recovery import adopt, find_orphan
from formicary.api.runtime import logs_root
from formicary.api.session_client import SessionClient
from formicary.cli.output import make_console
from formicary.cli.run import follow, report_subscription
from formicary.errors import UsageError
from formicary.run.events import Subscription
from formicary.store.database import SessionRecord, Store


def control(args: argparse.Namespace) -> int:
    """Apply one control call to a session, wherever it runs (the rule is
    :class:`~formicary.api.session_client.SessionClient`'s).

    A session whose engine is alive gets the call queued. A session that has ended takes
    only a retry that has something to run again (it is adopted and reopened); anything
    else is refused, and the store is left untouched. A session whose engine died
    (orphaned) is adopted and runs here in the foreground with the call applied, whatever
    the call, except ``pause``: nothing of it runs to be paused, and a foreground process
    sitting paused would only hold the terminal (``formicary resume`` adopts it).
    """
    workspace = Path(args.workspace or ".")
    store = Store.for_workspace(workspace, create=False)
    record = store.session(args.session)
    if args.task is not None:
        store.require_task(record.id, args.task)
    action = args.action
    if action == "retry" and args.task is None:
        action = "retry_failed"
    extra = {"stop_processes": True} if getattr(args, "stop", False) else {}
    console = make_console()
    plain = getattr(args, "plain", False)
    reports: list[Subscription] = []

    async def adopt_here(orphan: SessionRecord) -> SessionHandle:
        # Called once the call is known to be taken: only then is the store written.
        note_changed_definitions(
            workspace, store, orphan, action, args.task, adopting=not orphan.status.is_final
        )
        handle = adopt(workspace, orphan, store)
        reports.append(report_subscription(handle))  # before the call: its effects show
        return handle

    async def apply() -> int:
        if record.owner_alive:
            note_changed_definitions(workspace, store, record, action, args.task)
        client = SessionClient(store, record.id, adopter=adopt_here)
        outcome = await client.control(action, args.task, **extra)
        if outcome.handle is None:
            message = outcome.unwrap()
            target = f"{action} {args.task}" if args.task else action
            print(f"session {record.id}: {target}: {message}")
            return 0
        if not outcome.ok:
            await outcome.handle.close()
            outcome.unwrap()
        live = console.is_terminal and not plain
        return await follow(
            outcome.handle,
            console,
            live,
            subscription=reports[0],
            front_end=f"formicary {args.command}",
        )

    return asyncio.run(apply())


def resume_session(args: argparse.Namespace) -> int:
    """Resume a paused session, or adopt an orphaned one and run it here."""
    workspace = Path(args.workspace or ".")
    store = Store.for_workspace(workspace, create=False)
    if args.session is not None:
        record = store.session(args.session)
        if record.owner_alive:
            args.action = "resume"
            return control(args)
        if record.status.is_final:
            raise UsageError(
                f"session {record.id} has finished ({record.status.value}); "
                f"retry its tasks with formicary retry {record.id} [TASK]"
            )
    record = find_orphan(store, args.session)
    note_changed_definitions(workspace, store, record, "resume", adopting=True)
    console = make_console()

    async def adopt_and_follow() -> int:
        handle = adopt(workspace, record, store)
        console.print(f"adopting session {record.id} (its engine, pid {record.owner_pid}, stopped)")
        live = console.is_terminal and not args.plain
        return await follow(handle, console, live, front_end="formicary resume")

    return asyncio.run(adopt_and_follow())


def note_changed_definitions(
    workspace: Path,
    store: Store,
    record: SessionRecord,
    action: str,
    task: str | None = None,
    *,
    adopting: bool = False,
) -> None:
    """Print one ``note:`` line (on stderr) per task the call may start whose stored
    definition, which is what runs, differs from the workspace's current one."""
    verb = "retrying" if action in ("retry", "retry_failed") else "running"
    for drift in session_drift(workspace, store, record, action, task, adopting=adopting):
        print(
            f"note: task {drift.task}'s definition changed since session {record.id} ran; "
            f"{verb} the stored one: {drift.stored}",
            file=sys.stderr,
        )


def prune_sessions(args: argparse.Namespace) -> int:
    """Delete old sessions and their log folders, after saying which and asking.

    On a terminal it asks ``Delete N session(s) and their logs? [y/N]``; elsewhere (a
    script, a pipe) nobody can answer, so it refuses unless ``--yes`` says so up front.
    ``--dry-run`` lists what it would delete and deletes nothing. Deleted session numbers
    are never given to a new session.
    """
    if args.keep < 0:
        raise UsageError(f"--keep {args.keep}: must be 0 or more")
    workspace = Path(args.workspace or ".")
    store = Store.for_workspace(workspace, create=False)
    doomed = store.prunable(args.keep)
    if not doomed:
        print("nothing to prune", file=sys.stderr)
        return 0
    asking = not args.yes and sys.stdin.isatty()
    if args.dry_run or asking:
        for record in doomed:
            print(f"session {record.id}: {record.project}:{record.workflow} {record.shown_status}")
    if args.dry_run:
        print(f"would delete {len(doomed)} session(s) and their logs", file=sys.stderr)
        return 0
    if not args.yes:
        if not asking:
            raise UsageError(
                f"prune would delete {len(doomed)} session(s) and their logs; "
                "pass --yes to confirm (no terminal to ask on)"
            )
        print(f"Delete {len(doomed)} session(s) and their logs? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 0
    removed = store.delete_sessions(doomed)
    for session_id in removed:
        shutil.rmtree(logs_root(workspace) / str(session_id), ignore_errors=True)
    print(f"removed {len(removed)} session(s)")
    return 0
