"""``formicary new NAME --template TYPE``: write a runnable project from a template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.definitions import display_path
from engine.model import ProjectType
from engine.scaffold import create_project, parse_project_type


def register(subparsers: Any) -> None:
    """Add the ``new`` subcommand."""
    types = ", ".join(kind.value for kind in ProjectType)
    parser = subparsers.add_parser(
        "new",
        help="create a project folder from a template",
        description=f"Write WORKSPACE/NAME/formicary.toml and its scripts. Templates: {types}.",
    )
    parser.add_argument("name", help="project name: [a-z0-9][a-z0-9_-]*")
    parser.add_argument(
        "-t", "--template", default="custom", metavar="TYPE", help=f"one of: {types}"
    )
    parser.add_argument("-d", "--description", help="the project's description")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Create the project and say how to run it."""
    kind = parse_project_type(args.template)
    workspace = Path(args.workspace or ".")
    folder = create_project(workspace, args.name, kind, args.description)
    print(f"created {display_path(folder)} ({kind.value})")
    print(f"run it:  formicary -w {display_path(workspace)} run {args.name}")
    return 0
