"""``formicary mcp [WORKSPACE]``: serve the MCP tools over stdio."""

from __future__ import annotations

import argparse
from pathlib import Path

from formicary.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Serve until the client disconnects (0) or a signal N ends the server (128+N)."""
    workspace = Path(args.path or args.workspace or ".")
    if not workspace.is_dir():
        raise UsageError(f"{workspace}: workspace folder does not exist")
    try:
        from formicary.mcp.server import serve
    except ImportError as error:
        raise UsageError(
            f"formicary mcp needs the MCP SDK ({error.name} is missing): "
            "pip install 'formicary[mcp]'"
        ) from None
    return serve(workspace)
