"""Schema version 7: a task's row carries its latest attempt's timing, so ``status --json``
reads each task's summary whole instead of looking up its latest attempt. What it prints must
be, to the byte, what looking the attempt up printed (the reference below is that query),
for a store migrated from version 6 and for one written since."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from formicary.cli import main
from formicary.store import summaries as store_summaries
from formicary.store.database import Store
from formicary.store.schema import SCHEMA_VERSION, db_path

from tests.engine_support import store_at_version

# Each task's summary as versions 5 and 6 built it at read time: the six stored fields, then
# the latest attempt's (numbered as the task's attempts) start, end, duration up to ?2 and
# worker, appended by SQLite. Works on the tasks table of either version.
REFERENCE = (
    "SELECT t.name, rtrim(json_object('name', t.name, 'state', t.state, 'attempts', "
    "t.attempts, 'exit_code', t.exit_code, 'reason', t.reason, 'held', "
    "json(CASE WHEN t.held THEN 'true' ELSE 'false' END)), '}') "
    "|| ',\"started_at\":' || json_quote(a.started_at) "
    "|| ',\"ended_at\":' || json_quote(a.ended_at) || ',\"duration_s\":' "
    "|| json_quote(round(COALESCE(a.ended_at, ?2) - a.started_at, 3)) "
    "|| ',\"worker\":' || json_quote(a.worker) || '}' "
    "FROM tasks t LEFT JOIN attempts a ON a.session_id = t.session_id AND a.task = t.name "
    "AND a.number = t.attempts WHERE t.session_id = ?1 ORDER BY t.position"
)
UNTIMED_REFERENCE = (
    "SELECT name, json_object('name', name, 'state', state, 'attempts', attempts, "
    "'exit_code', exit_code, 'reason', reason, 'held', "
    "json(CASE WHEN held THEN 'true' ELSE 'false' END)) FROM tasks WHERE session_id = ?1 "
    "ORDER BY position"
)
HEARTBEAT = 1_767_225_600.123456
# A reason that looks like the timing keys the stored summary is cut at and filled in at.
TRICKY = 'exit 3: ,"started_at":1,"duration_s":null} \u00e9\u6f22 "q" \\ \n'


def references(
    db: sqlite3.Connection, session: int, now: float, *, timed: bool = True
) -> list[str]:
    if timed:
        rows = db.execute(REFERENCE, (session, now)).fetchall()
    else:
        rows = db.execute(UNTIMED_REFERENCE, (session,)).fetchall()
    return [text for _, text in rows]


def reference(db: sqlite3.Connection, session: int, now: float, *, timed: bool = True) -> str:
    return "[" + ",".join(references(db, session, now, timed=timed)) + "]"


def version_6_store(workspace: Path) -> Path:
    """A version 6 state.db with an orphaned session (its engine's last beat at
    :data:`HEARTBEAT`) whose tasks have every kind of latest attempt."""
    path = db_path(workspace)
    path.parent.mkdir(parents=True)
    old = store_at_version(path, 6)
    # Definition order, not the names': a pending task without a row among the others.
    names = ["ok", "retried", "waiting", "running", "remote", "never", "ended_only"]
    old.execute(
        "INSERT INTO sessions (project, workflow, params, definition, project_root, status, "
        "created_at, started_at, heartbeat, task_names, executor) VALUES ('p', 'w', "
        "'{\"n\": 1}', '{}', '/x', 'running', 1.0, ?, ?, ?, 'dask')",
        (HEARTBEAT - 100.0, HEARTBEAT, json.dumps(names)),
    )
    start = HEARTBEAT - 90.0
    old.executemany(
        "INSERT INTO tasks (session_id, name, state, attempts, held, reason, updated_at, "
        "position, exit_code) VALUES (1, ?, ?, ?, ?, ?, 1.0, ?, ?)",
        [
            ("ok", "completed", 1, 0, "", 0, 0),
            ("retried", "failed", 2, 0, TRICKY, 1, 3),
            ("running", "running", 3, 1, "", 3, None),
            ("remote", "running", 1, 0, "", 4, None),
            ("never", "blocked", 0, 0, "upstream failed", 5, None),
            ("ended_only", "failed", 1, 0, "lost", 6, None),
        ],
    )
    old.executemany(
        "INSERT INTO attempts (session_id, task, number, outcome, started_at, ended_at, "
        "exit_code, worker) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("ok", 1, "succeeded", start + 0.1, start + 1.2345678, 0, None),
            ("retried", 1, "failed", start + 2.0, start + 3.0, 3, None),
            ("retried", 2, "failed", start + 4.123456789, start + 9.87654321, 3, None),
            ("running", 1, "failed", start + 1.0, start + 2.0, 1, None),
            ("running", 2, "failed", start + 3.0, start + 4.0, 1, None),
            ("running", 3, None, start + 5.5, None, None, None),
            ("remote", 1, None, start + 0.25, None, None, "tcp://10.0.0.7:40001"),
            ("ended_only", 1, "lost", None, start + 7.0, None, None),
        ],
    )
    old.close()
    return path


def test_a_version_6_store_migrates_and_status_json_says_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = version_6_store(tmp_path)
    copy = sqlite3.connect(path)
    now = HEARTBEAT + 0.5
    pending = (
        '{"name":"waiting","state":"pending","attempts":0,"exit_code":null,"reason":"",'
        '"held":false,"started_at":null,"ended_at":null,"duration_s":null,"worker":null}'
    )
    untimed_pending = pending.split(',"started_at"')[0] + "}"

    def with_pending(texts: list[str], text: str) -> str:  # the third task has no row
        return "[" + ",".join([*texts[:2], text, *texts[2:]]) + "]"

    want = with_pending(references(copy, 1, now), pending)
    want_at_beat = with_pending(references(copy, 1, HEARTBEAT), pending)
    want_untimed = with_pending(references(copy, 1, now, timed=False), untimed_pending)
    copy.close()
    store = Store(path)
    assert store._connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
    assert store.task_summaries_json(1, timing=True, now=now) == want
    assert store.task_summaries(1, timing=True, now=now) == json.loads(want)
    assert store.task_summaries_json(1) == want_untimed
    assert [task["name"] for task in json.loads(want)] == [
        "ok",
        "retried",
        "waiting",
        "running",
        "remote",
        "never",
        "ended_only",
    ]
    by_name = {task["name"]: task for task in store.task_summaries(1, timing=True, now=now)}
    assert by_name["running"]["duration_s"] == pytest.approx(85.0, abs=1e-3)
    assert by_name["retried"]["reason"] == TRICKY
    assert by_name["remote"]["worker"] == "tcp://10.0.0.7:40001"
    assert by_name["ended_only"]["duration_s"] is None
    assert by_name["never"]["started_at"] is None
    assert store.integrity_check() == "ok"
    store.close()
    # The command itself: the orphan's running attempts count until its last heartbeat.
    assert main(["-w", str(tmp_path), "status", "1", "--json"]) == 0
    printed = capsys.readouterr().out
    assert printed.endswith(f',"tasks":{want_at_beat}}}\n')
    assert json.loads(printed)["status"] == "orphaned"


async def test_the_rows_written_carry_what_the_attempts_say(tmp_path: Path) -> None:
    """The store writer's rows (live and finished) and an adopter's compaction give the
    summaries the attempts gave, byte for byte."""
    from tests.engine_support import record, start

    tasks = {
        "ok": {"run": "true"},
        # Its second attempt starts snapshots after its first: the row is updated.
        "bad": {"run": "exit 3", "retries": 1, "retry_delay": 0.6},
        "after": {"run": "true", "depends_on": ["bad"]},
        "gate": {"run": "while [ ! -e go ]; do sleep 0.01; done; exit 4"},
        "later": {"run": "true", "depends_on": ["gate"]},
    }
    handle = start(tmp_path, tasks, persist=True)
    recorder = record(handle)
    store = Store(db_path(tmp_path))
    session = int(handle.session_id)

    def stored(now: float) -> str:
        rows = store._all(store_summaries.TIMED_SUMMARIES_IN_ORDER, (session, now), plain=True)
        return "[" + ",".join(text for _, text in rows) + "]"

    def assert_stored_agrees(now: float) -> None:
        with store._reading():
            got, want = stored(now), reference(store._connection, session, now)
            untimed = store._all(store_summaries.SUMMARIES_IN_ORDER, (session,), plain=True)
            want_untimed = reference(store._connection, session, now, timed=False)
        assert got == want
        assert "[" + ",".join(text for _, text in untimed) + "]" == want_untimed

    try:
        await recorder.until(lambda: "blocked" in recorder.states("after"))
        await recorder.until(lambda: "running" in recorder.states("gate"))
        assert handle.persister is not None
        await handle.persister.flush()
        # The writer's next heartbeat (every second) writes the snapshot due.
        for _ in range(100):
            states = dict(store._all("SELECT name, state FROM tasks", plain=True))
            if states.get("gate") == "running" and states.get("bad") == "failed":
                break
            await asyncio.sleep(0.05)
        assert states["gate"] == "running" and states["bad"] == "failed"
        now = 2_000_000_000.0
        assert_stored_agrees(now)
        running = json.loads(stored(now))
        gate = next(t for t in running if t["name"] == "gate")
        assert gate["ended_at"] is None and gate["duration_s"] == pytest.approx(
            now - gate["started_at"], abs=1e-3
        )
        (tmp_path / "go").touch()
        await handle.wait()
        await handle.persister.flush()
    finally:
        await handle.close()
    assert_stored_agrees(0.0)
    finished = store.task_summaries_json(session, timing=True)
    gate = next(t for t in json.loads(finished) if t["name"] == "gate")
    assert gate["ended_at"] is not None and gate["duration_s"] is not None
    bad = next(t for t in json.loads(finished) if t["name"] == "bad")
    assert bad["attempts"] == 2 and bad["started_at"] is not None
    # An adopter compacts the log into the tables: rebuilt from the events alone, its rows
    # say the same.
    with store.transaction() as db:
        db.execute("DELETE FROM tasks")
        db.execute("UPDATE sessions SET snapshot_seq = 0")
    store.compact(session)
    assert_stored_agrees(0.0)
    assert store.task_summaries_json(session, timing=True) == finished
    store.close()
