"""``formicary new NAME --template TYPE``: write a runnable project from a template."""

from __future__ import annotations

import argparse
from pathlib import Path

from formicary.model.definitions import display_path
from formicary.model.scaffold import create_project, parse_project_type


def run(args: argparse.Namespace) -> int:
    """Create the project and say how to run it."""
    kind = parse_project_type(args.template)
    workspace = Path(args.workspace or ".")
    folder = create_project(workspace, args.name, kind, args.description)
    print(f"created {display_path(folder)} ({kind.value})")
    print(f"run it:  formicary -w {display_path(workspace)} run {args.name}")
    return 0
