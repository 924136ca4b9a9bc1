"""Zip the app/ sources into out/dist/app-VERSION.zip (same bytes on every run)."""

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--version", required=True)
target = Path("out/dist") / f"app-{parser.parse_args().version}.zip"
sources = sorted(Path("app").rglob("*.py"))
if not sources:
    sys.exit("package: error: no sources under app/")
target.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
    for path in sources:
        info = zipfile.ZipInfo(path.as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
        print(f"package: added {path}")
digest = hashlib.sha256(target.read_bytes()).hexdigest()
print(f"package: wrote {target} ({len(sources)} files, sha256 {digest[:16]}...)")
