"""Host secrets: ``${env:NAME}`` in a task's ``env`` is read at start and never stored."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from formicary.model.definitions import load_project_file

from tests.test_cli_foundation import FORMICARY

SECRET = "s3cr3t-value-that-must-not-be-stored"


def secret_workspace(root: Path, reference: str = "${env:FORMICARY_TEST_SECRET}") -> Path:
    project = root / "p"
    project.mkdir()
    (project / "formicary.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "p"

            [workflows.main.tasks.use]
            run = "printf '%s' \\"$DB_PASSWORD\\" > got.txt"
            env = {{ DB_PASSWORD = "{reference}", MODE = "x-${{env:FORMICARY_TEST_MODE}}-y" }}
            """
        ),
        encoding="utf-8",
    )
    return root


def run(workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FORMICARY, "-w", str(workspace), "run", "p"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_a_host_variable_reaches_the_task_and_never_the_store(tmp_path: Path) -> None:
    workspace = secret_workspace(tmp_path)
    result = run(workspace, {"FORMICARY_TEST_SECRET": SECRET, "FORMICARY_TEST_MODE": "m"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (workspace / "p" / "got.txt").read_text() == SECRET
    for file in (workspace / ".formicary").rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
    snapshot = subprocess.run(
        [FORMICARY, "-w", str(workspace), "status", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert SECRET not in snapshot.stdout


def test_a_missing_host_variable_stops_the_run_before_anything_is_recorded(tmp_path: Path) -> None:
    workspace = secret_workspace(tmp_path)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FORMICARY_TEST_")}
    result = subprocess.run(
        [FORMICARY, "-w", str(workspace), "run", "p"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environment,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "formicary: error: task use: env DB_PASSWORD: ${env:FORMICARY_TEST_SECRET} is not set "
        "in formicary's environment"
    ]
    assert not (workspace / "p" / "got.txt").exists()
    sessions = subprocess.run(
        [FORMICARY, "-w", str(workspace), "sessions"], capture_output=True, text=True, check=False
    )
    assert "p:main" not in sessions.stdout


def test_a_malformed_reference_or_a_nul_is_a_definition_error(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    file = folder / "formicary.toml"
    file.write_text(
        '[project]\nname = "p"\n[workflows.w.tasks.t]\nrun = "true"\n'
        'env = { A = "${env:1BAD}", B = "a\\u0000b", "C=D" = "x" }\n',
        encoding="utf-8",
    )
    spec, issues = load_project_file(file)
    assert spec is None
    assert [str(issue).split(":", 1)[1] for issue in issues] == [
        "5: workflows.w.tasks.t.env.A: ${env:1BAD} does not name an environment variable",
        "5: workflows.w.tasks.t.env.B: contains a NUL character, which no process can take",
        '5: workflows.w.tasks.t.env."C=D": is not a valid environment variable name',
    ]
