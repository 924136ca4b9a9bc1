"""The ``formicary`` command line: one module per command, one place that maps errors to exit
codes (0 success, 1 a run failed, 2 bad input) and prints them as one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from engine.errors import DefinitionError, FormicaryError
from tui.cli.commands import register_for

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: with the subcommand ``argv`` names (and those registered beside
    it), or every subcommand when it names none."""
    parser = argparse.ArgumentParser(
        prog="formicary",
        description="Run and watch workflows of shell commands and Python callables.",
    )
    parser.add_argument(
        "-w",
        "--workspace",
        metavar="DIR",
        help="the workspace folder (default: the current folder)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_for(subparsers, _command_in(sys.argv[1:] if argv is None else argv))
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The first word of ``argv`` that is not a global option or its value."""
    words = iter(argv)
    for word in words:
        if word in ("-w", "--workspace"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        module, _, function = args.handler.partition(":")
        handler = getattr(importlib.import_module(module), function)
        # Only where something may log: `status`, polled by scripts, loads no logging.
        if args.verbose or "logging" in sys.modules:
            import logging

            logging.basicConfig(
                level=logging.INFO if args.verbose else logging.WARNING,
                format="%(levelname)s %(name)s: %(message)s",
            )
        code: int = handler(args)
    except DefinitionError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return EXIT_USAGE
    except FormicaryError as error:
        print(f"formicary: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s code.

    A reader that stops early (``formicary status 1 --json | head``) ends the command
    quietly, as it would end ``cat``: no traceback, exit 141 like a shell's SIGPIPE.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would flush stdout again at exit and fail the same way: point it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
