"""Every front end ends the same way on SIGINT, SIGTERM and SIGHUP: each task process ended,
the session recorded as cancelled with the signal named in the reason, and exit 128+N.

The matrix is {SIGINT, SIGTERM, SIGHUP} x {``formicary run``, ``formicary mcp`` (JSON-RPC
over stdio), ``formicary dash`` (in a real terminal, through tmux)}. Every case starts a
workflow of a few ``sleep 60`` tasks in a uniquely named workspace, waits (polling the store)
until they run, sends the signal to the front end, and checks what is left.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import psutil
import pytest
from formicary.store.database import Store

from tests.test_cli_foundation import FORMICARY
from tests.test_terminal_e2e import TMUX, Terminal

DEADLINE = 30.0
"""Generous: how long a case may wait for its tasks to run or its front end to end."""

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
PARALLEL = 2


def _project(root: Path, marker: str) -> Path:
    """A workspace with project ``proj``, workflow ``w``: ``PARALLEL`` long marked tasks."""
    root = root / marker
    folder = root / "proj"
    folder.mkdir(parents=True)
    tasks = "".join(
        f'\n[workflows.w.tasks.t{i}]\nrun = "sleep 60 # {marker}"\n' for i in range(PARALLEL)
    )
    (folder / "formicary.toml").write_text(
        f'[project]\nname = "proj"\n\n[workflows.w]\n{tasks}', encoding="utf-8"
    )
    return root


def _task_processes(marker: str) -> list[psutil.Process]:
    """Live processes running in a folder named by ``marker`` (the tasks run in their
    project folder inside the workspace; the front ends run elsewhere)."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        try:
            if marker in (process.info["cwd"] or "") and (process.status() != psutil.STATUS_ZOMBIE):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _front_end(workspace: Path) -> psutil.Process | None:
    """The ``formicary dash WORKSPACE`` process (not the shell that started it)."""
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "dash" in cmdline and str(workspace) in cmdline:
            return process
    return None


def _until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds (failing, naming ``what``, after :data:`DEADLINE`)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _running(workspace: Path, marker: str) -> bool:
    """Whether every task of session 1 runs (in the store and as a process)."""
    if len(_task_processes(marker)) < PARALLEL:
        return False
    try:
        store = Store.for_workspace(workspace, create=False)
    except Exception:
        return False
    try:
        tasks = store.tasks(1)
    except Exception:
        return False
    finally:
        store.close()
    return len(tasks) == PARALLEL and all(t.state == "running" for t in tasks)


def _check_cancelled(workspace: Path, signum: signal.Signals, marker: str, front_end: str) -> None:
    """The store says session 1 was cancelled because ``formicary <front_end>`` got
    ``signum``; no task process is left."""
    assert _task_processes(marker) == []
    store = Store.for_workspace(workspace, create=False)
    try:
        record = store.session(1)
        tasks = store.tasks(1)
    finally:
        store.close()
    assert record.status.value == "cancelled", record
    for task in tasks:
        assert task.state == "cancelled", task
        assert task.reason == f"cancelled: formicary {front_end} got {signum.name}", task


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique name for the workspace folder (the tasks run inside it); whatever still
    runs there at the end is killed (so a failing case leaves nothing behind)."""
    mark = f"marker-{uuid.uuid4().hex}"
    yield mark
    for process in _task_processes(mark):
        process.kill()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_run(tmp_path: Path, marker: str, signum: signal.Signals) -> None:
    """``formicary run`` (``--plain``, off a terminal) ends its session on each signal."""
    workspace = _project(tmp_path, marker)
    process = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", "proj:w", "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _until(lambda: _running(workspace, marker), "the tasks to run")
        process.send_signal(signum)
        output, _ = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, output
    _check_cancelled(workspace, signum, marker, "run")


class _JsonRpc:
    """A minimal JSON-RPC client over a subprocess's stdin/stdout (newline-delimited)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._in: IO[str] = process.stdin
        self._out: IO[str] = process.stdout
        self._next = 0

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._in.write(json.dumps(message) + "\n")
        self._in.flush()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next += 1
        request = {"jsonrpc": "2.0", "id": self._next, "method": method, "params": params}
        self._in.write(json.dumps(request) + "\n")
        self._in.flush()
        while True:
            line = self._out.readline()
            assert line, "the server closed its output"
            answer = json.loads(line)
            if answer.get("id") == self._next:
                return answer  # type: ignore[no-any-return]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_mcp(tmp_path: Path, marker: str, signum: signal.Signals) -> None:
    """``formicary mcp`` ends the session its ``start_workflow`` tool started."""
    workspace = _project(tmp_path, marker)
    process = subprocess.Popen(
        [FORMICARY, "mcp", str(workspace)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = _JsonRpc(process)
        client.call(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        )
        client.notify("notifications/initialized")
        started = client.call(
            "tools/call",
            {"name": "start_workflow", "arguments": {"project": "proj", "workflow": "w"}},
        )
        assert not started["result"].get("isError"), started
        _until(lambda: _running(workspace, marker), "the tasks to run")
        process.send_signal(signum)
        _, errors = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, errors
    _check_cancelled(workspace, signum, marker, "mcp")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_dash(tmp_path: Path, marker: str, signum: signal.Signals) -> None:
    """``formicary dash`` in a real terminal ends the session it started (``s``)."""
    workspace = _project(tmp_path, marker)
    code_file = tmp_path / "exit-code"
    # The shell records the dashboard's exit code once it ends (the dashboard runs in the
    # foreground: a background job of a shell reads /dev/null, not the terminal).
    command = f"env -u COLUMNS -u LINES sh -c '{FORMICARY} dash {workspace}; echo $? > {code_file}'"
    terminal = Terminal(command)
    try:
        terminal.until(lambda text: "Projects" in text and "Graph" in text)
        terminal.keys("s")
        _until(lambda: _running(workspace, marker), "the tasks to run")
        dashboard = _front_end(workspace)
        assert dashboard is not None
        dashboard.send_signal(signum)
        _until(lambda: code_file.exists() and code_file.read_text().strip() != "", "the exit")
        assert int(code_file.read_text()) == 128 + signum, terminal.screen()
        _check_cancelled(workspace, signum, marker, "dash")
    finally:
        terminal.close()
