"""Stored event chunks, and the persister's SQL snapshots against a replay of the log."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from types import MappingProxyType

import pytest
from formicary.model.records import AttemptOutcome, SessionStatus, TaskStatus
from formicary.run import event_data
from formicary.run.events import Event, EventKind
from formicary.store.codec import decode_events, encode_events
from formicary.store.database import Store
from formicary.store.schema import db_path

from tests.engine_support import start, store_at_version


def test_chunks_round_trip_with_plain_values() -> None:
    events = [
        Event(1, 1.5, "7", EventKind.SESSION_STARTED, None, None, MappingProxyType({"a": 1})),
        Event(
            2,
            2.25,
            "7",
            EventKind.TASK_STATE,
            "t",
            1,
            {
                "state": TaskStatus.RUNNING,
                "previous": TaskStatus.READY,
                "log": "/x/t.1.log",
                "pid": 12,
            },
        ),
        Event(
            3,
            3.0,
            "7",
            EventKind.TASK_STATE,
            "t",
            1,
            {
                "state": TaskStatus.COMPLETED,
                "outcome": AttemptOutcome.SUCCEEDED,
                "path": Path("/p"),
                "pair": (1, 2),
            },
        ),
    ]
    decoded = decode_events(encode_events(events), "7")
    assert decoded[:2] == events[:2]
    assert decoded[2].data == {
        "state": "completed",
        "outcome": "succeeded",
        "path": "/p",
        "pair": (1, 2),
    }
    assert decoded[1].kind is EventKind.TASK_STATE
    assert type(decoded[1].data["state"]) is str and decoded[1].data["state"] == "running"
    assert decoded[2].data["path"] == "/p" and decoded[0].data == {"a": 1}


def test_the_payload_constructors_write_the_stored_format() -> None:
    """Payloads built by formicary.run.event_data are the plain dicts events always carried
    (keys in the same order), and come back from a chunk as they went in."""
    S = TaskStatus
    ended = event_data.attempt_ended(AttemptOutcome.FAILED, 3, "exited with code 3")
    payloads = [
        event_data.task_state(S.READY, S.PENDING),
        event_data.task_state(
            S.RETRYING, S.RUNNING, reason="x; retry", held=True, budget_from=2, ended=ended
        ),
        event_data.task_state(
            S.COMPLETED, S.RUNNING, ended=event_data.attempt_ended(AttemptOutcome.SUCCEEDED, 0)
        ),
        event_data.attempt_started(S.READY, "/l/t.1.log", 12, worker="tcp://w", held=True),
        event_data.attempt_started(S.READY, "/l/t.2.log", None),
        event_data.output(["a", "b"]),
        event_data.command_done(4, "hold", "ok"),
        event_data.session_started("p", "w", {"n": 1}, ["t"], 4),
        event_data.session_paused(stop_processes=True),
        event_data.session_paused(adopted=True),
        event_data.session_resumed(),
        event_data.session_resumed(adopted_by=77),
        event_data.session_resumed(reopened=True),
        event_data.session_finished(SessionStatus.CANCELLED, {S.FAILED: 1}, "stop"),
        event_data.session_finished(SessionStatus.COMPLETED, {S.COMPLETED: 2}),
    ]
    assert [list(payload.items()) for payload in payloads] == [
        [("state", "ready"), ("previous", "pending")],
        [
            ("state", "retrying"),
            ("previous", "running"),
            ("reason", "x; retry"),
            ("outcome", "failed"),
            ("exit_code", 3),
            ("attempt_reason", "exited with code 3"),
            ("held", True),
            ("budget_from", 2),
        ],
        [
            ("state", "completed"),
            ("previous", "running"),
            ("outcome", "succeeded"),
            ("exit_code", 0),
        ],
        [
            ("state", "running"),
            ("previous", "ready"),
            ("log", "/l/t.1.log"),
            ("pid", 12),
            ("worker", "tcp://w"),
            ("held", True),
        ],
        [("state", "running"), ("previous", "ready"), ("log", "/l/t.2.log"), ("pid", None)],
        [("lines", ["a", "b"])],
        [("command_id", 4), ("action", "hold"), ("outcome", "ok")],
        [
            ("project", "p"),
            ("workflow", "w"),
            ("params", {"n": 1}),
            ("tasks", ["t"]),
            ("max_parallel", 4),
        ],
        [("stop_processes", True)],
        [("adopted", True)],
        [],
        [("adopted", True), ("pid", 77)],
        [("reopened", True)],
        [("status", "cancelled"), ("counts", {"failed": 1}), ("reason", "stop")],
        [("status", "completed"), ("counts", {"completed": 2})],
    ]
    for payload in payloads:
        assert all(type(value) is not TaskStatus for value in payload.values())
    events = [
        Event(seq, 1.0, "7", EventKind.TASK_STATE, "t", 1, payload)
        for seq, payload in enumerate(payloads, 1)
    ]
    decoded = decode_events(encode_events(events), "7")
    assert [list(event.data.items()) for event in decoded] == [
        list(payload.items()) for payload in payloads
    ]


def test_a_chunk_naming_other_classes_is_refused() -> None:
    buffer = io.BytesIO()
    pickle.dump([(1, 1.0, "7", os.system, None, None, {})], buffer)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        decode_events(buffer.getvalue(), "7")


def test_json_chunks_of_earlier_versions_still_decode() -> None:
    chunk = json.dumps([[4, 1.0, "7", "task_state", "t", 2, {"state": "failed"}]])
    (event,) = decode_events(chunk, "7")
    assert event == Event(4, 1.0, "7", EventKind.TASK_STATE, "t", 2, {"state": "failed"})


async def test_snapshot_tables_match_a_replay_of_the_log(tmp_path: Path) -> None:
    tasks = {
        "a": {"run": "true"},
        "flaky": {"run": "exit 3", "retries": 1, "retry_delay": 0.01},
        "after": {"run": "true", "depends_on": ["flaky"]},
        "b": {"run": "echo hi", "depends_on": ["a"]},
    }
    handle = start(tmp_path, tasks, persist=True)
    assert await handle.wait() is SessionStatus.FAILED
    await handle.close()
    store = Store(db_path(tmp_path))
    snapshot = (store.tasks(1), store.attempts(1))
    with store.transaction() as db:
        db.execute("DELETE FROM tasks")
        db.execute("DELETE FROM attempts")
        db.execute("UPDATE sessions SET snapshot_seq = 0")
    replayed = (store.tasks(1), store.attempts(1))
    store.close()
    assert snapshot == replayed
    states = {task.name: task.state for task in snapshot[0]}
    assert states == {"a": "completed", "flaky": "failed", "after": "blocked", "b": "completed"}
    flaky = [a for a in snapshot[1] if a.task == "flaky"]
    assert [(a.number, a.outcome, a.exit_code) for a in flaky] == [
        (1, "failed", 3),
        (2, "failed", 3),
    ]
    assert all(a.started_at and a.ended_at and a.log_path for a in snapshot[1])


def test_a_version_2_session_reads_after_migrating(tmp_path: Path) -> None:
    """Before version 3 a session had a row per task and JSON event chunks."""
    path = tmp_path / "state.db"
    old = store_at_version(path, 2)
    old.execute(
        "INSERT INTO sessions (project, workflow, params, definition, project_root, status, "
        "created_at, last_seq, counts) VALUES ('p', 'w', '{}', '{}', '/x', 'completed', 1.0, "
        "3, '{}')"
    )
    for position, name in enumerate(["a", "b"]):
        old.execute(
            "INSERT INTO tasks (session_id, name, state, updated_at, position) "
            "VALUES (1, ?, 'pending', 1.0, ?)",
            (name, position),
        )
    chunk = [
        [1, 1.0, "1", "task_state", "a", 1, {"state": "running", "log": "/l", "pid": 5}],
        [
            2,
            2.0,
            "1",
            "task_state",
            "a",
            1,
            {"state": "completed", "outcome": "succeeded", "exit_code": 0},
        ],
        [3, 3.0, "1", "task_state", "b", None, {"state": "ready", "previous": "pending"}],
    ]
    old.execute("INSERT INTO events VALUES (1, 1, 3, ?)", (json.dumps(chunk),))
    old.close()
    store = Store(path)
    assert [(t.name, t.state) for t in store.tasks(1)] == [("a", "completed"), ("b", "ready")]
    (attempt,) = store.attempts(1)
    assert (attempt.task, attempt.outcome, attempt.exit_code, attempt.pid) == (
        "a",
        "succeeded",
        0,
        5,
    )
    assert [event.seq for event in store.events(1)] == [1, 2, 3]
    tasks, attempts = store.compact(1)
    assert [t[1] for t in tasks] == ["completed", "ready"] and len(attempts) == 1
    assert [(t.name, t.state) for t in store.tasks(1)] == [("a", "completed"), ("b", "ready")]
    store.close()
