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

from engine.control import attach, run_command
from engine.errors import UsageError
from engine.recovery import adopt, find_orphan
from engine.runtime import logs_root
from engine.store import Store
from tui.cli.output import make_console
from tui.cli.run import follow


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
        outcome = session.request(action, args.task, **extra)
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
