"""``formicary dash [WORKSPACE]``: the dashboard."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import UsageError


def register(subparsers: Any) -> None:
    """Add the ``dash`` subcommand."""
    parser = subparsers.add_parser(
        "dash",
        help="open the dashboard",
        description="Open the dashboard on WORKSPACE (default: -w or the current folder).",
    )
    parser.add_argument("path", nargs="?", metavar="WORKSPACE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits."""
    folder = Path(args.path or args.workspace or ".")
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    from tui.app import FormicaryApp

    return FormicaryApp(folder).run() or 0
