"""``formicary dash [WORKSPACE]``: the dashboard."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits."""
    folder = Path(args.path or args.workspace or ".")
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    from tui.app import FormicaryApp

    return FormicaryApp(folder).run() or 0
