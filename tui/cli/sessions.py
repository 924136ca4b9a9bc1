"""``formicary sessions``, ``status SESSION`` and ``logs SESSION TASK``: read the store."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from engine.durations import took
from engine.errors import UsageError
from engine.states import SessionStatus, TaskStatus
from engine.store import SessionRecord, Store

# Rich and the glyphs are imported where a table is printed:
# `status --json` polled by scripts every second pays only for reading the store.


def open_store(args: argparse.Namespace) -> Store:
    """The workspace's store; a usage error when there is none yet."""
    return Store.for_workspace(Path(args.workspace or "."), create=False)


def _clock(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


def session_json(record: SessionRecord) -> dict[str, Any]:
    """What ``sessions --json`` says of one session."""
    return {
        "id": record.id,
        "project": record.project,
        "workflow": record.workflow,
        "status": record.shown_status,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "counts": dict(record.counts),
        "total": record.total,
        "owner_pid": record.owner_pid,
        "owner_alive": record.owner_alive,
    }


def list_sessions(args: argparse.Namespace) -> int:
    """Print every session."""
    store = open_store(args)
    records = store.sessions(limit=args.limit)
    if args.json:
        print(
            json.dumps(
                {"sessions": [session_json(r) for r in records]},
                indent=2 if sys.stdout.isatty() else None,
            )
        )
        return 0
    from rich.text import Text

    from tui.cli.output import make_console, print_columns

    rows = []
    for record in records:
        counts = record.counts
        failed = sum(counts.get(s, 0) for s in ("failed", "blocked", "cancelled"))
        status = record.shown_status
        style = {"completed": "green", "failed": "red", "orphaned": "yellow"}.get(status, "")
        rows.append(
            (
                str(record.id),
                record.project,
                record.workflow,
                Text(status, style=style),
                _clock(record.started_at or record.created_at),
                took(record.started_at, record.ended_at),
                f"{counts.get('completed', 0)}/{failed}/{record.total}",
                f"pid {record.owner_pid} alive" if record.owner_alive else "-",
            )
        )
    headers = ("id", "project", "workflow", "status", "started", "took", "done/failed/total")
    print_columns(make_console(), (*headers, "owner"), rows)
    if not records:
        print("no sessions yet: start one with formicary run PROJECT", file=sys.stderr)
    return 0


def show_status(args: argparse.Namespace) -> int:
    """Print one session's tasks."""
    store = open_store(args)
    record = store.session(args.session)
    if args.json:
        if sys.stdout.isatty():
            document = {**session_json(record), "tasks": store.task_summaries(record.id)}
            print(json.dumps(document, indent=2))
            return 0
        # Compact, with the task array built by the store as text: scripts poll this.
        head = json.dumps(session_json(record), separators=(",", ":"))
        sys.stdout.write(f'{head[:-1]},"tasks":{store.task_summaries_json(record.id)}}}\n')
        return 0
    tasks, attempts = store.tasks_and_attempts(record.id)
    last = {attempt.task: attempt for attempt in attempts}
    from rich.text import Text

    from tui.cli.output import make_console, print_columns
    from tui.glyphs import STYLES, glyph

    console = make_console()
    console.print(
        f"session {record.id}: {record.project}:{record.workflow} · {record.shown_status} · "
        f"{took(record.started_at, record.ended_at)}"
    )
    rows = []
    for task in tasks:
        state = TaskStatus(task.state)
        attempt = last.get(task.name)
        rows.append(
            (
                task.name,
                Text(
                    f"{glyph(state)} {state.value}" + (" (held)" if task.held else ""),
                    style=STYLES[state],
                ),
                str(task.attempts or "-"),
                "-" if attempt is None or attempt.exit_code is None else str(attempt.exit_code),
                took(attempt.started_at, attempt.ended_at) if attempt else "-",
                task.reason,
            )
        )
    print_columns(console, ("task", "state", "try", "exit", "took", "reason"), rows)
    return 0


def show_logs(args: argparse.Namespace) -> int:
    """Print (and with -f, follow) one attempt's log."""
    store = open_store(args)
    record = store.session(args.session)
    store.require_task(record.id, args.task)
    attempts = store.attempts(record.id, args.task)
    if not attempts:
        print(f"task {args.task} has not run yet", file=sys.stderr)
        return 0
    chosen = attempts[-1]
    if args.attempt is not None:
        matching = [a for a in attempts if a.number == args.attempt]
        if not matching:
            numbers = ", ".join(str(a.number) for a in attempts)
            raise UsageError(f"--attempt {args.attempt}: task {args.task} has attempts {numbers}")
        chosen = matching[0]
    path = Path(chosen.log_path or "")
    offset = _print_from(path, 0)
    if args.follow:
        _follow(store, record.id, args.task, chosen.number, path, offset)
    elif offset == 0:
        print(f"(attempt {chosen.number} of {args.task} printed nothing)", file=sys.stderr)
    return 0


def _print_from(path: Path, offset: int) -> int:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            data = log.read()
    except (FileNotFoundError, IsADirectoryError):
        return offset
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()
    return offset + len(data)


def _follow(store: Store, session_id: int, task: str, number: int, path: Path, offset: int) -> None:
    """Print what the attempt writes, like ``tail -f``, until it or its session ends."""
    while True:
        finished = any(
            a.number == number and a.outcome is not None for a in store.attempts(session_id, task)
        )
        record = store.session(session_id)
        offset = _print_from(path, offset)
        if (
            finished
            or record.status
            in (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED)
            or not record.owner_alive
        ):
            _print_from(path, offset)
            return
        time.sleep(0.2)
