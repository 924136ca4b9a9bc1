"""List the files of a folder with their size and line count in out/inventory.json."""

import json
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
if not root.is_dir():
    sys.exit(f"inventory: error: {root} is not a folder")
files = []
for path in sorted(root.rglob("*")):
    if path.is_file() and "__pycache__" not in path.parts:
        data = path.read_bytes()
        files.append({"path": path.as_posix(), "bytes": len(data), "lines": data.count(b"\n")})
        print(f"inventory: {path} ({files[-1]['lines']} lines)")
if not files:
    sys.exit(f"inventory: error: no files under {root}")
Path("out").mkdir(exist_ok=True)
Path("out/inventory.json").write_text(json.dumps(files, indent=2) + "\n")
print(f"inventory: wrote out/inventory.json ({len(files)} files)")
