"""Loading definition files: valid specs, and exact errors for every kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from formicary.errors import DefinitionError, UsageError
from formicary.model.definitions import load_project_file, load_workspace
from formicary.model.records import ProjectType, TaskPriority
from formicary.model.shell_params import render_command
from formicary.model.specs import dump_project

from tests.conftest import SAMPLES, WriteProject

VALID = """
[project]
name = "data-pipeline"
description = "Ingest and report"
type = "data_pipeline"
version = "1.0.0"

[resources]
cpu = 2
memory_mb = 2048
db = 1

[defaults]
retries = 1
retry_delay = 1.0
timeout = 300

[workflows.nightly]
description = "Nightly build of the report"
max_parallel = 4
params = { day = "2026-01-01" }

[workflows.nightly.tasks.extract]
run = "python3 scripts/extract.py --day {day}"
priority = "high"
resources = { cpu = 1, memory_mb = 256 }

[workflows.nightly.tasks.report]
call = "scripts.report:main"
args = { fmt = "md", day = "{day}" }
depends_on = ["extract"]
retries = 3
timeout = 60
"""


def test_valid_definition_loads_with_defaults_applied(write_project: WriteProject) -> None:
    spec, issues = load_project_file(write_project(VALID))
    assert issues == []
    assert spec is not None
    assert spec.name == "data-pipeline"
    assert spec.type is ProjectType.DATA_PIPELINE
    assert spec.resources == {"cpu": 2, "memory_mb": 2048, "db": 1}
    workflow = spec.workflows["nightly"]
    assert workflow.max_parallel == 4
    extract, report = workflow.tasks["extract"], workflow.tasks["report"]
    assert extract.priority is TaskPriority.HIGH
    assert extract.retries == 1 and extract.timeout == 300
    assert report.retries == 3 and report.timeout == 60
    assert report.depends_on == ("extract",)
    assert report.kind == "python" and extract.kind == "shell"


def test_written_spec_loads_back_equal(write_project: WriteProject, tmp_path: Path) -> None:
    spec, _ = load_project_file(write_project(VALID))
    assert spec is not None
    copy = write_project(dump_project(spec), folder="copy")
    again, issues = load_project_file(copy)
    assert issues == []
    assert again == spec


def test_every_sample_project_round_trips(tmp_path: Path) -> None:
    workspace = load_workspace(SAMPLES)
    assert workspace.ok, workspace.issues
    for number, spec in enumerate(workspace.projects.values()):
        folder = tmp_path / str(number)
        folder.mkdir()
        (folder / "formicary.toml").write_text(dump_project(spec), encoding="utf-8")
        again, issues = load_project_file(folder / "formicary.toml")
        assert issues == [] and again == spec


def test_parameters_travel_in_the_environment() -> None:
    hostile = "2026-01-01; rm -rf / #"
    command, env = render_command("echo {day} {{literal}} ${HOME}", {"day": hostile})
    assert command == 'echo "${FORMICARY_PARAM_day}" {literal} ${HOME}'
    assert env == {"FORMICARY_PARAM_day": hostile}


def check(write_project: WriteProject, text: str) -> list[str]:
    spec, issues = load_project_file(write_project(text))
    assert spec is None
    return [str(issue) for issue in issues]


HEADER = """
[project]
name = "p"

"""

CASES = [
    (
        "unknown key",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\nretires = 2\n',
        6,
        "workflows.w.tasks.a.retires",
        'unknown key (did you mean "retries"?)',
    ),
    (
        "wrong type",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\nretries = "2"\n',
        6,
        "workflows.w.tasks.a.retries",
        "must be an integer, not a string",
    ),
    (
        "negative retries",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\nretries = -1\n',
        6,
        "workflows.w.tasks.a.retries",
        "must be at least 0",
    ),
    (
        "negative timeout",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\ntimeout = -5\n',
        6,
        "workflows.w.tasks.a.timeout",
        "must be at least 0",
    ),
    (
        "bad priority",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\npriority = "urgent"\n',
        6,
        "workflows.w.tasks.a.priority",
        "must be one of critical | high | normal | low | background",
    ),
    (
        "unknown dependency",
        HEADER
        + '[workflows.w.tasks.extract]\nrun = "true"\n\n'
        + '[workflows.w.tasks.report]\nrun = "true"\ndepends_on = ["extrct"]\n',
        9,
        "workflows.w.tasks.report.depends_on",
        'unknown task "extrct" (did you mean "extract"?)',
    ),
    (
        "cycle",
        HEADER
        + '[workflows.w.tasks.a]\nrun = "true"\ndepends_on = ["b"]\n'
        + '[workflows.w.tasks.b]\nrun = "true"\ndepends_on = ["a"]\n',
        6,
        "workflows.w.tasks.a.depends_on",
        "dependency cycle: a → b → a",
    ),
    (
        "unknown pool",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\nresources = { gpu = 1 }\n',
        6,
        "workflows.w.tasks.a.resources.gpu",
        'unknown resource pool "gpu"',
    ),
    (
        "pool too small",
        HEADER
        + "[resources]\ndb = 1\n\n"
        + '[workflows.w.tasks.a]\nrun = "true"\nresources = { db = 2 }\n',
        9,
        "workflows.w.tasks.a.resources.db",
        'asks for 2 of pool "db", which has only 1',
    ),
    (
        "both run and call",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\ncall = "m:f"\n',
        4,
        "workflows.w.tasks.a",
        "has both run and call",
    ),
    (
        "neither run nor call",
        HEADER + '[workflows.w.tasks.a]\ndescription = "x"\n',
        4,
        "workflows.w.tasks.a",
        "needs a shell command",
    ),
    (
        "missing placeholder",
        HEADER
        + '[workflows.w]\nparams = { day = "x" }\n[workflows.w.tasks.a]\nrun = "echo {dya}"\n',
        7,
        "workflows.w.tasks.a.run",
        'placeholder {dya} has no value (did you mean "day"?)',
    ),
    (
        "bad project name",
        '[project]\nname = "Bad Name"\n[workflows.w.tasks.a]\nrun = "true"\n',
        2,
        "project.name",
        "'Bad Name' is not a valid name",
    ),
    (
        "missing project table",
        '[workflows.w.tasks.a]\nrun = "true"\n',
        0,
        "project",
        "missing [project] table",
    ),
    (
        "bad call target",
        HEADER + '[workflows.w.tasks.a]\ncall = "not a target"\n',
        5,
        "workflows.w.tasks.a.call",
        "is not of the form module.path:function",
    ),
    (
        "args on a shell task",
        HEADER + '[workflows.w.tasks.a]\nrun = "true"\nargs = { x = 1 }\n',
        6,
        "workflows.w.tasks.a.args",
        "only call tasks take args",
    ),
    (
        "no workflows",
        HEADER,
        0,
        "workflows",
        "no workflows defined",
    ),
    (
        "syntax error",
        HEADER + '[workflows.w.tasks.a]\nrun = "true\n',
        5,
        "",
        "TOML syntax error",
    ),
    (
        "inline table on a later line",
        HEADER
        + "[workflows.w]\nparams = { n = 1 }\n[workflows.w.tasks]\n"
        + 'a = { run = "true" }\nb = { run = "true", depends_on = ["zz"] }\n',
        8,
        "workflows.w.tasks.b.depends_on",
        'unknown task "zz"',
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key_path", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_error_names_file_line_and_key_path(
    write_project: WriteProject, text: str, line: int, key_path: str, message: str
) -> None:
    spec, issues = load_project_file(write_project(text))
    assert spec is None
    matching = [issue for issue in issues if message in issue.message]
    assert matching, [str(issue) for issue in issues]
    issue = matching[0]
    assert issue.line == line, str(issue)
    assert issue.key_path == key_path
    location = f"proj/formicary.toml:{line}:" if line else "proj/formicary.toml:"
    assert location in str(issue)


def test_all_errors_of_a_file_are_reported_together(write_project: WriteProject) -> None:
    text = HEADER + textwrap.dedent(
        """
        [workflows.w.tasks.a]
        run = "true"
        retries = -1
        priority = "soon"
        resources = { gpu = 1 }

        [workflows.w.tasks.b]
        run = "true"
        depends_on = ["nope"]
        """
    )
    lines = check(write_project, text)
    assert len(lines) == 4
    assert [line.split(":")[1] for line in lines] == ["7", "8", "9", "13"]


def test_duplicate_project_names_are_reported(write_project: WriteProject, tmp_path: Path) -> None:
    write_project(HEADER + '[workflows.w.tasks.a]\nrun = "true"\n', folder="one")
    write_project(HEADER + '[workflows.w.tasks.a]\nrun = "true"\n', folder="two")
    workspace = load_workspace(tmp_path)
    assert list(workspace.projects) == ["p"]
    assert len(workspace.issues) == 1
    assert 'project name "p" is already used by' in workspace.issues[0].message
    assert workspace.issues[0].line == 2
    with pytest.raises(DefinitionError):
        workspace.raise_for_issues()


def test_valid_projects_load_beside_broken_ones(
    write_project: WriteProject, tmp_path: Path
) -> None:
    write_project(HEADER + '[workflows.w.tasks.a]\nrun = "true"\n', folder="good")
    write_project("[project\n", folder="bad")
    workspace = load_workspace(tmp_path)
    assert list(workspace.projects) == ["p"]
    assert [file.parent.name for file in workspace.invalid_files] == ["bad"]


def test_hidden_folders_are_not_searched(write_project: WriteProject, tmp_path: Path) -> None:
    write_project(HEADER + '[workflows.w.tasks.a]\nrun = "true"\n', folder=".formicary/x")
    assert load_workspace(tmp_path).projects == {}


def test_missing_workspace_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder"):
        load_workspace(tmp_path / "nowhere")


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "formicary.toml").write_bytes(b'[project]\nname = "\xff"\n')
    spec, issues = load_project_file(tmp_path / "formicary.toml")
    assert spec is None and "UTF-8" in issues[0].message and issues[0].line == 2


def test_timeout_zero_means_no_limit(write_project: WriteProject) -> None:
    spec, _ = load_project_file(
        write_project(
            HEADER + '[defaults]\ntimeout = 5\n[workflows.w.tasks.a]\nrun = "x"\ntimeout = 0\n'
        )
    )
    assert spec is not None and spec.workflows["w"].tasks["a"].timeout is None
