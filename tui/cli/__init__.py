"""The ``formicary`` command line: builds the parser from the declared commands
(:data:`~formicary.cli.commands.COMMANDS`), runs the one named, and is the one place that
maps errors to exit codes (0 success, 1 a run failed, 2 bad input) and prints them as one
line. Each command's own work lives in its module (``run``, ``sessions``, ``control``...)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

from formicary.cli.commands import COMMANDS as COMMANDS
from formicary.cli.commands import COMMANDS_BY_NAME, EXIT_BROKEN_PIPE, Command
from formicary.cli.commands import EXIT_FAILED as EXIT_FAILED
from formicary.cli.commands import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from formicary.cli.commands import EXIT_OK as EXIT_OK
from formicary.cli.commands import EXIT_USAGE as EXIT_USAGE
from formicary.errors import DefinitionError, FormicaryError

READ_ONLY_COMMANDS = frozenset(command.name for command in COMMANDS if command.read_only)
"""Commands that only read the store and print: they leave nothing to clean up, so they end
without the interpreter's teardown (freeing every module and object one by one costs a
scripted ``status --json`` poll of a large session about a tenth of its time)."""


@functools.cache
def _help_width() -> int:
    """The width help is wrapped to, found as argparse finds it (``shutil``'s rules: a
    positive ``$COLUMNS``, else the terminal's, else 80), measured once."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns) - 2
    try:
        measured = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        measured = 0
    return (measured or 80) - 2


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter with the terminal measured once per process: argparse makes a
    formatter for every argument it adds, and each imported shutil and asked the terminal
    (a tenth of what a ``status --json`` poll costs)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _help_width())


class _ArgumentParser(argparse.ArgumentParser):
    """An argument parser (and, as the class subparsers are made of, every subcommand's)
    using :class:`_HelpFormatter` unless told otherwise."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class _VersionAction(argparse.Action):
    """``--version``: print ``formicary X.Y.Z`` and exit 0. The version is looked up only
    when asked for (``importlib.metadata`` would cost every ``status --json`` poll)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", 0)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"formicary {package_version()}")
        parser.exit(EXIT_OK)


def package_version() -> str:
    """formicary's version: the installed package's, else the ``pyproject.toml`` of the
    checkout it runs from, else ``unknown``."""
    from importlib import metadata

    try:
        return metadata.version("formicary")
    except metadata.PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "unknown"
    version = project.get("version") if project.get("name") == "formicary" else None
    return version if isinstance(version, str) and version else "unknown"


def build_parser(
    commands: Sequence[Command] = COMMANDS, *, exit_on_error: bool = True
) -> argparse.ArgumentParser:
    """The argument parser, with ``commands`` (every declared one unless told) as its
    subcommands, in their order.

    With ``exit_on_error=False`` a word that names none of ``commands`` raises
    :class:`argparse.ArgumentError` instead of ending the process (see
    :func:`parse_arguments`).
    """
    parser = _ArgumentParser(
        prog="formicary",
        description="Run and watch workflows of shell commands and Python callables.",
        exit_on_error=exit_on_error,
    )
    parser.add_argument(
        "-w",
        "--workspace",
        metavar="DIR",
        help="the workspace folder (default: the current folder)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    parser.add_argument(
        "--version", action=_VersionAction, help="print formicary's version and exit"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        command.add_to(subparsers)
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default: the process's arguments) as every declared command would.

    Building every subcommand's parser costs more than a ``status --json`` poll's own
    work, so the parser is first built with only the command ``argv`` seems to name. That guess
    changes the cost, never the outcome: when the word was not the command after all (the
    value of ``-vw DIR``, a workspace named like a command), the parser refuses the real
    command word, and parsing starts again with every command, which answers (or refuses)
    as it always does.
    """
    words = sys.argv[1:] if argv is None else list(argv)
    named = COMMANDS_BY_NAME.get(_command_in(words) or "")
    if named is not None:
        try:
            return build_parser((named,), exit_on_error=False).parse_args(words)
        except argparse.ArgumentError:
            pass  # not the command after all: parse again with every command
    return build_parser().parse_args(words)


def _command_in(argv: Sequence[str]) -> str | None:
    """The first word of ``argv`` that is not a global option or its value; None when an
    option before it may ask for help (which lists every command)."""
    words = iter(argv)
    for word in words:
        if _may_ask_for_help(word):
            return None
        if word in ("-w", "--workspace"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _may_ask_for_help(word: str) -> bool:
    """Whether ``word`` may be ``-h``/``--help`` as argparse reads it: a short-option
    cluster with an ``h`` in it (``-vh``), or a prefix of ``--help`` (``--he``)."""
    if word.startswith("--"):
        name = word.partition("=")[0]
        return len(name) > 2 and "--help".startswith(name)
    return word.startswith("-") and "h" in word[1:]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    return _run(argv)[0]


def _run(argv: Sequence[str] | None) -> tuple[int, str]:
    """Parse ``argv`` and run its command; the exit code and the command that ran."""
    args = parse_arguments(argv)
    return _handle(args), str(args.command)


def _handle(args: argparse.Namespace) -> int:
    """Run the parsed command, turning formicary's errors into their exit codes."""
    problem = workspace_problem(getattr(args, "workspace", None))
    if problem is not None:
        print(f"formicary: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        handler = COMMANDS_BY_NAME[args.command].resolve()
        # Only where something may log: `status`, polled by scripts, loads no logging.
        if args.verbose or "logging" in sys.modules:
            import logging

            logging.basicConfig(
                level=logging.INFO if args.verbose else logging.WARNING,
                format="%(levelname)s %(name)s: %(message)s",
            )
        code = handler(args)
    except DefinitionError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_USAGE
    except FormicaryError as error:
        print(f"formicary: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def workspace_problem(workspace: str | None) -> str | None:
    """What is wrong with ``-w/--workspace DIR`` (for every command, checked before it
    runs), or None when it names a folder or is not given."""
    if workspace is None or os.path.isdir(workspace):
        return None
    what = "not a folder" if os.path.lexists(workspace) else "no such folder"
    return f"-w/--workspace {workspace or repr(workspace)}: {what}"


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s code.

    A reader that stops early (``formicary status 1 --json | head``) ends the command
    quietly, as it would end ``cat``: no traceback, exit 141 like a shell's SIGPIPE.
    """
    command = ""
    try:
        code, command = _run(None)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would flush stdout again at exit and fail the same way: point it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    if command in READ_ONLY_COMMANDS:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
