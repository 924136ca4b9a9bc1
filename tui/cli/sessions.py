"""``formicary sessions``, ``status SESSION`` and ``logs SESSION [TASK]``: read the store."""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from formicary.errors import UsageError
from formicary.model.durations import span, took
from formicary.model.states import SessionStatus, TaskStatus, task_tally
from formicary.store.database import AttemptRecord, SessionRecord, Store

_STATUS_STYLES = {
    SessionStatus.COMPLETED: "green",
    SessionStatus.FAILED: "red",
    SessionStatus.ORPHANED: "yellow",
}

# Rich and the glyphs are imported where a table is printed:
# `status --json` polled by scripts every second pays only for reading the store.


def open_store(args: argparse.Namespace) -> Store:
    """The workspace's store; a usage error when there is none yet."""
    return Store.for_workspace(Path(args.workspace or "."), create=False)


def _clock(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


def session_json(record: SessionRecord, active_s: float | None = None) -> dict[str, Any]:
    """What ``sessions --json`` says of one session. ``active_s`` is how long it has been
    active (:meth:`Store.active_seconds`: the time it ran, not the idle time before a
    reopening), what ``took`` shows."""
    return {
        "id": record.id,
        "project": record.project,
        "workflow": record.workflow,
        "status": record.shown_status,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "active_s": None if active_s is None else round(active_s, 3),
        "counts": dict(record.counts),
        "total": record.total,
        "owner_pid": record.owner_pid,
        "owner_alive": record.owner_alive,
    }


def list_sessions(args: argparse.Namespace) -> int:
    """Print every session."""
    store = open_store(args)
    records = store.sessions(limit=args.limit)
    active = store.active_seconds(records)
    if args.json:
        print(
            json.dumps(
                {"sessions": [session_json(r, active[r.id]) for r in records]},
                indent=2 if sys.stdout.isatty() else None,
            )
        )
        return 0
    from formicary.cli.output import make_console, print_columns
    from rich.text import Text

    rows = []
    for record in records:
        done, failed, other, total = task_tally(record.counts)
        status = record.shown_status
        style = _STATUS_STYLES.get(SessionStatus(status), "")
        rows.append(
            (
                str(record.id),
                record.project,
                record.workflow,
                Text(status, style=style),
                _clock(record.started_at or record.created_at),
                span(active[record.id]),
                f"{done}/{failed}/{other}/{total}",
                f"pid {record.owner_pid} alive" if record.owner_alive else "-",
            )
        )
    # ``failed`` counts failed tasks only; blocked, cancelled, skipped and unfinished ones
    # are ``other`` (the dashboard's sessions screen shows the same columns).
    headers = ("id", "project", "workflow", "status", "started", "took", "done/failed/other/total")
    print_columns(make_console(), (*headers, "owner"), rows)
    if not records:
        print("no sessions yet: start one with formicary run PROJECT", file=sys.stderr)
    return 0


def show_status(args: argparse.Namespace) -> int:
    """Print one session's tasks."""
    store = open_store(args)
    record = store.session(args.session)
    if args.json:
        active = store.active_seconds([record])[record.id]
        session = {**session_json(record, active), "params": dict(record.params)}
        now = _known_until(record)
        if sys.stdout.isatty():
            summaries = store.task_summaries(record.id, timing=True, now=now)
            print(json.dumps({**session, "tasks": summaries}, indent=2))
            return 0
        # Compact, with the task array built by the store as text: scripts poll this.
        head = json.dumps(session, separators=(",", ":"))
        tasks_json = store.task_summaries_json(record.id, timing=True, now=now)
        sys.stdout.write(f'{head[:-1]},"tasks":{tasks_json}}}\n')
        return 0
    tasks, attempts = store.tasks_and_attempts(record.id)
    last = {attempt.task: attempt for attempt in attempts}
    from formicary.cli.output import make_console, print_columns
    from formicary.tui.glyphs import STYLES, glyph
    from rich.text import Text

    console = make_console()
    console.print(
        f"session {record.id}: {record.project}:{record.workflow} · {record.shown_status} · "
        f"{span(store.active_seconds([record])[record.id])}"
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


def _known_until(record: SessionRecord) -> float:
    """Up to when an attempt that has not ended counts as running, for its ``duration_s``:
    now while the session's engine lives, else its last heartbeat (or its end), the last
    time anyone knew it ran."""
    if record.owner_alive:
        return time.time()
    return record.ended_at or record.heartbeat or time.time()


def show_logs(args: argparse.Namespace) -> int:
    """Print (and with -f, follow) one attempt's log, or with --tail N its last N lines;
    without a task, list every log. The file is read in blocks, so a log of any size is
    printed in bounded memory (reading it whole took 3 GB for a 1 GB log)."""
    store = open_store(args)
    record = store.session(args.session)
    if args.task is None:
        given = [
            option
            for option, value in (
                ("--attempt", args.attempt),
                ("--follow", args.follow or None),
                ("--tail", args.tail),
            )
            if value is not None
        ]
        if given:
            option = given[0]
            raise UsageError(f"{option}: needs a TASK (formicary logs SESSION TASK {option})")
        return _list_logs(store, record)
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
    printer = _LogPrinter(Path(chosen.log_path or ""))
    start = 0 if args.tail is None else _tail_start(printer.path, args.tail)
    offset = printer.print_from(start)
    if args.follow:
        _follow(store, record.id, args.task, chosen.number, printer, offset)
    printer.finish()
    if not args.follow and offset == 0:
        print(f"(attempt {chosen.number} of {args.task} printed nothing)", file=sys.stderr)
    return 0


def _list_logs(store: Store, record: SessionRecord) -> int:
    """Print a line per attempt of every task of the session (a task that never ran gets
    one line with its state): task, attempt, state, exit code, log size in bytes, log file."""
    from formicary.cli.output import make_console, print_columns

    tasks, attempts = store.tasks_and_attempts(record.id)
    by_task: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_task.setdefault(attempt.task, []).append(attempt)
    rows: list[tuple[str, ...]] = []
    for task in tasks:
        tried = by_task.get(task.name, [])
        if not tried:
            rows.append((task.name, "-", task.state, "-", "-", "-"))
        for attempt in tried:
            # An attempt without an outcome is the task's current one (running, or lost
            # with its engine until the session is resumed).
            state = attempt.outcome or (task.state if attempt is tried[-1] else "unfinished")
            code = "-" if attempt.exit_code is None else str(attempt.exit_code)
            rows.append(
                (
                    task.name,
                    str(attempt.number),
                    state,
                    code,
                    _size(attempt.log_path),
                    attempt.log_path or "-",
                )
            )
    headers = ("task", "attempt", "state", "exit", "bytes", "log")
    print_columns(make_console(), headers, rows)
    return 0


def _size(path: str | None) -> str:
    """The size of the log file at ``path`` in bytes, or ``-`` when there is none."""
    if not path:
        return "-"
    try:
        return str(os.stat(path).st_size)
    except OSError:
        return "-"


_BLOCK = 1024 * 1024
"""Bytes read (and written) at a time: a log of any size is printed in bounded memory."""


class _LogPrinter:
    """Prints a log file from an offset to its current end, block by block.

    One UTF-8 decoder serves every call, so a character split between two blocks (or two
    polls of ``-f``) is printed whole, not as two replacement characters.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def print_from(self, offset: int) -> int:
        """Print from byte ``offset`` to the end; the offset printing stopped at."""
        try:
            with open(self.path, "rb") as log:
                log.seek(offset)
                while block := log.read(_BLOCK):
                    sys.stdout.write(self._decoder.decode(block))
                    offset += len(block)
        except (FileNotFoundError, IsADirectoryError):
            return offset
        sys.stdout.flush()
        return offset

    def finish(self) -> None:
        """Print what an unfinished character at the very end left (as a replacement)."""
        sys.stdout.write(self._decoder.decode(b"", final=True))
        sys.stdout.flush()


def _tail_start(path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` lines of the file at ``path`` begin (0 when
    it has fewer, or none at all), found by reading blocks backwards from its end: the time
    and memory depend on the lines wanted, not on the file's size."""
    try:
        with open(path, "rb") as log:
            end = log.seek(0, os.SEEK_END)
            if lines == 0:
                return end
            position = end
            last = True  # a newline ending the file ends its last line, it starts none
            while position > 0:
                size = min(_BLOCK, position)
                position -= size
                log.seek(position)
                block = log.read(size)
                if last:
                    last = False
                    if block.endswith(b"\n"):
                        block = block[:-1]
                at = len(block)
                while (at := block.rfind(b"\n", 0, at)) >= 0:
                    lines -= 1
                    if lines == 0:
                        return position + at + 1
    except (FileNotFoundError, IsADirectoryError):
        return 0
    return 0


def _follow(
    store: Store, session_id: int, task: str, number: int, printer: _LogPrinter, offset: int
) -> None:
    """Print what the attempt writes, like ``tail -f``, until it or its session ends."""
    while True:
        finished = any(
            a.number == number and a.outcome is not None for a in store.attempts(session_id, task)
        )
        record = store.session(session_id)
        offset = printer.print_from(offset)
        if finished or record.status.is_final or not record.owner_alive:
            printer.print_from(offset)
            return
        time.sleep(0.2)
