"""Describe what the hello task wrote in out/summary.txt."""

import sys
from pathlib import Path

source = Path("out/hello.txt")
if not source.is_file():
    sys.exit(f"summary: error: {source} not found; run the hello task first")
text = source.read_text().strip()
line = f"hello said {text!r}: {len(text.split())} words, {len(text)} characters"
Path("out/summary.txt").write_text(line + "\n")
print(f"summary: {line}")
