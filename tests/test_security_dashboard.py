"""The dashboard runs a session's stored definitions on retry, and says when they changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from formicary.tui.app import FormicaryApp

from tests.test_cli_foundation import FORMICARY
from tests.test_dashboard import SIZE, until


def failed_session(root: Path) -> Path:
    project = root / "p"
    project.mkdir()
    file = project / "formicary.toml"
    file.write_text(
        '[project]\nname = "p"\n[workflows.main.tasks.t]\nrun = "echo old > ran.txt; exit 1"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [FORMICARY, "-w", str(root), "run", "p"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    file.write_text(file.read_text().replace("echo old", "echo new"), encoding="utf-8")
    return project


async def test_a_retry_of_a_changed_task_runs_the_stored_one_and_says_so(tmp_path: Path) -> None:
    project = failed_session(tmp_path)
    app = FormicaryApp(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.bridge is not None)
        assert app.bridge is not None
        watched = await app.bridge.watch("1")
        shown, _outcome = await app.bridge.control(watched, "retry", "t")
        await until(
            pilot, lambda: any("definition changed" in (n.title or "") for n in app._notifications)
        )
        note = next(n for n in app._notifications if "definition changed" in (n.title or ""))
        assert note.severity == "warning"
        assert "echo old > ran.txt; exit 1" in note.message
        assert "echo new > ran.txt; exit 1" in note.message
        await until(pilot, lambda: shown.view.finished)
    assert (project / "ran.txt").read_text() == "old\n"
