"""The store's schema: tables, forward migrations (``PRAGMA user_version``), connections.

Every connection is in WAL mode with a generous busy timeout, so readers in other processes
never fail with "database is locked" while the owner writes. A connection that may write
first makes the store private to its owner (:func:`formicary.run.private_files.prepare_store`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from formicary.errors import SQLiteTooOldError, StoreVersionError
from formicary.run.private_files import STATE_DIR as STATE_DIR
from formicary.run.private_files import prepare_store

DB_NAME = "state.db"
BUSY_TIMEOUT_MS = 10_000
SQLITE_NEEDED = (3, 31, 0)
"""Stored generated columns (schema version 5) came with SQLite 3.31."""
HEARTBEAT_INTERVAL = 1.0
"""Seconds between the heartbeats of a session's owner."""
ORPHAN_AFTER = 5.0
"""Seconds without a heartbeat after which a session counts as orphaned."""

_SCHEMA_V1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    workflow TEXT NOT NULL,
    params TEXT NOT NULL,
    definition TEXT NOT NULL,
    project_root TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    owner_pid INTEGER,
    owner_host TEXT,
    heartbeat REAL,
    max_parallel INTEGER,
    last_seq INTEGER NOT NULL DEFAULT 0,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE tasks (
    session_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_from INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, name)
) WITHOUT ROWID;
CREATE TABLE attempts (
    session_id INTEGER NOT NULL,
    task TEXT NOT NULL,
    number INTEGER NOT NULL,
    outcome TEXT,
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    worker TEXT,
    pid INTEGER,
    log_path TEXT,
    PRIMARY KEY (session_id, task, number)
) WITHOUT ROWID;
CREATE TABLE events (
    session_id INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (session_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE samples (
    session_id INTEGER NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX samples_by_session ON samples (session_id, at);
CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    task TEXT,
    args TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    taken_at REAL,
    outcome TEXT
);
CREATE INDEX commands_open ON commands (session_id, taken_at);
"""

_SCHEMA_V2 = """
ALTER TABLE sessions ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
"""

# Version 3: a session lists its tasks in ``task_names`` (a JSON array, definition order)
# and the ``tasks`` table holds a row only for a task that left ``pending``; event chunks
# are pickled (formicary.store.codec) instead of JSON text. Older sessions keep a row per task
# and JSON chunks, and read as before.
_SCHEMA_V3 = """
ALTER TABLE sessions ADD COLUMN task_names TEXT;
"""

# Version 4: a task's row keeps its latest attempt's exit code, so ``status --json`` reads it
# without looking up the task's attempts (rows from before keep NULL; readers fall back).
_SCHEMA_V4 = """
ALTER TABLE tasks ADD COLUMN exit_code INTEGER;
"""

# Version 5: a task's row carries its ``status --json`` summary, kept by SQLite itself (a
# stored generated column), so a poll of a 10,000-task session reads ten thousand short texts
# instead of building them. A stored column cannot be added to a table, so the table is
# rebuilt; rows from before version 4 get their exit code from their attempts on the way.
_SCHEMA_V5 = """
CREATE TABLE tasks_v5 (
    session_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_from INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    summary TEXT GENERATED ALWAYS AS (json_object(
        'name', name, 'state', state, 'attempts', attempts, 'exit_code', exit_code,
        'reason', reason, 'held', json(CASE WHEN held THEN 'true' ELSE 'false' END)
    )) STORED,
    PRIMARY KEY (session_id, name)
) WITHOUT ROWID;
INSERT INTO tasks_v5 (session_id, name, state, attempts, budget_from, held, reason,
    updated_at, position, exit_code)
SELECT session_id, name, state, attempts, budget_from, held, reason, updated_at, position,
    COALESCE(exit_code, (SELECT a.exit_code FROM attempts a WHERE a.session_id = t.session_id
        AND a.task = t.name ORDER BY a.number DESC LIMIT 1))
FROM tasks t;
DROP TABLE tasks;
ALTER TABLE tasks_v5 RENAME TO tasks;
"""

# Version 6: session numbers are never handed out again (``AUTOINCREMENT``: after a prune,
# the next session gets the next number, not a deleted one's; the sequence starts at the
# highest number there is), and a session keeps the seconds it was active before its latest
# span of activity (``active_s``) and when that span began (``active_since``; NULL: at its
# start), so a session reopened by a retry, or adopted after its engine died, does not
# count the idle time between as time it took. The table is rebuilt, keeping every row.
_SCHEMA_V6 = """
CREATE TABLE sessions_v6 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    workflow TEXT NOT NULL,
    params TEXT NOT NULL,
    definition TEXT NOT NULL,
    project_root TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    owner_pid INTEGER,
    owner_host TEXT,
    heartbeat REAL,
    max_parallel INTEGER,
    last_seq INTEGER NOT NULL DEFAULT 0,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}',
    executor TEXT NOT NULL DEFAULT 'local',
    task_names TEXT,
    active_s REAL NOT NULL DEFAULT 0,
    active_since REAL
);
INSERT INTO sessions_v6 (id, project, workflow, params, definition, project_root, status,
    created_at, started_at, ended_at, owner_pid, owner_host, heartbeat, max_parallel,
    last_seq, snapshot_seq, counts, executor, task_names)
SELECT id, project, workflow, params, definition, project_root, status, created_at,
    started_at, ended_at, owner_pid, owner_host, heartbeat, max_parallel, last_seq,
    snapshot_seq, counts, executor, task_names
FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v6 RENAME TO sessions;
"""

# Version 7: a task's row also carries its latest attempt's ``started_at``, ``ended_at`` and
# ``worker`` (kept by the store writer with the task's row, see formicary.store.session_writer), and
# its stored summary has them, with ``duration_s``, so ``status --json`` reads each task's
# timing with its summary instead of looking up its latest attempt. A running attempt's
# duration depends on "now": its summary is stored with ``"duration_s":null`` and a reader
# fills that in (see formicary.store.database). The table is rebuilt (a stored column cannot be
# added), each row taking its latest attempt's timing on the way.
_SCHEMA_V7 = """
CREATE TABLE tasks_v7 (
    session_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_from INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    started_at REAL,
    ended_at REAL,
    worker TEXT,
    summary TEXT GENERATED ALWAYS AS (json_object(
        'name', name, 'state', state, 'attempts', attempts, 'exit_code', exit_code,
        'reason', reason, 'held', json(CASE WHEN held THEN 'true' ELSE 'false' END),
        'started_at', started_at, 'ended_at', ended_at,
        'duration_s', round(ended_at - started_at, 3), 'worker', worker
    )) STORED,
    PRIMARY KEY (session_id, name)
) WITHOUT ROWID;
INSERT INTO tasks_v7 (session_id, name, state, attempts, budget_from, held, reason,
    updated_at, position, exit_code, started_at, ended_at, worker)
SELECT t.session_id, t.name, t.state, t.attempts, t.budget_from, t.held, t.reason,
    t.updated_at, t.position, t.exit_code, a.started_at, a.ended_at, a.worker
FROM tasks t LEFT JOIN attempts a ON a.session_id = t.session_id AND a.task = t.name
    AND a.number = t.attempts;
DROP TABLE tasks;
ALTER TABLE tasks_v7 RENAME TO tasks;
"""

MIGRATIONS: tuple[str, ...] = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
    _SCHEMA_V5,
    _SCHEMA_V6,
    _SCHEMA_V7,
)
"""Forward migrations; ``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)


def state_dir(workspace: Path) -> Path:
    """``<workspace>/.formicary``."""
    return Path(workspace) / STATE_DIR


def db_path(workspace: Path) -> Path:
    """``<workspace>/.formicary/state.db``."""
    return state_dir(workspace) / DB_NAME


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with a generous busy timeout, migrated to the current schema.

    Read-only connections neither create nor migrate; they fail if the file is missing.
    Others create the store 0700/0600, and tighten one an older formicary left open to
    others, before SQLite opens it (see :mod:`formicary.run.private_files`).

    Raises:
        SQLiteTooOldError: This Python's SQLite cannot hold the current schema.
        StoreVersionError: The file was written by a newer formicary.
    """
    if sqlite3.sqlite_version_info < SQLITE_NEEDED:
        raise SQLiteTooOldError(sqlite3.sqlite_version, ".".join(map(str, SQLITE_NEEDED)))
    if readonly:
        connection = sqlite3.connect(
            f"file:{path}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
    else:
        prepare_store(path)
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
    connection.row_factory = sqlite3.Row
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        migrate(connection)
    return connection


def migrate(connection: sqlite3.Connection) -> int:
    """Apply every migration the database lacks, all in one transaction; return the version
    it ends at."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        path = connection.execute("PRAGMA database_list").fetchone()[2]
        raise StoreVersionError(path or "state.db", version, SCHEMA_VERSION)
    if version == SCHEMA_VERSION:
        return version
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated it since the first look.
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return max(version, SCHEMA_VERSION)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
