"""Deploy the smoke-tested zip: copy it into the target folder and write manifest.json.

Refuses when the zip no longer matches its .sha256 file or the smoke test's record (the
artifact changed after it was tested).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--target", type=Path, default=Path("out/deployed"))
    parser.add_argument("--smoke-result", type=Path, default=Path("out/smoke/result.json"))
    args = parser.parse_args(argv)

    if not args.artifact.is_file():
        print(f"error: {args.artifact} does not exist (did `build` run?)", file=sys.stderr)
        return 1
    digest = sha256_of(args.artifact)
    print(f"artifact {args.artifact} sha256 {digest}")

    sidecar = args.artifact.with_name(args.artifact.name + ".sha256")
    if not sidecar.is_file() or sidecar.read_text(encoding="utf-8").split()[0] != digest:
        print(f"error: {args.artifact} does not match {sidecar}; rebuild it", file=sys.stderr)
        return 1
    print(f"  matches {sidecar.name}")
    if not args.smoke_result.is_file():
        print(
            f"error: {args.smoke_result} is missing; the smoke test has not passed", file=sys.stderr
        )
        return 1
    smoke = json.loads(args.smoke_result.read_text(encoding="utf-8"))
    if not smoke.get("passed") or smoke.get("sha256") != digest:
        print("error: this artifact is not the one that passed the smoke test", file=sys.stderr)
        return 1
    print(f"  passed the smoke test at {smoke.get('checked_at')}")

    args.target.mkdir(parents=True, exist_ok=True)
    dest = args.target / args.artifact.name
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(args.artifact, tmp)
    if sha256_of(tmp) != digest:
        tmp.unlink()
        print("error: the copy does not match the artifact", file=sys.stderr)
        return 1
    os.replace(tmp, dest)
    manifest = {
        "app": "web-app",
        "version": smoke.get("version"),
        "artifact": dest.name,
        "sha256": digest,
        "size_bytes": dest.stat().st_size,
        "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (args.target / "manifest.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    print(f"deployed {dest} ({manifest['size_bytes']} bytes)")
    print(f"manifest written to {args.target / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
