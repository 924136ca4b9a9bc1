"""``formicary retry|cancel|pause|resume|hold|release|skip SESSION [TASK]`` and ``prune``.

When the session's engine is alive (a ``formicary run`` elsewhere, a dashboard), the call is
queued for it and this command waits for the outcome. When nobody runs the session any more,
this process adopts it, applies the call, and runs it in the foreground like ``run``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from engine.control import attach, run_command
from engine.errors import UsageError
from engine.recovery import adopt, find_orphan
from engine.runtime import logs_root
from engine.store import Store
from tui.cli.output import make_console
from tui.cli.run import follow

TASK_ACTIONS = {
    "retry": "run a failed, cancelled or blocked task again (with no TASK: every failed one)",
    "cancel": "cancel a task (with no TASK: the whole session)",
    "skip": "skip a task so the tasks after it may run",
    "hold": "keep a task from running (a running one is stopped)",
    "release": "let a held task run again",
}


def register(subparsers: Any) -> None:
    """Add the control commands and ``prune``."""
    for action, summary in TASK_ACTIONS.items():
        parser = subparsers.add_parser(action, help=summary, description=summary + ".")
        parser.add_argument("session", metavar="SESSION")
        optional = action in ("retry", "cancel")
        parser.add_argument("task", metavar="TASK", nargs="?" if optional else None)
        parser.add_argument("--plain", action="store_true", help="plain lines if adopting")
        parser.set_defaults(handler=control, action=action)
    pause = subparsers.add_parser(
        "pause",
        help="stop dispatching new tasks of a session",
        description="Stop dispatching; --stop also stops (SIGSTOP) running processes.",
    )
    pause.add_argument("session", metavar="SESSION")
    pause.add_argument("--stop", action="store_true", help="stop running processes too")
    pause.set_defaults(handler=control, action="pause", task=None)
    resume = subparsers.add_parser(
        "resume",
        help="resume a paused session, or adopt one whose engine stopped",
        description="Resume a paused session. A session whose engine stopped (orphaned) is "
        "adopted by this process: completed tasks are not run again, lost attempts are "
        "retried by their policy. With no SESSION, the most recent orphaned session.",
    )
    resume.add_argument("session", metavar="SESSION", nargs="?")
    resume.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    resume.set_defaults(handler=resume_session, task=None)
    prune = subparsers.add_parser(
        "prune",
        help="delete old sessions and their logs",
        description="Keep the N newest sessions; delete older finished ones and their logs.",
    )
    prune.add_argument("--keep", type=int, required=True, metavar="N")
    prune.set_defaults(handler=prune_sessions)


def control(args: argparse.Namespace) -> int:
    """Apply one control call to a session, wherever it runs."""
    workspace = Path(args.workspace or ".")
    session = attach(workspace, args.session)
    record = session.record
    if args.task is not None:
        session.store.require_task(record.id, args.task)
    action = args.action
    if action == "retry" and args.task is None:
        action = "retry_failed"
    extra = {"stop_processes": True} if getattr(args, "stop", False) else {}
    if record.owner_alive:
        command_id = session._queue(action, args.task, **extra)
        outcome = asyncio.run(session.outcome(command_id, timeout=10))
        if outcome is None:
            raise UsageError(f"session {record.id}: its engine did not answer within 10 s")
        if outcome.startswith("error: "):
            raise UsageError(outcome.removeprefix("error: "))
        target = f"{action} {args.task}" if args.task else action
        print(f"session {record.id}: {target}: {outcome}")
        return 0
    if action in ("pause", "hold", "release"):
        raise UsageError(
            f"session {record.id} has no running engine; adopt it with formicary resume {record.id}"
        )
    console = make_console()
    plain = getattr(args, "plain", False)

    async def adopt_and_apply() -> int:
        handle = adopt(workspace, record, session.store)
        apply = lambda: run_command(handle, action, args.task, extra)  # noqa: E731
        return await follow(handle, console, console.is_terminal and not plain, before=apply)

    return asyncio.run(adopt_and_apply())


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
    console = make_console()

    async def adopt_and_follow() -> int:
        handle = adopt(workspace, record, store)
        console.print(f"adopting session {record.id} (its engine, pid {record.owner_pid}, stopped)")
        return await follow(handle, console, console.is_terminal and not args.plain)

    return asyncio.run(adopt_and_follow())


def prune_sessions(args: argparse.Namespace) -> int:
    """Delete old sessions and their log folders."""
    if args.keep < 0:
        raise UsageError(f"--keep {args.keep}: must be 0 or more")
    workspace = Path(args.workspace or ".")
    store = Store.for_workspace(workspace, create=False)
    removed = store.prune(args.keep)
    for session_id in removed:
        shutil.rmtree(logs_root(workspace) / str(session_id), ignore_errors=True)
    print(f"removed {len(removed)} session(s)", file=sys.stderr if not removed else sys.stdout)
    return 0
