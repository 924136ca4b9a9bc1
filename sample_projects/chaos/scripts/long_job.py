"""A long job worth cancelling: prints a progress line every second for --seconds seconds."""

from __future__ import annotations

import argparse
import sys
import time

from common import mark_done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args(argv)
    if args.seconds < 0:
        print(f"error: --seconds must be >= 0, got {args.seconds}", file=sys.stderr)
        return 2

    total = args.seconds
    print(f"long job: {total} steps of one second (cancel it whenever you like)", flush=True)
    start = time.monotonic()
    for step in range(1, total + 1):
        # Sleep to the next whole second since the start, so the pace does not drift.
        time.sleep(max(0.0, start + step - time.monotonic()))
        bar = "#" * (20 * step // total) + "." * (20 - 20 * step // total)
        print(f"  [{bar}] {step:>3}/{total} s ({100 * step // total}%)", flush=True)
    print("long job finished")
    mark_done("long_job", f"{total} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
