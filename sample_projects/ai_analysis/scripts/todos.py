"""Collect TODO / FIXME / XXX / HACK comments (real comments, found with tokenize)."""

from __future__ import annotations

import argparse
import io
import re
import sys
import tokenize
from collections import Counter
from pathlib import Path

from common import parsed_files, write_json

TAG = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b(?:\(([^)]*)\))?[:\s-]*(.*)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", type=Path, default=Path("out/inventory.json"))
    parser.add_argument("--out", type=Path, default=Path("out/todos.json"))
    args = parser.parse_args(argv)

    found = []
    for rel, path, _tree in parsed_files(args.inventory):
        text = path.read_text(encoding="utf-8")
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = TAG.search(tok.string)
            if match:
                tag, owner, message = match.groups()
                found.append(
                    {
                        "file": rel,
                        "line": tok.start[0],
                        "tag": tag,
                        "owner": owner or None,
                        "text": message.strip(),
                    }
                )
                print(f"  {rel}:{tok.start[0]}: {tag}: {message.strip()}")
    by_tag = Counter(item["tag"] for item in found)
    write_json(
        args.out, {"count": len(found), "by_tag": dict(sorted(by_tag.items())), "items": found}
    )
    summary = ", ".join(f"{n} {tag}" for tag, n in sorted(by_tag.items())) or "none"
    print(f"{len(found)} marker comments ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
