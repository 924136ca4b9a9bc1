"""Ending process groups for real: SIGTERM, a grace period, then SIGKILL.

Every shell attempt runs in its own session (``start_new_session``), so its process group
holds the shell and everything it started, including children whose parent already exited.

Stopping a group (SIGSTOP, for a pause) is one ``killpg``: the kernel delivers it to every
member, and a member forking at that moment either gets it in its child too or restarts the
fork and stops. One member may still not *show* as stopped: ``/bin/sh`` (dash) starts
commands with ``vfork``, and a parent waiting for its vfork child to exec sleeps in the
kernel where only a fatal signal wakes it (``D``, "disk-sleep"); if SIGSTOP lands in that
window the child stops before exec, so the parent stays in ``D`` with SIGSTOP pending until
SIGCONT (which discards the pending stop and lets the child exec). Sending SIGSTOP again
changes nothing, and nothing in the group can run in the meantime; :func:`group_stopped`
counts such a member as stopped.
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


_STOPPED = frozenset({psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP})
_SIGSTOP_BIT = 1 << (signal.SIGSTOP - 1)


def stop_pending(pid: int) -> bool:
    """True if SIGSTOP is pending for process ``pid``: it stops before it runs any more of its
    own code. Read from the ``SigPnd``/``ShdPnd`` masks of ``/proc/PID/status`` (Linux);
    False when they cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(("SigPnd:", "ShdPnd:")) and (
                    int(line.split()[1], 16) & _SIGSTOP_BIT
                ):
                    return True
    except (OSError, IndexError, ValueError):
        return False
    return False


def group_stopped(pgid: int) -> bool:
    """True when group ``pgid`` has live members and none of them can run until continued.

    A member counts as stopped when psutil reports it ``stopped`` or ``tracing-stop``, or when
    SIGSTOP is pending for it (see the module's note: a shell waiting in ``vfork`` for a child
    that was stopped before exec stays in ``disk-sleep`` until SIGCONT).
    """
    members = group_members(pgid)
    if not members:
        return False
    for member in members:
        try:
            status = member.status()
        except psutil.NoSuchProcess:
            continue
        if status == psutil.STATUS_ZOMBIE or status in _STOPPED or stop_pending(member.pid):
            continue
        return False
    return True


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
