"""Themes: the bundled theme files, the loader's errors, the saved choice, and the dashboard
switching, restoring and surviving broken theme and settings files.

Every test points ``XDG_CONFIG_HOME`` at its own tmp_path, so nothing reads or writes the real
``~/.config``.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from formicary.model.records import TaskStatus
from formicary.tui.app import FormicaryApp
from formicary.tui.glyphs import STATE_COLORS, state_variable
from formicary.tui.screens.main import MainScreen
from formicary.tui.themes import (
    COLOR_FIELDS,
    THEMES_ENV,
    ThemeError,
    bundled_theme_folders,
    load_all_themes,
    load_settings,
    load_theme_file,
    load_themes,
    save_settings,
    settings_path,
    user_theme_folder,
)
from formicary.tui.widgets.project_tree import ProjectTree
from formicary.tui.widgets.queue import TaskQueue
from rich.color import Color as RichColor
from rich.color import ColorSystem as RichColorSystem
from textual.color import Color
from textual.pilot import Pilot

from tests.conftest import REPO

THEMES = REPO / "themes"
BUNDLED = sorted(THEMES.glob("*.toml"))
STATES = [state.value for state in TaskStatus]
SIZE = (120, 36)

GOOD = """\
name = "tiny"
[colors]
primary = "#123456"
"""


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``XDG_CONFIG_HOME``; the bundled themes come from the repository."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv(THEMES_ENV, raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with one project of one workflow of two shell tasks (never started)."""
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "formicary.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "tiny"

            [workflows.main.tasks.first]
            run = "true"

            [workflows.main.tasks.second]
            run = "true"
            depends_on = ["first"]
            """
        ),
        encoding="utf-8",
    )
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    file.write_text(text, encoding="utf-8")
    return file


async def until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 10) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def warnings_of(app: FormicaryApp) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "warning"]


# -- the bundled theme files ---------------------------------------------------------------


def test_the_four_required_themes_are_bundled() -> None:
    names = {path.stem for path in BUNDLED}
    assert {"formicary-dark", "formicary-light", "high-contrast", "colorblind-safe"} <= names


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_each_bundled_theme_loads_with_every_state_colour(path: Path) -> None:
    theme = load_theme_file(path)
    assert theme.name == path.stem
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert sorted(written["states"]) == sorted(STATES), "the file itself sets all ten"
    for state in STATES:
        value = theme.variables[state_variable(state)]
        assert value == Color.parse(written["states"][state]).hex
    # Textual can build the whole colour system from it.
    assert theme.to_color_system().generate()["primary"]


def test_bundled_state_colours_are_distinct_in_each_theme() -> None:
    for path in BUNDLED:
        theme = load_theme_file(path)
        colors = [theme.variables[state_variable(state)] for state in STATES]
        assert len(set(colors)) == len(colors), path.name


def test_bundled_state_colours_stay_distinct_on_a_256_colour_terminal() -> None:
    """tmux and many terminals get 256 colours: no two states may collapse into one."""
    for path in BUNDLED:
        theme = load_theme_file(path)
        numbers = [
            RichColor.parse(theme.variables[state_variable(state)])
            .downgrade(RichColorSystem.EIGHT_BIT)
            .number
            for state in STATES
        ]
        assert len(set(numbers)) == len(numbers), path.name


def test_the_colorblind_theme_keeps_success_and_failure_apart_without_red_and_green() -> None:
    """Okabe-Ito colours (blue lightened for the dark background) and greys only; success is
    blue and failure vermillion, apart on the blue-yellow axis red-green blindness keeps."""
    theme = load_theme_file(THEMES / "colorblind-safe.toml")
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    lightened_blue = "#3A93D6"
    for state in STATES:
        color = Color.parse(theme.variables[state_variable(state)])
        grey = color.r == color.g == color.b
        assert grey or color.hex in okabe_ito | {lightened_blue}, state
    assert theme.variables["state-completed"] == "#56B4E9"  # sky blue
    assert theme.variables["state-failed"] == "#D55E00"  # vermillion


def test_the_repository_themes_folder_is_the_bundled_one_in_a_checkout() -> None:
    assert bundled_theme_folders() == [THEMES]


# -- the format and its errors -------------------------------------------------------------


def test_a_minimal_theme_gets_the_default_state_colours(tmp_path: Path) -> None:
    theme = load_theme_file(write(tmp_path, "tiny.toml", GOOD))
    assert theme.name == "tiny" and theme.primary == "#123456" and theme.dark
    for state, color in STATE_COLORS.items():
        assert theme.variables[state_variable(state)] == Color.parse(color).hex


def test_every_section_reaches_the_textual_theme(tmp_path: Path) -> None:
    colors = "\n".join(f'{field} = "#10{index:02d}20"' for index, field in enumerate(COLOR_FIELDS))
    text = f"""\
name = "full"
dark = false
luminosity_spread = 0.2
text_alpha = 0.9
[colors]
{colors}
[states]
failed = "rgb(200, 0, 0)"
[variables]
footer-background = "#222222"
"""
    theme = load_theme_file(write(tmp_path, "full.toml", text))
    assert not theme.dark and theme.luminosity_spread == 0.2 and theme.text_alpha == 0.9
    assert theme.surface == "#100820" and theme.boost == "#101020"
    assert theme.variables["state-failed"] == "#C80000"
    assert theme.variables["footer-background"] == "#222222"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param(
            'name = "x"\n[colors\nprimary = "#fff"\n', 2, "TOML syntax error", id="syntax"
        ),
        pytest.param(
            GOOD + 'primray = "#fff"\n',
            4,
            'colors.primray: unknown key (did you mean "primary"?)',
            id="unknown-color",
        ),
        pytest.param(GOOD + 'shade = "dark"\n', 4, "colors.shade: unknown key", id="unknown-key"),
        pytest.param('nmae = "x"\n' + GOOD, 1, "nmae: unknown key", id="unknown-top-key"),
        pytest.param(
            GOOD + '[states]\nrunnning = "#fff"\n',
            5,
            "states.runnning: unknown key",
            id="unknown-state",
        ),
        pytest.param(
            GOOD + 'error = "#zzzzzz"\n',
            4,
            "colors.error: '#zzzzzz' is not a colour",
            id="bad-colour",
        ),
        pytest.param(
            GOOD + "error = 12\n", 4, "colors.error: 12 is not a colour", id="not-a-string"
        ),
        pytest.param(GOOD + '[states]\nfailed = "ansi_red"\n', 5, "states.failed", id="ansi-state"),
        pytest.param("[colors]\nprimary = '#fff'\n", 0, "name: missing", id="no-name"),
        pytest.param(
            'name = "x"\n[colors]\nerror = "#fff"\n', 2, "colors.primary: missing", id="no-primary"
        ),
        pytest.param('name = "two words"\n[colors]\nprimary = "#fff"\n', 1, "name:", id="bad-name"),
        pytest.param(
            'name = "x"\ndark = "yes"\n[colors]\nprimary = "#fff"\n', 2, "dark:", id="bad-dark"
        ),
        pytest.param(
            GOOD + '[variables]\nstate-failed = "#fff"\n', 5, "[states]", id="state-variable"
        ),
        pytest.param(
            GOOD + '[variables]\nfooter-backgrund = "#fff"\n',
            5,
            'variables.footer-backgrund: not a Textual theme variable (did you mean "footer-background"?)',  # noqa: E501
            id="unknown-variable",
        ),
        pytest.param(
            GOOD + '[variables]\nfooter-background = "nope"\n',
            5,
            "variables.footer-background: 'nope' is not a colour",
            id="bad-variable-colour",
        ),
        pytest.param(
            GOOD + '[variables]\nblock-cursor-text-style = "shiny"\n',
            5,
            "variables.block-cursor-text-style: 'shiny' is not a text style",
            id="bad-text-style",
        ),
    ],
)
def test_a_bad_theme_file_raises_one_line_naming_file_line_and_key(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    file = write(tmp_path, "bad.toml", text)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(file)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{file}:{line}: " if line else f"{file}: ")
    assert caught.value.line == line
    assert fragment in message
    assert isinstance(caught.value, ValueError)


def test_variables_take_the_values_textual_css_accepts(tmp_path: Path) -> None:
    text = GOOD + (
        "[variables]\n"
        'text-muted = "auto 70%"\n'
        'footer-background = "rgb(10, 20, 30) 50%"\n'
        'link-background = "transparent"\n'
        'block-cursor-text-style = "bold not underline"\n'
    )
    theme = load_theme_file(write(tmp_path, "vars.toml", text))
    assert theme.variables["text-muted"] == "auto 70%"
    assert theme.variables["block-cursor-text-style"] == "bold not underline"


def test_several_problems_name_the_first_and_count_the_rest(tmp_path: Path) -> None:
    text = 'name = "x"\n[colors]\nprimary = "nope"\nerror = "nada"\n[states]\nlost = "#fff"\n'
    with pytest.raises(ThemeError) as caught:
        load_theme_file(write(tmp_path, "bad.toml", text))
    assert caught.value.key == "colors.primary" and caught.value.line == 3
    assert str(caught.value).endswith("(and 2 more problems)")


def test_load_themes_skips_broken_files_and_loads_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "themes"
    write(folder, "a-good.toml", GOOD)
    write(folder, "b-syntax.toml", 'name = "b"\n[colors\n')
    write(folder, "c-unknown.toml", GOOD + 'tint = "#fff"\n')
    write(folder, "d-colour.toml", 'name = "d"\n[colors]\nprimary = "blurple"\n')
    write(folder, "e-same-name.toml", GOOD)
    write(folder, "notes.txt", "not a theme")
    themes, errors = load_themes(folder)
    assert [theme.name for theme in themes] == ["tiny"]
    assert len(errors) == 4
    for error, name in zip(
        errors, ["b-syntax", "c-unknown", "d-colour", "e-same-name"], strict=True
    ):
        assert "\n" not in error and f"{name}.toml" in error
    assert "colors.tint" in errors[1] and "blurple" in errors[2] and "already used" in errors[3]


def test_a_missing_folder_has_no_themes_and_no_errors(tmp_path: Path) -> None:
    assert load_themes(tmp_path / "nowhere") == ([], [])


def test_user_themes_override_bundled_ones_by_name(config_home: Path) -> None:
    write(
        user_theme_folder(), "mine.toml", 'name = "formicary-dark"\n[colors]\nprimary = "#abcdef"\n'
    )
    themes, errors = load_all_themes()
    assert errors == []
    by_name = {theme.name: theme for theme in themes}
    assert by_name["formicary-dark"].primary == "#abcdef"
    assert {"formicary-light", "high-contrast", "colorblind-safe"} <= set(by_name)
    assert user_theme_folder() == config_home / "formicary" / "themes"


def test_formicary_themes_names_the_bundled_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "elsewhere"
    write(folder, "tiny.toml", GOOD)
    monkeypatch.setenv(THEMES_ENV, str(folder))
    themes, _ = load_all_themes()
    assert [theme.name for theme in themes] == ["tiny"]


# -- settings ------------------------------------------------------------------------------


def test_settings_live_under_xdg_config_home_and_round_trip(config_home: Path) -> None:
    assert settings_path() == config_home / "formicary" / "settings.toml"
    assert load_settings() == ({}, None)
    save_settings({"theme": "high-contrast", "other": {"kept": True}})
    assert load_settings() == ({"theme": "high-contrast", "other": {"kept": True}}, None)
    assert [p.name for p in settings_path().parent.iterdir()] == ["settings.toml"]


def test_a_relative_xdg_config_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert settings_path() == Path.home() / ".config" / "formicary" / "settings.toml"


def test_a_broken_settings_file_gives_defaults_and_a_warning() -> None:
    write(settings_path().parent, "settings.toml", "theme = \n")
    settings, warning = load_settings()
    assert settings == {}
    assert warning is not None and str(settings_path()) in warning and "\n" not in warning


# -- the dashboard -------------------------------------------------------------------------


async def test_the_app_registers_the_themes_and_keeps_textuals(workspace: Path) -> None:
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        names = set(app.available_themes)
        assert {"formicary-dark", "formicary-light", "high-contrast", "colorblind-safe"} <= names
        assert {"textual-dark", "textual-light", "nord"} <= names
        assert warnings_of(app) == []
        assert not settings_path().exists(), "starting the app saves nothing"


async def test_the_app_starts_with_a_broken_theme_file_and_warns(workspace: Path) -> None:
    write(user_theme_folder(), "broken.toml", 'name = "broken"\n[colors]\nprimary = "#nothex"\n')
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
        await until(pilot, lambda: any("broken.toml" in w for w in warnings_of(app)))
        (warning,) = [w for w in warnings_of(app) if "broken.toml" in w]
        assert "broken.toml:3: colors.primary" in warning
        assert "broken" not in app.available_themes
        assert "colorblind-safe" in app.available_themes


async def test_switching_theme_recolours_the_states_and_the_queue(workspace: Path) -> None:
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
        main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        main.query_one(ProjectTree).select_workflow("tiny", "main")
        queue = main.query_one(TaskQueue)
        await until(pilot, lambda: queue.row_count == 2)

        def cell_color() -> object:
            return queue.get_cell("first", "state").style.color

        for name in ("formicary-dark", "colorblind-safe"):
            app.theme = name
            expected = load_theme_file(THEMES / f"{name}.toml").variables
            failed, pending = expected["state-failed"], expected["state-pending"]
            await until(pilot, lambda: app.theme_variables["state-failed"] == failed)  # noqa: B023
            await until(pilot, lambda: cell_color() == Color.parse(pending).rich_color)  # noqa: B023
        assert app.theme_variables["state-failed"] == "#D55E00"


async def test_the_chosen_theme_survives_a_restart(workspace: Path) -> None:
    first = FormicaryApp(workspace)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first.theme = "colorblind-safe"
        await pilot.pause()
    assert load_settings() == ({"theme": "colorblind-safe"}, None)

    second = FormicaryApp(workspace)
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert second.theme == "colorblind-safe"
        assert second.theme_variables["state-completed"] == "#56B4E9"
        await pilot.press("t")  # the next theme, saved as well
        await pilot.pause()
        assert second.theme != "colorblind-safe"
        assert load_settings()[0]["theme"] == second.theme


async def test_a_saved_theme_that_is_gone_warns_and_keeps_the_default(workspace: Path) -> None:
    save_settings({"theme": "vanished"})
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        (warning,) = warnings_of(app)
        assert "'vanished' is not available" in warning


async def test_a_corrupt_settings_file_does_not_stop_the_app_nor_get_overwritten(
    workspace: Path,
) -> None:
    corrupt = 'theme = "formicary-light\nkeymap = [\n'
    write(settings_path().parent, "settings.toml", corrupt)
    app = FormicaryApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(isinstance(s, MainScreen) for s in app.screen_stack))
        (warning,) = warnings_of(app)
        assert "settings.toml" in warning and "not valid TOML" in warning
        app.theme = "high-contrast"
        await pilot.pause()
        assert app.theme == "high-contrast"
    assert settings_path().read_text(encoding="utf-8") == corrupt


def test_tests_never_touch_the_real_config(config_home: Path) -> None:
    assert os.environ["XDG_CONFIG_HOME"] == str(config_home)
    assert str(settings_path()).startswith(str(config_home))
