"""A task that is too slow for its timeout: it starts a small tree of child processes
(`sh` with two `sleep`s) that would take --seconds, and reports on them every second.

With `timeout = 2` formicary ends it; the whole process group must go, children included.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time

from common import mark_done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)

    n = args.seconds
    child = subprocess.Popen(["sh", "-c", f"sleep {n} & sleep {n}; wait"])
    print(
        f"started a child shell (pid {child.pid}) running two `sleep {n}` in parallel", flush=True
    )
    started = time.monotonic()
    try:
        while child.poll() is None:
            elapsed = time.monotonic() - started
            print(f"  still working: {elapsed:4.1f}/{n} s", flush=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1)
    finally:
        if child.poll() is None:  # only reached if this script is stopped in an orderly way
            child.terminate()
            child.wait()
    if child.returncode != 0:
        print(f"error: the child work failed with exit code {child.returncode}", file=sys.stderr)
        return 1
    print(f"finished after {time.monotonic() - started:.1f} s")
    mark_done("slowpoke")
    return 0


if __name__ == "__main__":
    sys.exit(main())
