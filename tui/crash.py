"""What the dashboard leaves behind when it crashes: a log with the whole traceback, one line
on the terminal naming it, and its sessions recorded as ended by the crash."""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

from formicary.run.private_files import private_dir, private_opener
from formicary.store.schema import state_dir

CRASH_REASON = "cancelled: the dashboard crashed"
"""Recorded on every task a crash of the dashboard ended (never a normal quit's reason)."""

QUIT_REASON = "cancelled: the dashboard quit"
"""Recorded on every task ended because the user quit the dashboard."""

EXIT_CRASHED = 70
"""The dashboard's exit code after a crash (``EX_SOFTWARE``: an internal error)."""


def write_crash_log(workspace: Path, error: BaseException) -> Path:
    """Write ``error``'s traceback to ``.formicary/logs/dashboard-crash-<time>.log`` (or the
    temporary folder, when the workspace cannot be written); returns the file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(error))
    header = f"formicary dashboard crash, {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n"
    for folder in (state_dir(workspace) / "logs", Path(tempfile.gettempdir())):
        try:
            private_dir(folder)
            path = folder / f"dashboard-crash-{stamp}.log"
            with open(path, "w", encoding="utf-8", opener=private_opener) as file:
                file.write(header + text)
            return path
        except OSError:
            continue
    raise OSError("no folder to write the crash log to")
