"""Parameters never become commands: every quoting context, hostile values, every front door.

The property test renders one template holding a placeholder in every context a POSIX shell
has, runs it with ``/bin/sh`` exactly as the local executor does (``sh -c`` with the rendered
command and its environment), and checks each context wrote exactly the value and that the
canary file no payload may create does not exist. Each generated value is checked in every
context at once, so ``max_examples`` is the number of cases per context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from formicary.errors import UsageError
from formicary.model.definitions import load_project_file
from formicary.model.params import placeholders, resolve
from formicary.model.shell_params import render_command, unsafe_placeholders
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.test_cli_foundation import FORMICARY

# Each context writes its own file; the expected text is a function of the value.
CONTEXTS: dict[str, tuple[str, str]] = {
    "unquoted": ("printf '%s' {v} > unquoted", "{}"),
    "double": ("printf '%s' \"{v}\" > double", "{}"),
    "single": ("printf '%s' '{v}' > single", "{}"),
    "adjacent": ("printf '%s' pre{v}\"mid\"{v}'end' > adjacent", "pre{0}mid{0}end"),
    "command_substitution": ("printf '%s' \"$(printf '%s.' {v})\" > command_substitution", "{}."),
    "nested_double": ("printf '%s' \"$(printf '%s.' \"<{v}>\")\" > nested_double", "<{}>."),
    "backticks": ("printf '%s' \"`printf '%s.' {v}`\" > backticks", "{}."),
    "parameter_default": ("printf '%s' \"${UNSET_FORMICARY_X:-{v}}}\" > parameter_default", "{}"),
    "single_in_substitution": (
        "printf '%s' \"$(printf '%s.' 'x{v}y')\" > single_in_substitution",
        "x{}y.",
    ),
    "heredoc": ("cat > heredoc <<EOF\n{v}\nEOF", "{}\n"),
    "heredoc_tabs": ("cat > heredoc_tabs <<-END\n\t[{v}]\n\tEND", "[{}]\n"),
    "comment": ("# {v} ' \" $(\nprintf '%s' after-comment > comment", "after-comment"),
}
TEMPLATE = "\n".join(template for template, _ in CONTEXTS.values()) + "\n"

PAYLOADS = [
    "$(touch canary)",
    "`touch canary`",
    "';touch canary;'",
    '";touch canary;"',
    "\nEOF\ntouch canary\n",
    "\nEND\ntouch canary\n",
    "${HOME}",
    "$((1+1))",
    "{v}",
    "{",
    "}",
    "{{",
    "\\",
    "\\\\'",
    "'",
    '"',
    "$",
    "`",
    "\n",
    "\t",
    "\r",
    " ",
    "*",
    "~",
    "#",
    "-n",
    "é",
    "🐜",
    "\u202e",
]
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
VALUES = st.one_of(
    st.text(CHARACTERS, max_size=30),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(CHARACTERS, max_size=4)), max_size=8).map(
        "".join
    ),
)


def run_template(template: str, value: str, folder: Path, shell: str = "/bin/sh") -> None:
    command, env = render_command(template, {"v": value})
    subprocess.run(
        [shell, "-c", command],
        cwd=folder,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        check=True,
        timeout=30,
    )


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=VALUES)
def test_every_context_prints_exactly_the_value_and_runs_nothing(
    value: str, tmp_path: Path
) -> None:
    run_template(TEMPLATE, value, tmp_path)
    assert not (tmp_path / "canary").exists(), value
    for name, (_, expected) in CONTEXTS.items():
        written = (tmp_path / name).read_bytes().decode("utf-8")
        assert written == expected.format(value), (name, value)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=VALUES)
def test_bash_as_sh_reads_the_contexts_the_same(value: str, tmp_path: Path) -> None:
    """Where /bin/sh is bash (Fedora, macOS), the same references hold, and so does <<<."""
    template = TEMPLATE + "cat > here_string <<<{v}\n"
    run_template(template, value, tmp_path, shell=str(shutil.which("bash")))
    assert not (tmp_path / "canary").exists(), value
    for name, (_, expected) in CONTEXTS.items():
        assert (tmp_path / name).read_bytes().decode("utf-8") == expected.format(value), name
    assert (tmp_path / "here_string").read_bytes().decode("utf-8") == value + "\n"


@settings(max_examples=500, deadline=None)
@example(template="${v}")  # the shell's own ${v}: no placeholder, nothing to render
@example(template="'{v}'$(({v}))")
@given(
    template=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "{v}",
                    "'",
                    '"',
                    "$(",
                    ")",
                    "`",
                    "${",
                    "}",
                    "$((",
                    "<<",
                    "<<-",
                    "\\",
                    "#",
                    "\n",
                    "EOF",
                    " ",
                    "{{",
                    "}}",
                    "<<<",
                    "'EOF'",
                ]
            ),
            st.text(max_size=3),
        ),
        max_size=12,
    ).map("".join)
)
def test_any_template_renders_or_is_refused_never_crashes(template: str) -> None:
    refused = unsafe_placeholders(template)
    if refused:
        with pytest.raises(ValueError, match="placeholder"):
            render_command(template, {"v": "x"})
    elif "v" in placeholders(template):
        command, env = render_command(template, {"v": "$(touch canary)"})
        assert "touch canary" not in command
        assert env == {"FORMICARY_PARAM_v": "$(touch canary)"}


@pytest.mark.parametrize(
    ("run", "context"),
    [
        ("echo $(( {v} + 1 ))", "$((…))"),
        ("cat <<'EOF'\n{v}\nEOF", "quoted delimiter"),
        ('cat <<"EOF"\n{v}\nEOF', "quoted delimiter"),
        ("cat <<{v}\nx\n{v}\n", "heredoc's delimiter"),
    ],
)
def test_validate_refuses_contexts_that_cannot_be_made_safe(
    run: str, context: str, write_project: object
) -> None:
    file = write_project(  # type: ignore[operator]
        '[project]\nname = "p"\n[workflows.w]\nparams = { v = "1" }\n'
        f"[workflows.w.tasks.t]\nrun = '''{run}'''\n"
    )
    spec, issues = load_project_file(file)
    assert spec is None and len(issues) >= 1
    assert all(":6: workflows.w.tasks.t.run: placeholder {v} " in str(issue) for issue in issues)
    assert context in str(issues[0])


def test_nul_and_lone_surrogates_are_refused_with_the_parameter_named() -> None:
    with pytest.raises(UsageError, match=r"--param msg: contains a NUL"):
        resolve({"msg": "x"}, {"msg": "a\x00b"})
    with pytest.raises(UsageError, match=r"--param msg: is not valid Unicode"):
        resolve({"msg": "x"}, {"msg": "a\ud800b"})


def test_a_nul_in_a_default_value_is_a_definition_error(write_project: object) -> None:
    file = write_project(  # type: ignore[operator]
        '[project]\nname = "p"\n[workflows.w]\nparams = { v = "a\\u0000b" }\n'
        '[workflows.w.tasks.t]\nrun = "echo {v}"\n'
    )
    spec, issues = load_project_file(file)
    assert spec is None and "its value contains a NUL" in str(issues[0])


HOSTILE = "$(touch PWNED)`touch PWNED2`';touch PWNED3;'\";touch PWNED4;\""


def quoted_workspace(root: Path) -> Path:
    project = root / "q"
    project.mkdir()
    (project / "formicary.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "q"

            [workflows.main]
            params = { msg = "hello" }

            [workflows.main.tasks.say]
            run = "printf '%s|' \\"msg={msg}\\" 'sq={msg}' {msg}"
            """
        ),
        encoding="utf-8",
    )
    return root


def test_formicary_run_with_a_hostile_param_runs_nothing(tmp_path: Path) -> None:
    """The issue's reproduction: the value sits inside double and single quotes."""
    workspace = quoted_workspace(tmp_path)
    result = subprocess.run(
        [FORMICARY, "-w", str(workspace), "run", "q", "--param", f"msg={HOSTILE}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(tmp_path.rglob("PWNED*"))
    log = next((workspace / ".formicary" / "logs").rglob("say.1.log")).read_text()
    assert log == f"msg={HOSTILE}|sq={HOSTILE}|{HOSTILE}|"


async def test_the_start_dialog_passes_a_hostile_value_as_text(tmp_path: Path) -> None:
    from formicary.tui.app import FormicaryApp
    from formicary.tui.screens.start import StartScreen
    from textual.widgets import Input

    from tests.test_dashboard import SIZE, open_workflow, until

    workspace = quoted_workspace(tmp_path)
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        main = await open_workflow(pilot, "q", "main")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, StartScreen))
        app.screen.query_one("#param-msg", Input).value = HOSTILE
        await pilot.press("enter")
        await until(pilot, lambda: main.current is not None and main.view.finished)
    assert not list(tmp_path.rglob("PWNED*"))
    log = next((workspace / ".formicary" / "logs").rglob("say.1.log")).read_text()
    assert log == f"msg={HOSTILE}|sq={HOSTILE}|{HOSTILE}|"
