"""Summarise the demo: which tasks have finished so far, and how many attempts flaky took."""

from __future__ import annotations

import sys

from common import OUT, mark_done

TASKS = ("setup", "flaky", "slowpoke", "needs_fix", "after_fix", "long_job")


def main() -> int:
    print("chaos demo so far:")
    for task in TASKS:
        marker = OUT / f"{task}.done"
        state = marker.read_text(encoding="utf-8").strip() if marker.exists() else "not finished"
        print(f"  {task:<10} {state}")
    log = OUT / "flaky_attempts.log"
    attempts = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    print(f"flaky needed {len(attempts)} attempt(s)")
    mark_done("wrap_up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
