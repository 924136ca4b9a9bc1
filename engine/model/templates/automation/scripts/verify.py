"""Check the newest snapshot's CRCs and files against its manifest; write out/verify.json."""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

snapshots = sorted(Path("out/snapshots").glob("snapshot-*.zip"))
if not snapshots:
    sys.exit("verify: error: no snapshots in out/snapshots; run the snapshot task first")
latest = snapshots[-1]
with zipfile.ZipFile(latest) as archive:
    if archive.testzip() is not None:
        sys.exit(f"verify: error: {latest}: {archive.testzip()} fails its CRC check")
    manifest = json.loads(archive.read("MANIFEST.json"))
    if set(archive.namelist()) - {"MANIFEST.json"} != set(manifest):
        sys.exit(f"verify: error: {latest}: its files differ from its manifest")
    for name, digest in sorted(manifest.items()):
        if hashlib.sha256(archive.read(name)).hexdigest() != digest:
            sys.exit(f"verify: error: {latest}: {name} does not match its sha256")
        print(f"verify: ok {name}")
result = {"snapshot": latest.name, "files": len(manifest), "ok": True}
Path("out/verify.json").write_text(json.dumps(result, indent=2) + "\n")
print(f"verify: {latest} is intact ({len(manifest)} files)")
