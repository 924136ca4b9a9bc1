"""Byte-compile every .py file under the given folders; fail on any syntax error."""

import py_compile
import sys
import tempfile
from pathlib import Path

files = sorted(path for folder in sys.argv[1:] or ["."] for path in Path(folder).rglob("*.py"))
if not files:
    sys.exit(f"lint: error: no .py files under {' '.join(sys.argv[1:])}")
errors = []
with tempfile.TemporaryDirectory() as scratch:
    for path in files:
        try:
            py_compile.compile(str(path), cfile=f"{scratch}/x.pyc", doraise=True)
            print(f"lint: ok {path}")
        except py_compile.PyCompileError as error:
            errors.append(error.msg)
            print(f"lint: FAILED {error.msg}", file=sys.stderr)
if errors:
    sys.exit(f"lint: error: {len(errors)} of {len(files)} files do not compile")
print(f"lint: {len(files)} files compile cleanly")
