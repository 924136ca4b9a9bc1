"""Output bench: one enormous line through the shell executor, the real path.

A shell task (``head -c SIZE /dev/zero | tr '\\0' x``) prints a single line of 10 MB and of
100 MB with no newline; :class:`formicary.run.executors.local.LocalExecutor` reads the pipe,
writes the log file and cuts the output into lines for subscribers. Before issue 17's fix
the unfinished line was joined to every new chunk (quadratic: 50 MB took 22 s, 100 MB
105 s); now its pieces are held in a list, only the first ``MAX_LINE`` bytes are kept, and
it is joined once.

Reported: MB/s for each size (the task's own time included), the time ratio 100 MB / 10 MB
(linear work gives about 10, quadratic about 100), the length of the line subscribers got
and whether the log file has every byte.

Bar: ratio under 20.

Prints one JSON line on stdout.

    python tests/bench/output_bench.py
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

from formicary.run.executors import Job
from formicary.run.executors.local import LocalExecutor

MB = 1_000_000


async def one_line(size: int, folder: Path) -> tuple[float, int, bool]:
    """Run a task printing one line of ``size`` bytes; its seconds, the length of the line
    delivered to subscribers, and whether the log file holds all ``size`` bytes."""
    log = folder / f"line-{size}.log"
    job = Job(
        session="bench",
        task="line",
        attempt=1,
        kind="shell",
        target=f"head -c {size} /dev/zero | tr '\\0' x",
        cwd=folder,
        log_path=str(log),
    )
    lines: list[str] = []
    started = time.perf_counter()
    status = await LocalExecutor().run(job, lambda pid: None, lines.extend)
    seconds = time.perf_counter() - started
    assert status.exit_code == 0, status
    whole = log.stat().st_size == size
    log.unlink()
    return seconds, max((len(line) for line in lines), default=0), whole


async def main() -> dict[str, object]:
    """Both sizes, smaller first, in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="formicary-output-bench-") as folder:
        small_s, small_line, small_whole = await one_line(10 * MB, Path(folder))
        large_s, large_line, large_whole = await one_line(100 * MB, Path(folder))
    ratio = large_s / small_s
    return {
        "bench": "output",
        "mb_per_s_10mb": round(10 / small_s, 1),
        "mb_per_s_100mb": round(100 / large_s, 1),
        "seconds_10mb": round(small_s, 3),
        "seconds_100mb": round(large_s, 3),
        "ratio_100mb_to_10mb": round(ratio, 2),
        "delivered_line_chars": max(small_line, large_line),
        "log_has_every_byte": small_whole and large_whole,
        "bar_ratio_under_20": ratio < 20,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
