"""``formicary docs PROJECT``: write a project's README.md and AGENTS.md from its definition."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.definitions import display_path
from engine.docs import DOC_FILES, DocumentationGenerator


def run(args: argparse.Namespace) -> int:
    """Generate (or with --stdout print) the project's documents; print what was written."""
    generator = DocumentationGenerator(Path(args.workspace or "."))
    if args.stdout:
        documents = generator.render(args.project)
        for name, text in documents.items():
            if len(documents) > 1:
                print(f"==> {name} <==")
            sys.stdout.write(text)
        return 0
    spec = generator.project(args.project)
    written = generator.generate(spec, force=args.force)
    folder = spec.root.resolve()
    for name in DOC_FILES:
        path = (folder / name).resolve()
        print(f"{'wrote' if path in written else 'unchanged'} {display_path(path)}")
    return 0
