"""`formicary validate` and `formicary new`, through the real console script and in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from formicary.cli import main
from formicary.model.definitions import load_workspace
from formicary.model.records import ProjectType

from tests.conftest import SAMPLES, WriteProject

FORMICARY = shutil.which("formicary") or str(Path(sys.executable).parent / "formicary")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FORMICARY, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_validate_samples_exits_zero() -> None:
    result = run_cli("validate", str(SAMPLES))
    assert result.returncode == 0, result.stderr
    assert "all valid" in result.stdout
    assert "data-pipeline" in result.stdout


def test_broken_definition_prints_located_lines_and_exits_2(write_project: WriteProject) -> None:
    file = write_project(
        '[project]\nname = "p"\n[workflows.w.tasks.a]\nrun = "true"\ndepends_on = ["b"]\n'
        "retries = -2\n"
    )
    result = run_cli("validate", str(file.parent), cwd=file.parent.parent)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert 'proj/formicary.toml:5: workflows.w.tasks.a.depends_on: unknown task "b"' in lines
    assert "proj/formicary.toml:6: workflows.w.tasks.a.retries: must be at least 0, not -2" in lines


def test_syntax_error_is_one_line_and_exit_2(write_project: WriteProject) -> None:
    file = write_project('[project]\nname = "p\n')
    result = run_cli("validate", str(file), cwd=file.parent.parent)
    assert result.returncode == 2
    assert result.stderr.startswith("proj/formicary.toml:2: TOML syntax error")
    assert "Traceback" not in result.stderr


def test_missing_path_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope: no such file or folder")


def test_empty_workspace_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "no formicary.toml found" in capsys.readouterr().err


def test_bad_argument_is_exit_2() -> None:
    result = run_cli("validate", "--no-such-flag")
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", list(ProjectType))
def test_new_writes_a_valid_project_for_every_type(
    kind: ProjectType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(tmp_path), "new", "my-proj", "--template", kind.value]) == 0
    workspace = load_workspace(tmp_path)
    assert workspace.ok, workspace.issues
    assert workspace.projects["my-proj"].type is kind


@pytest.mark.parametrize("name", ["Bad", "../escape", "a/b", "_x", ""])
def test_new_refuses_bad_names(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-w", str(tmp_path), "new", name]) == 2
    assert "not a valid project name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["-w", str(tmp_path), "new", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_new_rejects_unknown_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", str(tmp_path), "new", "x", "--template", "nope"]) == 2
    assert "unknown template" in capsys.readouterr().err


def test_help_everywhere() -> None:
    for args in (["--help"], ["validate", "--help"], ["new", "--help"]):
        result = run_cli(*args)
        assert result.returncode == 0 and "usage: formicary" in result.stdout


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """``formicary ... | head`` : the pipe closes before the output is written."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [FORMICARY, "validate", str(SAMPLES)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_columns_align_by_cell_width_and_end_at_the_last_cell() -> None:
    import io

    from formicary.cli.output import print_columns
    from rich.console import Console
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, width=40, highlight=False, color_system=None)
    rows = [
        ("a", Text("✔ completed", style="green"), ""),
        ("longer_name", Text("⊗ blocked"), "upstream task a failed, and much more text"),
        ("漢字", "-", ""),
        ("py", Text("✘ failed"), "ValueError: two\nlines"),
    ]
    print_columns(console, ("task", "state", "reason"), rows)
    assert out.getvalue().splitlines() == [
        "task         state        reason",
        "a            ✔ completed",
        "longer_name  ⊗ blocked    upstream task a failed, and much more text",
        "漢字         -",
        "py           ✘ failed     ValueError: two lines",
    ]


@pytest.mark.parametrize("columns", ["0", "abc", "120"])
def test_help_is_wrapped_to_a_sane_width(columns: str) -> None:
    result = subprocess.run(
        [FORMICARY, "status", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": columns},
    )
    assert result.returncode == 0
    assert "A row per task of SESSION." in result.stdout.splitlines()
