"""A task that fails until someone fixes its environment: it needs the file .chaos/fixed.

Fix it with `touch .chaos/fixed` in the chaos project folder, then retry this task.
"""

from __future__ import annotations

import sys

from common import FIXED, PROJECT_DIR, mark_done


def main() -> int:
    print(f"checking for {FIXED.relative_to(PROJECT_DIR)} in {PROJECT_DIR}")
    if not FIXED.exists():
        print(
            "error: the environment is broken: .chaos/fixed does not exist.\n"
            f"To fix it run:  touch {FIXED}\n"
            "then retry this task (key r in the dashboard, or "
            "`formicary retry SESSION needs_fix`).",
            file=sys.stderr,
        )
        return 3
    print("found .chaos/fixed: the environment is fixed, carrying on")
    mark_done("needs_fix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
