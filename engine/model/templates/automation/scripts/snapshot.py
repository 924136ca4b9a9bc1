"""Zip a folder into a numbered snapshot in out/snapshots/ with a sha256 manifest inside."""

import argparse
import hashlib
import json
import sys
import time
import zipfile
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--source", required=True)
source, dest = Path(parser.parse_args().source), Path("out/snapshots")
files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
if not files:
    sys.exit(f"snapshot: error: {source} is missing or has no files")
dest.mkdir(parents=True, exist_ok=True)
taken = [int(p.name[9:13]) for p in dest.glob("snapshot-[0-9][0-9][0-9][0-9]-*.zip")]
stamp = time.strftime("%Y%m%dT%H%M%S")
target = dest / f"snapshot-{max(taken, default=0) + 1:04d}-{stamp}.zip"
partial, manifest = target.with_suffix(".part"), {}
with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
    for path in files:
        name, data = path.relative_to(source).as_posix(), path.read_bytes()
        manifest[name] = hashlib.sha256(data).hexdigest()
        archive.writestr(name, data)
        print(f"snapshot: + {name} ({len(data)} bytes)")
    archive.writestr("MANIFEST.json", json.dumps(manifest, indent=2, sort_keys=True))
partial.replace(target)
print(f"snapshot: wrote {target} ({len(files)} files)")
