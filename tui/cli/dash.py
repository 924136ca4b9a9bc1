"""``formicary dash [WORKSPACE]``: the dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from formicary.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits."""
    folder = Path(args.path or args.workspace or ".")
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    from formicary.tui.app import FormicaryApp
    from formicary.tui.crash import EXIT_CRASHED

    app = FormicaryApp(folder)
    app.run()
    if app.crash_log is not None:
        print(
            f"formicary: error: the dashboard crashed; the traceback is in {app.crash_log}",
            file=sys.stderr,
        )
        return EXIT_CRASHED
    return app.return_code or 0
