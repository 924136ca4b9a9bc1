"""The signals that end a front end, and what a session records when one does.

Every front end (``formicary run``, ``resume`` and the commands that adopt, ``dash``, ``mcp``)
treats SIGINT, SIGTERM and SIGHUP alike: it ends every task process, records the session
as cancelled with the signal named, and exits 128 + the signal's number, as a shell reports
a process a signal ended.
"""

from __future__ import annotations

import signal

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals a front end ends on (cleanly)."""


def signal_reason(front_end: str, signum: signal.Signals) -> str:
    """What a session cancelled by ``signum`` records: ``cancelled: formicary run got
    SIGTERM``."""
    return f"cancelled: {front_end} got {signum.name}"


def signal_exit_code(signum: signal.Signals) -> int:
    """The exit status of a front end that ``signum`` ended: 128 + its number."""
    return 128 + int(signum)
