"""``formicary docs PROJECT``: write a project's README.md and AGENTS.md from its definition."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from formicary.docs.generator import DOC_FILES, DocumentationGenerator
from formicary.model.workspace_files import display_link


def run(args: argparse.Namespace) -> int:
    """Generate (or with --stdout print) the project's documents; print what was written,
    and which hand-written files --force moved aside first."""
    generator = DocumentationGenerator(Path(args.workspace or "."))
    if args.stdout:
        documents = generator.render(args.project)
        for name, text in documents.items():
            if len(documents) > 1:
                print(f"==> {name} <==")
            sys.stdout.write(text)
        return 0
    spec = generator.project(args.project)
    result = generator.write(spec, force=args.force)
    folder = spec.root.resolve()
    for name in DOC_FILES:
        path = folder / name
        backup = result.moved.get(path)
        if backup is not None:
            print(
                f"moved {display_link(path)} aside to {display_link(backup)} "
                "(it had no generated-by marker)"
            )
        print(f"{'wrote' if path in result.written else 'unchanged'} {display_link(path)}")
    return 0
