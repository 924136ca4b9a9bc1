"""Project templates for ``formicary new NAME --template TYPE``: one small runnable project each.

Every template is a :class:`~engine.model.ProjectTemplate`: the definition as data (without
``project.name``, which the writer fills in before dumping it with tomli-w) and the text of
its files. Each project needs nothing but ``python3`` (standard library) and ``sh``; its tasks
run from the project folder, write under ``out/`` (git-ignored) and can be run again and again.
"""

from __future__ import annotations

import copy
import textwrap
from typing import Any

from engine.model import ProjectTemplate, ProjectType

GITIGNORE = "out/\n__pycache__/\n"
DEFAULTS: dict[str, Any] = {"timeout": 60, "env": {"PYTHONUNBUFFERED": "1"}}


def _src(text: str) -> str:
    """A file's text from an indented literal."""
    return textwrap.dedent(text).lstrip("\n")


def _doc(script: str) -> str:
    """The first line of a script's docstring, as a task description."""
    return script.split('"""')[1].strip().splitlines()[0].rstrip(".")


def _task(run: str, description: str, *after: str, **extra: Any) -> dict[str, Any]:
    """One task table: its description, shell command, dependencies and any other settings."""
    table: dict[str, Any] = {"description": description, "run": run}
    if after:
        table["depends_on"] = list(after)
    return table | extra


def _template(
    kind: ProjectType,
    name: str,
    description: str,
    workflow: dict[str, Any],
    files: dict[str, str],
) -> ProjectTemplate:
    """A template with one workflow (``workflow`` holds its ``name``), defaults and .gitignore."""
    body = dict(workflow)
    definition = {
        "project": {"description": description, "type": kind.value, "version": "0.1.0"},
        "defaults": copy.deepcopy(DEFAULTS),
        "workflows": {body.pop("name"): body},
    }
    files = {".gitignore": GITIGNORE, **files}
    return ProjectTemplate(name, kind, description, definition, files)


# -- data_pipeline ---------------------------------------------------------------------------

_EXTRACT = _src('''
    """Write seeded sales rows to out/raw.csv."""
    import argparse
    import csv
    import random
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, not {args.rows}")
    rng = random.Random(args.seed)
    out = Path("out/raw.csv")
    out.parent.mkdir(exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["day", "region", "product", "units", "unit_price"])
        for _ in range(args.rows):
            writer.writerow([f"2026-01-{rng.randint(1, 28):02d}",
                             rng.choice(["north", "south", "east", "west"]),
                             rng.choice(["widget", "gadget", "gizmo", "sprocket"]),
                             rng.randint(1, 20), f"{rng.uniform(2, 50):.2f}"])
    print(f"extract: wrote {args.rows} rows to {out} (seed {args.seed})")
''')

_TRANSFORM = _src('''
    """Aggregate orders, units and revenue per region into out/summary.json."""
    import csv
    import json
    import sys
    from collections import Counter
    from pathlib import Path

    source = Path("out/raw.csv")
    if not source.is_file():
        sys.exit(f"transform: error: {source} not found; run the extract task first")
    regions, products = {}, {}
    with source.open(newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                units, price = int(row["units"]), float(row["unit_price"])
            except (KeyError, TypeError, ValueError):
                sys.exit(f"transform: error: {source}:{line}: bad row {row}")
            total = regions.setdefault(row["region"], {"orders": 0, "units": 0, "revenue": 0})
            total["orders"] += 1
            total["units"] += units
            total["revenue"] += units * price
            products.setdefault(row["region"], Counter())[row["product"]] += units
    if not regions:
        sys.exit(f"transform: error: {source} has no rows")
    for region, total in sorted(regions.items()):
        total["revenue"] = round(total["revenue"], 2)
        total["top_product"] = products[region].most_common(1)[0][0]
        print(f"transform: {region}: {total['orders']} orders, {total['revenue']:.2f} revenue")
    Path("out/summary.json").write_text(json.dumps(regions, indent=2, sort_keys=True) + "\\n")
    print("transform: wrote out/summary.json")
''')

_REPORT = _src('''
    """Render out/summary.json as a markdown table in out/report.md."""
    import argparse
    import json
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--title", default="Sales report")
    title = parser.parse_args().title
    source = Path("out/summary.json")
    if not source.is_file():
        sys.exit(f"report: error: {source} not found; run the transform task first")
    summary = json.loads(source.read_text())
    lines = [f"# {title}", "", "| Region | Orders | Units | Revenue | Top product |",
             "|---|---:|---:|---:|---|"]
    for region, t in summary.items():
        lines.append(f"| {region} | {t['orders']} | {t['units']} | {t['revenue']:.2f} "
                     f"| {t['top_product']} |")
    total = sum(t["revenue"] for t in summary.values())
    Path("out/report.md").write_text("\\n".join([*lines, "", f"Total revenue: {total:.2f}", ""]))
    print(f"report: wrote out/report.md ({len(summary)} regions, revenue {total:.2f})")
''')

DATA_PIPELINE = _template(
    ProjectType.DATA_PIPELINE,
    "Data pipeline",
    "Extract seeded sales rows, aggregate them per region and report in markdown",
    {
        "name": "nightly",
        "description": "extract -> transform -> report",
        "params": {"rows": 500, "seed": 7, "title": "Nightly sales report"},
        "tasks": {
            "extract": _task(
                "python3 scripts/extract.py --rows {rows} --seed {seed}", _doc(_EXTRACT)
            ),
            "transform": _task("python3 scripts/transform.py", _doc(_TRANSFORM), "extract"),
            "report": _task(
                "python3 scripts/report.py --title {title}", _doc(_REPORT), "transform"
            ),
        },
    },
    {
        "scripts/extract.py": _EXTRACT,
        "scripts/transform.py": _TRANSFORM,
        "scripts/report.py": _REPORT,
    },
)

# -- web_application -------------------------------------------------------------------------

_LOGIC = _src('''
    """Pure functions behind the web application, easy to unit test."""
    import re


    def slugify(title: str) -> str:
        """Lowercase words joined by dashes: "Hello, World!" -> "hello-world"."""
        return "-".join(re.findall(r"[a-z0-9]+", title.lower()))


    def paginate(items: list, page: int, per_page: int = 10) -> list:
        """The items of 1-based page ``page``; an empty list past the end."""
        if page < 1 or per_page < 1:
            raise ValueError("page and per_page must be at least 1")
        return items[(page - 1) * per_page : page * per_page]
''')

_WEB = _src('''
    """A WSGI front for app.logic: GET /slug?title=... answers JSON. Run: python3 -m app.web"""
    import json
    from urllib.parse import parse_qs
    from wsgiref.simple_server import make_server

    from app.logic import slugify


    def application(environ, start_response):
        if environ.get("PATH_INFO") != "/slug":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not found"}']
        title = parse_qs(environ.get("QUERY_STRING", "")).get("title", [""])[0]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"title": title, "slug": slugify(title)}).encode()]


    if __name__ == "__main__":
        print("serving on http://127.0.0.1:8000/slug?title=Hello+World")
        make_server("127.0.0.1", 8000, application).serve_forever()
''')

_TESTS = _src('''
    """Unit tests of app.logic and app.web (no server needed)."""
    import json
    import unittest
    from wsgiref.util import setup_testing_defaults

    from app.logic import paginate, slugify
    from app.web import application


    class LogicTest(unittest.TestCase):
        def test_slugify(self):
            self.assertEqual(slugify("Hello, World!"), "hello-world")
            self.assertEqual(slugify("  "), "")

        def test_paginate(self):
            self.assertEqual(paginate(list(range(25)), 3), [20, 21, 22, 23, 24])
            self.assertEqual(paginate(list(range(25)), 4), [])
            self.assertRaises(ValueError, paginate, [], 0)


    class WebTest(unittest.TestCase):
        def call(self, path, query=""):
            environ, statuses = {"PATH_INFO": path, "QUERY_STRING": query}, []
            setup_testing_defaults(environ)
            body = b"".join(application(environ, lambda status, _: statuses.append(status)))
            return statuses[0], json.loads(body)

        def test_slug(self):
            status, body = self.call("/slug", "title=Big+News")
            self.assertEqual((status, body["slug"]), ("200 OK", "big-news"))

        def test_unknown_path(self):
            self.assertEqual(self.call("/nope")[0], "404 Not Found")
''')

_LINT = _src('''
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
''')

_PACKAGE = _src('''
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
''')

WEB_APPLICATION = _template(
    ProjectType.WEB_APPLICATION,
    "Web application",
    "A tiny WSGI app with its CI: lint, unit tests and a versioned zip package",
    {
        "name": "ci",
        "description": "lint -> test -> package",
        "params": {"version": "0.1.0"},
        "tasks": {
            "lint": _task("python3 scripts/lint.py app tests scripts", _doc(_LINT)),
            "test": _task(
                "python3 -m unittest discover -s tests -t . -v",
                "Run the unit tests of app/logic.py and app/web.py",
                "lint",
            ),
            "package": _task(
                "python3 scripts/package.py --version {version}", _doc(_PACKAGE), "test"
            ),
        },
    },
    {
        "app/__init__.py": '"""The web app: logic.py holds the rules, web.py serves them."""\n',
        "app/logic.py": _LOGIC,
        "app/web.py": _WEB,
        "tests/__init__.py": '"""Run with: python3 -m unittest discover -s tests -t ."""\n',
        "tests/test_app.py": _TESTS,
        "scripts/lint.py": _LINT,
        "scripts/package.py": _PACKAGE,
    },
)

# -- ai_analysis -----------------------------------------------------------------------------

_INVENTORY = _src('''
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
            files.append({"path": path.as_posix(), "bytes": len(data), "lines": data.count(b"\\n")})
            print(f"inventory: {path} ({files[-1]['lines']} lines)")
    if not files:
        sys.exit(f"inventory: error: no files under {root}")
    Path("out").mkdir(exist_ok=True)
    Path("out/inventory.json").write_text(json.dumps(files, indent=2) + "\\n")
    print(f"inventory: wrote out/inventory.json ({len(files)} files)")
''')

_COMPLEXITY = _src('''
    """Score every function of a folder with ast (branches, length) into out/functions.json."""
    import ast
    import json
    import sys
    from pathlib import Path

    BRANCHES = (ast.If, ast.For, ast.While, ast.IfExp, ast.ExceptHandler, ast.With,
                ast.Assert, ast.comprehension)


    def complexity(node: ast.AST) -> int:
        """McCabe-style score: 1 + branches + extra operands of and/or."""
        score = 1
        for child in ast.walk(node):
            if isinstance(child, BRANCHES):
                score += 1
            elif isinstance(child, ast.BoolOp):
                score += len(child.values) - 1
        return score


    def functions(path: Path) -> list:
        """Every function of one file with its size, score and whether it is documented."""
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except SyntaxError as error:
            sys.exit(f"complexity: error: {path}:{error.lineno}: {error.msg}")
        return [{"file": path.as_posix(), "function": node.name, "line": node.lineno,
                 "length": node.end_lineno - node.lineno + 1, "complexity": complexity(node),
                 "documented": ast.get_docstring(node) is not None}
                for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


    def main() -> None:
        root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
        found = []
        for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
            found += functions(path)
            print(f"complexity: scanned {path} ({len(found)} functions so far)")
        if not found:
            sys.exit(f"complexity: error: no Python functions under {root}")
        Path("out").mkdir(exist_ok=True)
        Path("out/functions.json").write_text(json.dumps(found, indent=2) + "\\n")
        print(f"complexity: wrote out/functions.json ({len(found)} functions)")


    if __name__ == "__main__":
        main()
''')

_ANALYSIS_REPORT = _src('''
    """Write out/report.md from the inventory and the scores, flagging complex functions."""
    import argparse
    import json
    import sys
    from pathlib import Path


    def load(name: str) -> list:
        """One earlier task's JSON output, or a clear error when it is missing."""
        path = Path("out") / name
        if not path.is_file():
            sys.exit(f"report: error: {path} not found; run inventory and complexity first")
        return json.loads(path.read_text())


    def main() -> None:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--max-complexity", type=int, default=5)
        limit = parser.parse_args().max_complexity
        files, funcs = load("inventory.json"), load("functions.json")
        funcs.sort(key=lambda f: (-f["complexity"], f["file"], f["line"]))
        lines = ["# Code analysis", "", f"{len(files)} files, {sum(f['lines'] for f in files)}"
                 f" lines, {len(funcs)} functions.", "",
                 "| Function | Where | Lines | Complexity | Docstring |", "|---|---|---:|---:|---|"]
        for f in funcs:
            flag = " (!)" if f["complexity"] > limit else ""
            lines.append(f"| `{f['function']}` | {f['file']}:{f['line']} | {f['length']} "
                         f"| {f['complexity']}{flag} | {'yes' if f['documented'] else 'no'} |")
        over = [f["function"] for f in funcs if f["complexity"] > limit]
        lines += ["", f"Above complexity {limit}: {', '.join(over) or 'none'}.", ""]
        Path("out/report.md").write_text("\\n".join(lines))
        print(f"report: wrote out/report.md; above complexity {limit}: {len(over)} of {len(funcs)}")


    if __name__ == "__main__":
        main()
''')

AI_ANALYSIS = _template(
    ProjectType.AI_ANALYSIS,
    "Code analysis",
    "Inventory a source folder, score its functions with ast and report the hot spots",
    {
        "name": "analyze",
        "description": "inventory + complexity (in parallel) -> report",
        "params": {"target": "scripts", "max_complexity": 5},
        "tasks": {
            "inventory": _task("python3 scripts/inventory.py {target}", _doc(_INVENTORY)),
            "complexity": _task("python3 scripts/complexity.py {target}", _doc(_COMPLEXITY)),
            "report": _task(
                "python3 scripts/report.py --max-complexity {max_complexity}",
                _doc(_ANALYSIS_REPORT),
                "inventory",
                "complexity",
            ),
        },
    },
    {
        "scripts/inventory.py": _INVENTORY,
        "scripts/complexity.py": _COMPLEXITY,
        "scripts/report.py": _ANALYSIS_REPORT,
    },
)

# -- machine_learning ------------------------------------------------------------------------

_MAKE_DATA = _src('''
    """Write seeded two-feature points with a noisy label to out/data/ (train, test)."""
    import argparse
    import csv
    import random
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.samples < 10:
        parser.error(f"--samples must be at least 10, not {args.samples}")
    rng, rows = random.Random(args.seed), []
    for _ in range(args.samples):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        rows.append((round(x1, 4), round(x2, 4), int(2 * x1 - x2 + rng.gauss(0, 0.3) > 0.8)))
    cut = int(len(rows) * 0.8)
    Path("out/data").mkdir(parents=True, exist_ok=True)
    for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
        with open(f"out/data/{name}.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([("x1", "x2", "label"), *part])
        print(f"make_data: wrote out/data/{name}.csv ({len(part)} rows)")
''')

_TRAIN = _src('''
    """Train logistic regression by plain SGD at one learning rate; score it on the test set."""
    import argparse
    import csv
    import json
    import math
    import random
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    data = {}


    def predict(w, x1, x2):
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, w[0] + w[1] * x1 + w[2] * x2))))


    def accuracy(w, rows):
        return sum((predict(w, x1, x2) > 0.5) == bool(y) for x1, x2, y in rows) / len(rows)


    for part in ("train", "test"):
        path = Path(f"out/data/{part}.csv")
        if not path.is_file():
            sys.exit(f"train: error: {path} not found; run the make_data task first")
        with path.open(newline="") as handle:
            data[part] = [(float(r["x1"]), float(r["x2"]), int(r["label"]))
                          for r in csv.DictReader(handle)]
    rng, w, lr = random.Random(0), [0.0, 0.0, 0.0], args.lr
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(data["train"])
        for x1, x2, y in data["train"]:
            err = predict(w, x1, x2) - y
            w = [w[0] - lr * err, w[1] - lr * err * x1, w[2] - lr * err * x2]
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f"train[{args.name}]: epoch {epoch}: accuracy {accuracy(w, data['train']):.3f}")
    result = {"name": args.name, "lr": lr, "epochs": args.epochs, "weights": w,
              "train_accuracy": accuracy(w, data["train"]),
              "test_accuracy": accuracy(w, data["test"])}
    Path("out/trials").mkdir(exist_ok=True)
    Path(f"out/trials/{args.name}.json").write_text(json.dumps(result, indent=2) + "\\n")
    print(f"train[{args.name}]: test accuracy {result['test_accuracy']:.3f}")
''')

_PICK = _src('''
    """Rank the trials by test accuracy and write the best to out/best.json."""
    import json
    import sys
    from pathlib import Path

    if len(sys.argv) < 2:
        sys.exit("pick_best: error: name at least one trial")
    trials = []
    for name in sys.argv[1:]:
        path = Path(f"out/trials/{name}.json")
        if not path.is_file():
            sys.exit(f"pick_best: error: {path} not found; did trial {name} run?")
        trials.append(json.loads(path.read_text()))
    trials.sort(key=lambda t: (-t["test_accuracy"], t["lr"]))
    for rank, t in enumerate(trials, start=1):
        print(f"pick_best: {rank}. {t['name']} (lr {t['lr']}): {t['test_accuracy']:.3f}")
    Path("out/best.json").write_text(json.dumps(trials[0], indent=2) + "\\n")
    print(f"pick_best: wrote out/best.json (best: {trials[0]['name']})")
''')

_RATES = {"lr_0001": 0.001, "lr_001": 0.01, "lr_01": 0.1, "lr_1": 1.0}

MACHINE_LEARNING = _template(
    ProjectType.MACHINE_LEARNING,
    "Machine learning sweep",
    "Make a dataset, train four logistic-regression trials in parallel and pick the best",
    {
        "name": "sweep",
        "description": "make_data -> four trials (one cpu each) -> pick_best",
        "max_parallel": 4,
        "params": {"samples": 400, "seed": 11, "epochs": 20},
        "tasks": {
            "make_data": _task(
                "python3 scripts/make_data.py --samples {samples} --seed {seed}", _doc(_MAKE_DATA)
            ),
            **{
                f"trial_{name}": _task(
                    f"python3 scripts/train.py --name {name} --lr {rate} --epochs {{epochs}}",
                    f"Train at learning rate {rate} into out/trials/{name}.json",
                    "make_data",
                    resources={"cpu": 1},
                )
                for name, rate in _RATES.items()
            },
            "pick_best": _task(
                "python3 scripts/pick_best.py " + " ".join(_RATES),
                _doc(_PICK),
                *(f"trial_{name}" for name in _RATES),
            ),
        },
    },
    {"scripts/make_data.py": _MAKE_DATA, "scripts/train.py": _TRAIN, "scripts/pick_best.py": _PICK},
)

# -- automation ------------------------------------------------------------------------------

_SNAPSHOT = _src('''
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
''')

_VERIFY = _src('''
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
    Path("out/verify.json").write_text(json.dumps(result, indent=2) + "\\n")
    print(f"verify: {latest} is intact ({len(manifest)} files)")
''')

_PRUNE = _src('''
    """Delete the oldest snapshots, keeping the newest --keep of them."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=int, required=True)
    keep = parser.parse_args().keep
    if keep < 1:
        parser.error(f"--keep must be at least 1, not {keep}")
    snapshots = sorted(Path("out/snapshots").glob("snapshot-*.zip"))
    for path in snapshots[:-keep]:
        path.unlink()
        print(f"prune: deleted {path}")
    print(f"prune: kept {len(snapshots[-keep:])}, deleted {len(snapshots[:-keep])} snapshots")
''')

AUTOMATION = _template(
    ProjectType.AUTOMATION,
    "Backup automation",
    "Snapshot a folder into a zip with a sha256 manifest, verify it and prune old snapshots",
    {
        "name": "backup",
        "description": "snapshot -> verify -> prune",
        "params": {"source": "data", "keep": 3},
        "tasks": {
            "snapshot": _task("python3 scripts/snapshot.py --source {source}", _doc(_SNAPSHOT)),
            "verify": _task("python3 scripts/verify.py", _doc(_VERIFY), "snapshot"),
            "prune": _task("python3 scripts/prune.py --keep {keep}", _doc(_PRUNE), "verify"),
        },
    },
    {
        "data/notes.md": "# Notes\n\nEverything in data/ is backed up by the backup workflow.\n",
        "data/settings.ini": "[backup]\nkeep = 3\ncompression = deflate\n",
        "scripts/snapshot.py": _SNAPSHOT,
        "scripts/verify.py": _VERIFY,
        "scripts/prune.py": _PRUNE,
    },
)

# -- research --------------------------------------------------------------------------------

_SIMULATE = _src('''
    """Estimate pi by Monte Carlo for one seed; write out/runs/seed-N.json."""
    import argparse
    import json
    import random
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--samples", type=int, required=True)
    args = parser.parse_args()
    if args.samples < 1:
        parser.error(f"--samples must be at least 1, not {args.samples}")
    rng = random.Random(args.seed)
    inside = sum(rng.random() ** 2 + rng.random() ** 2 <= 1.0 for _ in range(args.samples))
    result = {"seed": args.seed, "samples": args.samples, "estimate": 4 * inside / args.samples}
    Path("out/runs").mkdir(parents=True, exist_ok=True)
    Path(f"out/runs/seed-{args.seed}.json").write_text(json.dumps(result, indent=2) + "\\n")
    print(f"simulate: seed {args.seed}: pi ~ {result['estimate']:.5f} ({args.samples} samples)")
''')

_SUMMARIZE = _src('''
    """Mean, stddev and error of the runs vs math.pi into out/summary.json and .md."""
    import json
    import math
    import statistics
    import sys
    from pathlib import Path

    if len(sys.argv) < 3:
        sys.exit("summarize: error: name at least two seeds")
    estimates = []
    for seed in sys.argv[1:]:
        path = Path(f"out/runs/seed-{seed}.json")
        if not path.is_file():
            sys.exit(f"summarize: error: {path} not found; did run_{seed} run?")
        estimates.append(json.loads(path.read_text())["estimate"])
    mean, stdev = statistics.fmean(estimates), statistics.stdev(estimates)
    error = abs(mean - math.pi)
    summary = {"runs": len(estimates), "mean": mean, "stdev": stdev, "error": error}
    Path("out/summary.json").write_text(json.dumps(summary, indent=2) + "\\n")
    Path("out/summary.md").write_text(f"# Monte Carlo estimate of pi\\n\\n{len(estimates)} runs: "
                                      f"mean {mean:.5f}, stddev {stdev:.5f}, error {error:.5f}\\n")
    print(f"summarize: mean {mean:.5f} +/- {stdev:.5f} (error {error:.5f}); wrote out/summary.*")
''')

_SEEDS = (1, 2, 3)

RESEARCH = _template(
    ProjectType.RESEARCH,
    "Research experiment",
    "Repeat a Monte Carlo estimate of pi over three seeds and summarize mean and spread",
    {
        "name": "experiment",
        "description": "three seeded runs (in parallel) -> summarize",
        "params": {"samples": 20000},
        "tasks": {
            **{
                f"run_{seed}": _task(
                    f"python3 scripts/simulate.py --seed {seed} --samples {{samples}}",
                    f"Estimate pi with seed {seed} into out/runs/seed-{seed}.json",
                )
                for seed in _SEEDS
            },
            "summarize": _task(
                "python3 scripts/summarize.py " + " ".join(map(str, _SEEDS)),
                _doc(_SUMMARIZE),
                *(f"run_{seed}" for seed in _SEEDS),
            ),
        },
    },
    {"scripts/simulate.py": _SIMULATE, "scripts/summarize.py": _SUMMARIZE},
)

# -- custom ----------------------------------------------------------------------------------

_SUMMARY = _src('''
    """Describe what the hello task wrote in out/summary.txt."""
    import sys
    from pathlib import Path

    source = Path("out/hello.txt")
    if not source.is_file():
        sys.exit(f"summary: error: {source} not found; run the hello task first")
    text = source.read_text().strip()
    line = f"hello said {text!r}: {len(text.split())} words, {len(text)} characters"
    Path("out/summary.txt").write_text(line + "\\n")
    print(f"summary: {line}")
''')

_README = _src("""
    # A custom formicary project

    `formicary.toml` declares one workflow, `main`, with two tasks:

    - `hello` is a plain shell command; `{name}` is replaced by the `name` parameter,
      shell-quoted, so `--param name="big world"` stays one argument.
    - `summary` lists `hello` in `depends_on`, so it runs only after `hello` succeeds.

    Add tasks as `[workflows.main.tasks.NAME]` tables with `description`, `run` and
    `depends_on`. Write outputs under `out/`, which git ignores.
""")

CUSTOM = _template(
    ProjectType.CUSTOM,
    "Custom",
    "A minimal two-step workflow showing params and depends_on, ready to extend",
    {
        "name": "main",
        "description": "hello -> summary",
        "params": {"name": "world"},
        "tasks": {
            "hello": _task(
                "mkdir -p out && printf 'Hello, %s!\\n' {name} | tee out/hello.txt",
                "Greet the name parameter into out/hello.txt (a plain shell command)",
            ),
            "summary": _task("python3 scripts/summary.py", _doc(_SUMMARY), "hello"),
        },
    },
    {"README.md": _README, "scripts/summary.py": _SUMMARY},
)

TEMPLATES: dict[ProjectType, ProjectTemplate] = {
    template.type: template
    for template in (
        DATA_PIPELINE,
        WEB_APPLICATION,
        AI_ANALYSIS,
        MACHINE_LEARNING,
        AUTOMATION,
        RESEARCH,
        CUSTOM,
    )
}
