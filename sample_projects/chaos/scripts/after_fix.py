"""Runs after needs_fix has passed (it stays blocked while needs_fix is failed)."""

from __future__ import annotations

import sys

from common import mark_done


def main() -> int:
    print("needs_fix passed, so after_fix runs: publishing the fixed result")
    mark_done("after_fix")
    print("after_fix complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
