"""A flaky task: fails on every attempt before --pass-on, then passes.

It reads the attempt number from FORMICARY_ATTEMPT, so it shows retries with backoff working.
Every attempt is also appended to out/flaky_attempts.log.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import OUT, attempt, mark_done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pass-on", type=int, default=3, help="the first attempt that passes")
    args = parser.parse_args(argv)

    n = attempt()
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "flaky_attempts.log").open("a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%H:%M:%S')} attempt {n}\n")
    print(f"attempt {n}: talking to an unreliable upstream service...", flush=True)
    time.sleep(0.3)
    if n < args.pass_on:
        print(
            f"attempt {n} failed: upstream answered 503 Service Unavailable "
            f"(this task passes on attempt {args.pass_on}; formicary retries it)",
            file=sys.stderr,
        )
        return 1
    print(f"attempt {n}: upstream answered 200 OK, passing")
    mark_done("flaky", "passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
