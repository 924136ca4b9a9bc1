"""Build the app into a reproducible, runnable zip: out/dist/app-<version>.zip.

The zip holds the app package and a top-level __main__.py, so `python3 app-<version>.zip` runs
the server. Entries get a fixed timestamp, so the same sources always give the same sha256,
which is written next to the zip as app-<version>.zip.sha256.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import sys
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
APP_DIR = PROJECT_DIR / "app"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
MAIN_STUB = (
    '"""Entry point of the built app."""\n\nfrom app.server import main\n\n'
    "raise SystemExit(main())\n"
)


def source_version() -> str:
    """The __version__ string assigned in app/__init__.py."""
    tree = ast.parse((APP_DIR / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit("error: app/__init__.py does not set __version__")


def add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", required=True, help="must match app/__init__.py")
    parser.add_argument("--out-dir", type=Path, default=Path("out/dist"))
    args = parser.parse_args(argv)

    version = source_version()
    if version != args.version:
        print(
            f"error: asked to build {args.version} but app/__init__.py says {version}; "
            "bump __version__ or pass the matching version param",
            file=sys.stderr,
        )
        return 1
    sources = sorted(p for p in APP_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / f"app-{version}.zip"
    tmp = target.with_name(target.name + ".tmp")
    print(f"building {target} from {len(sources)} source files")
    with zipfile.ZipFile(tmp, "w") as zf:
        for src in sources:
            name = src.relative_to(PROJECT_DIR).as_posix()
            add(zf, name, src.read_bytes())
            print(f"  + {name} ({src.stat().st_size} bytes)")
        add(zf, "__main__.py", MAIN_STUB.encode())
        print("  + __main__.py (entry point)")
    with zipfile.ZipFile(tmp) as zf:
        broken = zf.testzip()
    if broken is not None:
        print(f"error: {broken} is corrupt in the built zip", file=sys.stderr)
        return 1
    os.replace(tmp, target)
    digest = sha256_of(target)
    (target.with_name(target.name + ".sha256")).write_text(
        f"{digest}  {target.name}\n", encoding="utf-8"
    )
    print(f"built {target} ({target.stat().st_size} bytes)")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
