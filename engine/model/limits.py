"""The largest numbers formicary accepts from a definition file or the command line.

TOML allows ``inf`` and 64-bit integers, and the command line any number of digits; what
formicary does with them downstream does not (SQLite's integers stop at 2**63 - 1,
``asyncio`` timers at a few hundred years, ``backoff ** retries`` overflows a float). Each
bound is far above any real use, and a value past it is refused where it is read, as one
line naming the key or argument. This module imports nothing, so the command line's parser
can name the ranges in its help without loading the engine.
"""

from __future__ import annotations

MAX_SECONDS = 365 * 24 * 3600
"""``timeout``, ``retry_delay`` and ``retry_max_delay``: one year, in seconds."""

MAX_RETRIES = 100
"""``retries``: with ``MAX_BACKOFF``, ``retry_backoff ** (retries - 1)`` stays a finite float
(100 ** 99 = 1e198), which the scheduler computes for the longest retry wait."""

MAX_BACKOFF = 100
"""``retry_backoff``: the factor each retry's wait grows by."""

MAX_PARALLEL = 10_000
"""A workflow's ``max_parallel`` and ``run --max-parallel``: tasks running at once."""

MAX_POOL = 1_000_000
"""A resource pool's size, and what a task may book from one."""

MAX_NESTING = 100
"""Tables and arrays nested in a definition file, counted from the top of the document:
deeper ones would exhaust the stack of whatever walks them (printing, JSON, comparing)."""

MAX_NAME = 100
"""Project, workflow and task names, in characters. A task's name is part of its log file's
name (``<task>.<attempt>.log``); with the alphabet of names (ASCII letters, digits, ``_``,
``-``, ``.``) 100 stays far below the 255 bytes every file system allows for one name."""

MAX_COUNT = 1_000_000_000
"""Counts on the command line: ``sessions --limit``, ``logs --attempt``, ``prune --keep``."""

MAX_SESSION_ID = 2**63 - 1
"""A session number: the largest integer SQLite stores."""
