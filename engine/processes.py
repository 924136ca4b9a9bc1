"""Ending process groups for real: SIGTERM, a grace period, then SIGKILL.

Every shell attempt runs in its own session (``start_new_session``), so its process group
holds the shell and everything it started, including children whose parent already exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time

import psutil

log = logging.getLogger(__name__)

DEFAULT_GRACE = 3.0
_CHECK_INTERVAL = 0.05


def group_exists(pgid: int) -> bool:
    """True while any process, zombies included, is in group ``pgid`` (one system call)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes in process group ``pgid``."""
    if not group_exists(pgid):
        return []
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to every process of the group; False when the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        log.warning("not allowed to signal process group %s", pgid)
        return False
    return True


async def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not await asyncio.to_thread(group_members, pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_CHECK_INTERVAL)


async def terminate_group(pgid: int, grace: float = DEFAULT_GRACE) -> int:
    """End process group ``pgid``: SIGTERM, wait up to ``grace`` seconds, then SIGKILL.

    Stopped processes are continued first so they can act on SIGTERM.

    Returns:
        How many processes were still alive when it started (0: nothing to do).
    """
    if not group_exists(pgid):
        return 0
    alive = len(await asyncio.to_thread(group_members, pgid))
    if not alive:
        return 0
    signal_group(pgid, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)
    if await _wait_group_gone(pgid, grace):
        return alive
    log.info("process group %s ignored SIGTERM for %.1fs; sending SIGKILL", pgid, grace)
    signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        await _wait_group_gone(pgid, 5.0)
    return alive
