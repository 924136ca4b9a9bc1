"""Themes as data: TOML theme files converted to Textual's :class:`~textual.theme.Theme`, the
folders they are loaded from, and the user's saved settings (the chosen theme).

A theme file::

    name = "formicary-dark"         # letters, digits, "-" and "_"; how the theme is chosen
    dark = true                     # optional (default true)
    luminosity_spread = 0.15        # optional, as in Textual
    text_alpha = 0.95               # optional, as in Textual

    [colors]                        # Textual's theme colours; only primary is required
    primary = "#61afef"
    background = "#1e2127"

    [states]                        # one colour per task state; missing ones use the defaults
    running = "#61afef"
    failed = "#e06c75"

    [variables]                     # optional: Textual's other theme variables (checked:
    block-cursor-background = "#3e4451"  # a colour where Textual has a colour, else a style)

Each state colour becomes the theme variable ``state-<state>`` that every pane styles its
states with, so a theme recolours the whole dashboard. A bad file raises :class:`ThemeError`
naming the file, the line and the key; :func:`load_themes` skips such a file and reports it as
one line, so a broken theme never stops the app.

Themes are looked up in the bundled folder (``$FORMICARY_THEMES`` if set, else ``tui/_themes``
in an installed wheel, else the repository's top-level ``themes/``) and then in the user's
folder, ``$XDG_CONFIG_HOME/formicary/themes`` (default ``~/.config/formicary/themes``), whose
themes replace bundled ones of the same name. Settings live in
``$XDG_CONFIG_HOME/formicary/settings.toml``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from formicary.model.definitions import display_path
from formicary.model.records import TaskStatus
from formicary.model.toml_lines import KeyPath, key_lines, line_of
from formicary.tui.glyphs import STATE_COLORS, state_variable
from textual.app import App
from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.design import ColorSystem
from textual.theme import Theme

log = logging.getLogger(__name__)

THEMES_ENV = "FORMICARY_THEMES"
"""Environment variable naming the bundled themes folder (several joined by ``os.pathsep``)."""

COLOR_FIELDS: tuple[str, ...] = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
"""The keys of a theme file's ``[colors]`` table: the colour fields of Textual's Theme."""

TOP_LEVEL_KEYS: tuple[str, ...] = (
    "name",
    "dark",
    "luminosity_spread",
    "text_alpha",
    "colors",
    "states",
    "variables",
)
"""Every key a theme file may have at its top level."""

STATE_NAMES: tuple[str, ...] = tuple(state.value for state in TaskStatus)
"""The keys of a theme file's ``[states]`` table."""

_THEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_SYNTAX_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")
_CSS_COLOR = re.compile(r"(?P<color>.*?)(?:\s+\d+(?:\.\d+)?%)?")


class ThemeError(ValueError):
    """A theme file cannot be used; ``str(error)`` is the one line a user sees.

    Attributes:
        file: The file as shown to the user (relative to the current folder where possible).
        line: 1-based line of the problem, or 0 when it is not known.
        key: Dotted key path of the problem (``colors.primary``), or "" for the whole file.
        reason: What is wrong.
    """

    def __init__(self, file: str, reason: str, *, line: int = 0, key: str = "") -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


# -- theme files ---------------------------------------------------------------------------


def load_theme_file(path: Path) -> Theme:
    """Read one theme file and convert it to a Textual theme.

    Args:
        path: The ``.toml`` file.

    Returns:
        The theme, with every task state's colour in ``variables["state-<state>"]``.

    Raises:
        ThemeError: The file cannot be read, is not valid TOML, or its contents are invalid
            (the first problem in the file is named; the message counts the others).
    """
    shown = display_path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as error:
        raise ThemeError(shown, f"cannot read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ThemeError(shown, "not valid UTF-8 text", line=line) from error
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _SYNTAX_POSITION.search(message)
        line = int(found.group(1)) if found and found.group(1) else 0
        reason = _SYNTAX_POSITION.sub("", message)
        raise ThemeError(shown, f"TOML syntax error: {reason}", line=line) from error
    checker = _Checker()
    theme = checker.theme(document)
    if checker.problems or theme is None:
        lines = key_lines(text)
        located = sorted(
            (line_of(lines, key), index, key, reason)
            for index, (key, reason) in enumerate(checker.problems)
        )
        line, _, key, reason = located[0]
        if len(located) > 1:
            more = len(located) - 1
            reason += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ThemeError(shown, reason, line=line, key=".".join(key))
    return theme


def theme_from_document(document: Mapping[str, Any], source: str = "<theme>") -> Theme:
    """Convert an already-parsed theme document (the TOML format, as a dict) to a Theme.

    Args:
        document: The theme as :func:`tomllib.loads` returns it.
        source: How to name the document in an error.

    Returns:
        The theme.

    Raises:
        ThemeError: The document is invalid (no line numbers: there is no text).
    """
    checker = _Checker()
    theme = checker.theme(document)
    if checker.problems or theme is None:
        key, reason = checker.problems[0]
        raise ThemeError(source, reason, key=".".join(key))
    return theme


class _Checker:
    """Validates a theme document, collecting every problem as (key path, reason)."""

    def __init__(self) -> None:
        self.problems: list[tuple[KeyPath, str]] = []

    def problem(self, key: KeyPath, reason: str) -> None:
        self.problems.append((key, reason))

    def theme(self, document: Mapping[str, Any]) -> Theme | None:
        self.unknown_keys((), document, TOP_LEVEL_KEYS)
        name = document.get("name")
        if name is None:
            self.problem(("name",), "missing: every theme needs a name")
        elif not isinstance(name, str) or not _THEME_NAME.match(name):
            self.problem(("name",), f"{name!r} is not a theme name (letters, digits, - and _)")
        dark = document.get("dark", True)
        if not isinstance(dark, bool):
            self.problem(("dark",), f"{dark!r} is not true or false")
        numbers = {key: self.fraction(document, key) for key in ("luminosity_spread", "text_alpha")}
        colors = self.color_table(document, "colors", COLOR_FIELDS)
        if "primary" not in colors and ("colors", "primary") not in dict(self.problems):
            self.problem(("colors", "primary"), "missing: every theme needs a primary colour")
        states = self.color_table(document, "states", STATE_NAMES, opaque=True)
        variables = self.variables(document)
        if self.problems:
            return None
        assert isinstance(name, str)
        state_colors = {
            state.value: Color.parse(color).hex for state, color in STATE_COLORS.items()
        }
        state_colors.update(states)
        variables.update({state_variable(state): color for state, color in state_colors.items()})
        extra = {key: value for key, value in numbers.items() if value is not None}
        theme = Theme(
            name=name,
            dark=dark,
            variables=variables,
            **colors,  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )
        try:
            theme.to_color_system().generate()
        except Exception as error:  # Textual's own colour maths: report, never crash the app
            self.problem(_culprit(theme), f"Textual cannot use it: {error}")
            return None
        return theme

    def table(self, document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = document.get(key, {})
        if not isinstance(value, Mapping):
            self.problem((key,), f"must be a table ([{key}]), not {type(value).__name__}")
            return {}
        return value

    def unknown_keys(
        self, where: KeyPath, table: Mapping[str, Any], known: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                hint = f'did you mean "{near[0]}"?' if near else f"expected {', '.join(known)}"
                self.problem((*where, key), f"unknown key ({hint})")

    def fraction(self, document: Mapping[str, Any], key: str) -> float | None:
        value = document.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.problem((key,), f"{value!r} is not a number from 0 to 1")
            return None
        return float(value)

    def color_table(
        self, document: Mapping[str, Any], key: str, known: tuple[str, ...], *, opaque: bool = False
    ) -> dict[str, str]:
        table = self.table(document, key)
        self.unknown_keys((key,), table, known)
        colors: dict[str, str] = {}
        for name, value in table.items():
            if name not in known:
                continue
            color = self.color((key, name), value, opaque=opaque)
            if color is not None:
                colors[name] = color
        return colors

    def color(self, key: KeyPath, value: Any, *, opaque: bool) -> str | None:
        if not isinstance(value, str):
            self.problem(key, f'{value!r} is not a colour (a string such as "#61afef")')
            return None
        try:
            color = Color.parse(value)
        except ColorParseError:
            self.problem(key, f"{value!r} is not a colour (#rrggbb, rgb(), hsl() or a name)")
            return None
        if opaque:
            # State colours are also used as Rich styles, which know neither alpha nor ANSI names.
            if color.ansi is not None or color.a < 1:
                self.problem(key, f"{value!r}: a state colour must be an opaque RGB colour")
                return None
            return color.hex
        return value

    def variables(self, document: Mapping[str, Any]) -> dict[str, str]:
        """The ``[variables]`` table: Textual's own theme variables, each checked against the
        kind of value Textual gives it (a colour or a text style), since a bad one would only
        fail later, when the stylesheet is rebuilt with it."""
        table = self.table(document, "variables")
        known = textual_variables()
        variables: dict[str, str] = {}
        for name, value in table.items():
            key = ("variables", name)
            if name.startswith("state-"):
                self.problem(key, f'set state colours in [states] ({name[6:]} = "#rrggbb")')
            elif name not in known:
                near = difflib.get_close_matches(name, list(known), n=1)
                hint = f' (did you mean "{near[0]}"?)' if near else ""
                self.problem(key, f"not a Textual theme variable{hint}")
            elif not isinstance(value, str):
                self.problem(key, f"{value!r} is not a string")
            elif _is_text_style(known[name]):
                if not _is_text_style(value):
                    flags = ", ".join(sorted(VALID_STYLE_FLAGS))
                    self.problem(key, f"{value!r} is not a text style ({flags})")
                else:
                    variables[name] = value
            elif not _is_css_color(value, known[name]):
                self.problem(key, f"{value!r} is not a colour (#rrggbb, a name, with an alpha %)")
            else:
                variables[name] = value
        return variables


def _culprit(theme: Theme) -> KeyPath:
    """The variable that keeps Textual from building ``theme``'s colours, else ``colors``."""
    for name, value in theme.variables.items():
        alone = Theme(name=theme.name, primary=theme.primary, variables={name: value})
        try:
            alone.to_color_system().generate()
        except Exception:
            return ("variables", name)
    return ("colors",)


@functools.cache
def textual_variables() -> dict[str, str]:
    """Every variable Textual's colour system defines, with an example value of its kind."""
    return ColorSystem(primary="#000000").generate()


def _is_text_style(value: str) -> bool:
    return bool(value.split()) and all(flag in VALID_STYLE_FLAGS for flag in value.split())


def _is_css_color(value: str, example: str) -> bool:
    """``#rrggbb``, ``rgb(...)`` or a name, optionally followed by an alpha ``NN%``; ``auto``
    and ``initial`` only for the variables whose Textual value (``example``) uses them."""
    match = _CSS_COLOR.fullmatch(value.strip())
    color = match.group("color") if match else ""
    if color in ("auto", "initial"):
        return example.split()[0] == color
    try:
        Color.parse(color)
    except ColorParseError:
        return False
    return True


def load_themes(folder: Path) -> tuple[list[Theme], list[str]]:
    """Load every ``*.toml`` theme file in ``folder``, skipping the broken ones.

    Never raises: a missing folder has no themes, and each file that cannot be used (or
    reuses a name an earlier file in the folder took) is reported as one line.

    Args:
        folder: The folder to read.

    Returns:
        The themes (in file name order) and one error line per skipped file.
    """
    themes: dict[str, Theme] = {}
    sources: dict[str, Path] = {}
    errors: list[str] = []
    try:
        files = sorted(path for path in folder.glob("*.toml") if path.is_file())
    except OSError as error:
        return [], [f"{display_path(folder)}: cannot read: {error.strerror or error}"]
    for path in files:
        try:
            theme = load_theme_file(path)
        except ThemeError as error:
            log.warning("%s", error)
            errors.append(str(error))
            continue
        if theme.name in themes:
            first = display_path(sources[theme.name])
            errors.append(f"{display_path(path)}: name: {theme.name!r} is already used by {first}")
            continue
        themes[theme.name] = theme
        sources[theme.name] = path
    return list(themes.values()), errors


# -- where themes and settings live --------------------------------------------------------


def config_dir() -> Path:
    """formicary's configuration folder: ``$XDG_CONFIG_HOME/formicary``.

    ``XDG_CONFIG_HOME`` counts only when it is an absolute path (as the XDG specification
    says); otherwise it is ``~/.config``.
    """
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "formicary"


def bundled_theme_folders() -> list[Path]:
    """The folders of the themes formicary ships.

    ``$FORMICARY_THEMES`` if set; else ``tui/_themes`` (where a wheel puts them); else the
    repository's top-level ``themes/`` next to ``tui/`` (a source checkout, recognised by its
    ``pyproject.toml``, so an unrelated ``site-packages/themes`` is never read).
    """
    named = os.environ.get(THEMES_ENV)
    if named:
        return [Path(part).expanduser() for part in named.split(os.pathsep) if part]
    package = Path(__file__).resolve().parent
    installed = package / "_themes"
    if installed.is_dir():
        return [installed]
    root = package.parent
    if (root / "pyproject.toml").is_file():
        return [root / "themes"]
    return []


def user_theme_folder() -> Path:
    """The user's own themes: ``$XDG_CONFIG_HOME/formicary/themes``."""
    return config_dir() / "themes"


def theme_folders() -> list[Path]:
    """Every folder themes are loaded from, later folders overriding same-named themes."""
    return [*bundled_theme_folders(), user_theme_folder()]


def load_all_themes() -> tuple[list[Theme], list[str]]:
    """Load the bundled themes and then the user's, which replace bundled ones by name.

    Returns:
        The themes and one error line per theme file that was skipped; never raises.
    """
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in theme_folders():
        found, problems = load_themes(folder)
        themes.update((theme.name, theme) for theme in found)
        errors.extend(problems)
    return list(themes.values()), errors


# -- settings ------------------------------------------------------------------------------


def settings_path() -> Path:
    """The settings file: ``$XDG_CONFIG_HOME/formicary/settings.toml``."""
    return config_dir() / "settings.toml"


def load_settings() -> tuple[dict[str, Any], str | None]:
    """Read the settings file; never raises.

    Returns:
        The settings (``{}`` when the file is missing or broken) and, when it is broken or
        unreadable, a one-line warning naming it (else None).
    """
    settings, problem = _read_settings()
    return settings or {}, problem


def _read_settings() -> tuple[dict[str, Any] | None, str | None]:
    """The settings and a warning; settings None when the file exists but cannot be used."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as error:
        return None, f"{path}: cannot read the settings ({error}); using defaults"
    try:
        settings = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, (
            f"{path}: not valid TOML ({error}); using defaults, and the theme is not saved "
            "until the file is fixed or removed"
        )
    theme = settings.get("theme")
    if theme is not None and not isinstance(theme, str):
        del settings["theme"]
        return settings, f"{path}: theme: {theme!r} is not a theme name; ignored"
    return settings, None


def save_settings(settings: Mapping[str, Any]) -> None:
    """Write the settings file atomically (a temporary file beside it, then ``os.replace``).

    Args:
        settings: Everything to store (TOML-serialisable values).

    Raises:
        OSError: The folder or the file cannot be written.
    """
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tomli_w.dumps(dict(settings)).encode("utf-8")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".settings.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# -- the app's side ------------------------------------------------------------------------


def install_themes(app: App[Any]) -> list[str]:
    """Register every theme file's theme with ``app`` and switch to the saved theme.

    Textual's built-in themes stay available. Without a saved theme (or when it is no longer
    available) the app keeps its current theme.

    Args:
        app: The app, before or after it is mounted.

    Returns:
        Warnings to show the user: skipped theme files, a broken settings file, a saved theme
        that is gone. Never raises.
    """
    themes, warnings = load_all_themes()
    for theme in themes:
        app.register_theme(theme)
    settings, problem = load_settings()
    if problem is not None:
        warnings.append(problem)
    saved = settings.get("theme")
    if saved is not None:
        if saved in app.available_themes:
            app.theme = saved
        else:
            warnings.append(
                f"{settings_path()}: theme {saved!r} is not available; using {app.theme}"
            )
    return warnings


def remember_settings(values: Mapping[str, Any]) -> str | None:
    """Store ``values`` in the settings file, keeping its other settings; None, or a
    one-line warning when they could not be saved (a broken file is left alone)."""
    settings, problem = _read_settings()
    if settings is None:
        return problem
    try:
        save_settings({**settings, **values})
    except (OSError, TypeError, ValueError) as error:
        return f"{settings_path()}: cannot save the settings: {error}"
    return None


def remember_theme(name: str) -> str | None:
    """Store ``name`` as the chosen theme in the settings file, keeping its other settings.

    A settings file that cannot be read as TOML is left alone (the user is told at start),
    rather than replaced by one holding only the theme.

    Args:
        name: The theme's name.

    Returns:
        None, or a one-line warning when the settings could not be written.
    """
    settings, problem = _read_settings()
    if settings is None:
        log.warning("theme %r not saved: %s", name, problem)
        return None
    if settings.get("theme") == name:
        return None
    try:
        save_settings({**settings, "theme": name})
    except (OSError, TypeError, ValueError) as error:
        return f"{settings_path()}: cannot save the theme: {error}"
    return None
