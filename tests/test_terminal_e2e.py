"""End to end in a real terminal: tmux runs `formicary dash`, keys go in, the screen is read."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.test_cli_foundation import FORMICARY

TMUX = shutil.which("tmux")


class Terminal:
    """A tmux session on a private server socket."""

    def __init__(self, command: str, width: int = 160, height: int = 50) -> None:
        assert TMUX is not None
        self.socket = f"formicary-test-{uuid.uuid4().hex[:8]}"
        self.name = "dash"
        size = ["-x", str(width), "-y", str(height)]
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", self.name, *size, command)
        self._tmux("resize-window", "-t", self.name, *size)

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            [TMUX or "tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result.stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def alive(self) -> bool:
        return self.name in self._tmux("list-sessions", "-F", "#{session_name}")

    def until(self, condition: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            assert time.monotonic() < deadline, f"screen never matched:\n{text}"
            time.sleep(0.1)

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
def test_dashboard_in_a_real_terminal(tmp_path: Path) -> None:
    workspace = tmp_path / "samples"
    shutil.copytree(SAMPLES, workspace, ignore=shutil.ignore_patterns("out", ".chaos", "dist"))
    # pytest may export COLUMNS/LINES, which would override the terminal's real size.
    terminal = Terminal(f"env -u COLUMNS -u LINES {FORMICARY} dash {workspace}")
    try:
        first = terminal.until(lambda text: "Projects" in text and "Graph" in text)
        assert "ai-analysis" in first and "chaos" in first
        terminal.keys("s")
        # A capture can land in the middle of a repaint: wait for the whole header.
        done = terminal.until(
            lambda text: re.search(r"session 1 completed \d\d:\d\d · 5/5 done", text) is not None
        )
        assert "✔ report" in done or "✔ inventory" in done
        # Help, closed each way it can be (the first key pressed in it once crashed the app).
        for close in ("Escape", "q", "?"):
            terminal.keys("?")
            terminal.until(lambda text: "main.start" in text and "description" in text)
            terminal.keys(close)
            terminal.until(lambda text: "main.start" not in text and "3 Queue" in text)
            assert terminal.alive()
        # ":" opens the command palette, as in k9s; PgDn in it once crashed the app too.
        terminal.keys(":")
        terminal.until(lambda text: "Start the selected workflow" in text)
        terminal.keys("PageDown", "Escape")
        terminal.until(lambda text: "Start the selected workflow" not in text and "3 Queue" in text)
        assert terminal.alive()
        terminal.keys("q")
        deadline = time.monotonic() + 30
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.alive()
    finally:
        terminal.close()
