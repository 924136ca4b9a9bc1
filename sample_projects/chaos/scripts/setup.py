"""Prepare the chaos demo: create out/ and .chaos/, clear earlier results, reset the fix."""

from __future__ import annotations

import os
import sys

from common import CHAOS, FIXED, OUT, mark_done


def main() -> int:
    print(f"project folder: {OUT.parent}")
    for key in ("FORMICARY_SESSION", "FORMICARY_WORKFLOW", "FORMICARY_TASK", "FORMICARY_ATTEMPT"):
        print(f"  {key}={os.environ.get(key, '(not set)')}")
    OUT.mkdir(parents=True, exist_ok=True)
    CHAOS.mkdir(parents=True, exist_ok=True)
    old = [p for p in OUT.iterdir() if p.is_file()]
    for path in old:
        path.unlink()
    print(f"cleared {len(old)} result file(s) from the last run in out/")
    if FIXED.exists():
        FIXED.unlink()
        print("reset: removed .chaos/fixed, so needs_fix fails again until you fix it")
    else:
        print("needs_fix will fail until .chaos/fixed exists")
    mark_done("setup")
    print("setup complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
