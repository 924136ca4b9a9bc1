"""Hostile output and hostile names (issue 17, finding 7).

A task printing one enormous line must cost work and memory linear in its size (the pieces
of an unfinished line were joined again on every read: 50 MB took 22 s), the line reaching
the event bus and the panes is cut at a fixed length and says so, and the log file keeps
every byte. A task name too long for a file name is a definition error with its file and
line, not an ``OSError`` that loses the output. ``formicary logs`` prints a log of any size
in bounded memory, and ``--tail N`` its last lines.

Nothing here measures time: the work is measured as memory held (``tracemalloc`` peaks
and a child's peak RSS), which grows with the work that copies the held line again.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from formicary.run.executors import Job
from formicary.run.executors.dask import _Remote
from formicary.run.executors.lines import MAX_LINE
from formicary.run.executors.local import LocalExecutor, _LazyLog
from formicary.run.executors.python import _AttemptOutput

from tests.test_cli_foundation import FORMICARY

MB = 1_000_000
CUT = f"… [line cut at {MAX_LINE} of"
WHOLE = "the whole line is in the log file]"


def shell_job(tmp_path: Path, command: str) -> Job:
    """A shell attempt running ``command`` in ``tmp_path``, logged to ``t.1.log`` there."""
    return Job(
        session="s",
        task="t",
        attempt=1,
        kind="shell",
        target=command,
        cwd=tmp_path,
        log_path=str(tmp_path / "t.1.log"),
    )


def traced_peak(work: Callable[[], object]) -> int:
    """Bytes of Python memory allocated at the peak while ``work`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- one enormous line -------------------------------------------------------------------


async def test_a_20_mb_line_from_a_shell_task_is_cut_for_subscribers_and_whole_in_the_log(
    tmp_path: Path,
) -> None:
    """The real path (process, pipe, log, splitter): memory held stays far below the line's
    size (the old splitter held it whole, and a copy: over 40 MB), the event has the line's
    first MAX_LINE characters and the mark, and the log file has every byte."""
    size = 20 * MB
    command = f"head -c {size} /dev/zero | tr '\\0' x; echo; echo after"
    lines: list[str] = []
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        status = await LocalExecutor().run(shell_job(tmp_path, command), print, lines.extend)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status.exit_code == 0
    assert peak < 4 * MB, peak
    assert len(lines) == 2, [len(line) for line in lines]
    assert lines[0] == "x" * MAX_LINE + f"{CUT} {size} bytes; {WHOLE}"
    assert lines[1] == "after"
    log = tmp_path / "t.1.log"
    assert log.stat().st_size == size + len("\nafter\n")
    with open(log, "rb") as file:
        assert file.read(MAX_LINE * 2) == b"x" * (MAX_LINE * 2)


async def test_a_long_last_line_without_newline_is_cut_too(tmp_path: Path) -> None:
    size = MAX_LINE + 10
    command = f"echo first; head -c {size} /dev/zero | tr '\\0' y"
    lines: list[str] = []
    status = await LocalExecutor().run(shell_job(tmp_path, command), print, lines.extend)
    assert status.exit_code == 0
    assert lines == ["first", "y" * MAX_LINE + f"{CUT} {size} bytes; {WHOLE}"]
    assert (tmp_path / "t.1.log").read_bytes() == b"first\n" + b"y" * size


def test_a_20_mb_line_printed_by_a_callable_is_cut_and_whole_in_the_log(tmp_path: Path) -> None:
    """A callable's printed text (the Python executor), fed in 64 KiB pieces."""
    loop = asyncio.new_event_loop()
    try:
        lines: list[str] = []
        log = tmp_path / "t.1.log"
        sink = _AttemptOutput(str(log), lines.extend, loop)
        piece = "z" * 65536
        count = 320

        def print_it() -> None:
            for _ in range(count):
                sink.write(piece)
            sink.write("\nshort\n")

        peak = traced_peak(print_it)
        sink.close()
        loop.run_until_complete(asyncio.sleep(0))  # deliveries queued from this thread
    finally:
        loop.close()
    size = len(piece) * count
    assert peak < 4 * MB, peak
    assert lines == ["z" * MAX_LINE + f"{CUT} {size} characters; {WHOLE}", "short"]
    assert log.stat().st_size == size + len("\nshort\n")


def test_a_20_mb_line_from_a_dask_attempt_is_cut_and_whole_in_the_log(tmp_path: Path) -> None:
    """The engine's side of a Dask attempt splits the output events the same way."""
    lines: list[str] = []
    log = tmp_path / "t.1.log"
    job = shell_job(tmp_path, "true")
    remote = _Remote("key", job, lambda pid, worker=None: None, lines.extend, _LazyLog(str(log)))
    piece = b"w" * 65536
    count = 320

    def print_it() -> None:
        for _ in range(count):
            remote.write(piece)
        remote.write(b"\r\nnext")

    peak = traced_peak(print_it)
    remote.flush()
    remote.log.close()
    size = len(piece) * count + 1  # the \r belongs to the line in the file
    assert peak < 4 * MB, peak
    assert lines == ["w" * MAX_LINE + f"{CUT} {size} bytes; {WHOLE}", "next"]
    assert log.stat().st_size == size + len("\nnext")


# -- names that no file system takes -----------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console script to its end."""
    return subprocess.run(
        [FORMICARY, *args], capture_output=True, text=True, timeout=120, check=False
    )


def write_project(workspace: Path, workflow: str, task: str) -> Path:
    """A project ``proj`` whose workflow ``workflow`` has one task ``task`` (line 5)."""
    folder = workspace / "proj"
    folder.mkdir(parents=True)
    definition = folder / "formicary.toml"
    definition.write_text(
        f'[project]\nname = "proj"\n\n[workflows.{workflow}.tasks.{task}]\nrun = "echo hi"\n',
        encoding="utf-8",
    )
    return definition


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_300_character_task_name_is_refused_with_file_and_line(
    tmp_path: Path, command: str
) -> None:
    name = "t" * 300
    write_project(tmp_path, "w", name)
    args = ["-w", str(tmp_path), command] + (["proj", "--plain"] if command == "run" else [])
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert f"formicary.toml:4: workflows.w.tasks.{name}: " in text
    assert "is not a valid task name: use at most 100 characters" in text
    assert "OSError" not in text and "Traceback" not in text
    assert not (tmp_path / ".formicary" / "logs").exists() or not any(
        (tmp_path / ".formicary" / "logs").rglob("*.log")
    )


def test_a_300_character_workflow_name_is_refused_with_file_and_line(tmp_path: Path) -> None:
    name = "w" * 300
    write_project(tmp_path, name, "t")
    result = cli("-w", str(tmp_path), "validate")
    assert result.returncode == 2
    assert f"formicary.toml:4: workflows.{name}: " in result.stdout + result.stderr
    assert "is not a valid workflow name: use at most 100" in result.stdout + result.stderr


def test_a_project_name_past_the_limit_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    name = "p" * 101
    (folder / "formicary.toml").write_text(
        f'[project]\nname = "{name}"\n\n[workflows.w.tasks.t]\nrun = "true"\n', encoding="utf-8"
    )
    result = cli("-w", str(tmp_path), "validate")
    assert result.returncode == 2
    assert "formicary.toml:2: project.name: " in result.stdout + result.stderr
    assert "use at most 100 characters" in result.stdout + result.stderr


def test_new_with_a_300_character_project_name_is_exit_2_without_a_traceback(
    tmp_path: Path,
) -> None:
    """``formicary new NAME`` makes NAME a folder: a name no file system takes is refused."""
    result = cli("-w", str(tmp_path), "new", "p" * 300)
    assert result.returncode == 2, result.stderr
    assert "is not a valid project name" in result.stderr
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []


# -- formicary logs: bounded memory, --tail ------------------------------------------------


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A workspace with a finished session 1 whose task ``t`` (100 characters: the longest
    name, which must still make a log file) printed five lines; and its log file."""
    workspace = tmp_path_factory.mktemp("logs")
    task = "t" * 100
    definition = write_project(workspace, "w", task)
    definition.write_text(
        definition.read_text(encoding="utf-8").replace(
            '"echo hi"', '"for i in 1 2 3 4 5; do echo line $i; done"'
        ),
        encoding="utf-8",
    )
    result = cli("-w", str(workspace), "run", "proj", "--plain")
    assert result.returncode == 0, result.stdout + result.stderr
    log = workspace / ".formicary" / "logs" / "1" / f"{task}.1.log"
    assert log.read_text(encoding="utf-8") == "".join(f"line {i}\n" for i in range(1, 6))
    yield workspace, log


def test_logs_tail_prints_the_last_lines(session: tuple[Path, Path]) -> None:
    workspace, _ = session
    task = "t" * 100
    result = cli("-w", str(workspace), "logs", "1", task, "--tail", "3")
    assert (result.returncode, result.stdout) == (0, "line 3\nline 4\nline 5\n"), result.stderr
    result = cli("-w", str(workspace), "logs", "1", task, "--tail", "9")
    assert result.stdout == "".join(f"line {i}\n" for i in range(1, 6))
    result = cli("-w", str(workspace), "logs", "1", task, "-n", "1")
    assert result.stdout == "line 5\n"


@pytest.mark.parametrize("value", ["-1", "1000000001", "x"])
def test_logs_tail_out_of_range_is_one_line_and_exit_2(
    session: tuple[Path, Path], value: str
) -> None:
    workspace, _ = session
    result = cli("-w", str(workspace), "logs", "1", "t" * 100, "--tail", value)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "--tail" in result.stderr


def test_logs_tail_needs_a_task(session: tuple[Path, Path]) -> None:
    workspace, _ = session
    result = cli("-w", str(workspace), "logs", "1", "--tail", "3")
    assert result.returncode == 2
    assert (
        result.stderr
        == "formicary: error: --tail: needs a TASK (formicary logs SESSION TASK --tail)\n"
    )


def test_logs_tail_reads_backwards_across_blocks(tmp_path: Path) -> None:
    """Lines longer than the read block, a file without a final newline."""
    from formicary.cli.sessions import _BLOCK, _tail_start

    log = tmp_path / "big.log"
    long_line = b"a" * (_BLOCK + 7)
    log.write_bytes(b"one\n" + long_line + b"\n" + long_line + b"\nlast")
    assert _tail_start(log, 1) == log.stat().st_size - len(b"last")
    assert _tail_start(log, 2) == 4 + len(long_line) + 1
    assert _tail_start(log, 3) == 4
    assert _tail_start(log, 4) == 0
    assert _tail_start(log, 0) == log.stat().st_size


def peak_rss_of(args: list[str]) -> tuple[int, int]:
    """Run ``args`` from a small Python process that reports its child's peak RSS (KiB on
    Linux): the test process's own ``RUSAGE_CHILDREN`` keeps the largest of all its
    children so far, so it cannot give one child's."""
    probe = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300
    )
    code, rss = result.stdout.split()
    return int(code), int(rss)


def test_logs_of_a_200_mb_log_keeps_peak_rss_under_50_mb(session: tuple[Path, Path]) -> None:
    workspace, log = session
    saved = log.read_bytes()
    try:
        with open(log, "ab") as file:  # 200 MB of lines, written in blocks
            block = b"0123456789abcdef" * 63 + b"012345678901234\n"
            for _ in range(200 * MB // len(block)):
                file.write(block)
        code, rss_kib = peak_rss_of([FORMICARY, "-w", str(workspace), "logs", "1", "t" * 100])
        assert code == 0
        assert rss_kib < 50 * 1024, rss_kib
        code, rss_kib = peak_rss_of(
            [FORMICARY, "-w", str(workspace), "logs", "1", "t" * 100, "--tail", "1000"]
        )
        assert code == 0
        assert rss_kib < 50 * 1024, rss_kib
    finally:
        log.write_bytes(saved)
