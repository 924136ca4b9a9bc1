"""Paths and small helpers shared by the chaos scripts."""

from __future__ import annotations

import os
import time
from pathlib import Path

PROJECT_DIR = Path(
    os.environ.get("FORMICARY_PROJECT_DIR") or Path(__file__).resolve().parent.parent
)
OUT = PROJECT_DIR / "out"
CHAOS = PROJECT_DIR / ".chaos"
FIXED = CHAOS / "fixed"


def attempt() -> int:
    """The 1-based attempt number formicary gives this run of the task (1 outside formicary)."""
    try:
        return max(1, int(os.environ.get("FORMICARY_ATTEMPT", "1")))
    except ValueError:
        return 1


def mark_done(task: str, note: str = "") -> None:
    """Record that a task finished, for wrap_up to report."""
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%H:%M:%S")
    (OUT / f"{task}.done").write_text(
        f"{stamp} attempt {attempt()} {note}".rstrip() + "\n", encoding="utf-8"
    )
