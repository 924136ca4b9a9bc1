"""List every function and method: where it is, how long, its arguments and decorators."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from common import FunctionNode, parsed_files, walk_functions, write_json


def arguments(node: FunctionNode) -> list[dict[str, object]]:
    """The parameters in order, with their kind and whether they are annotated."""
    a = node.args
    out: list[dict[str, object]] = []
    n_defaults_start = len(a.posonlyargs) + len(a.args) - len(a.defaults)
    for i, arg in enumerate([*a.posonlyargs, *a.args]):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional"
        out.append(
            {
                "name": arg.arg,
                "kind": kind,
                "default": i >= n_defaults_start,
                "annotated": arg.annotation is not None,
            }
        )
    if a.vararg:
        out.append(
            {
                "name": "*" + a.vararg.arg,
                "kind": "var_positional",
                "default": False,
                "annotated": a.vararg.annotation is not None,
            }
        )
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        out.append(
            {
                "name": arg.arg,
                "kind": "keyword_only",
                "default": default is not None,
                "annotated": arg.annotation is not None,
            }
        )
    if a.kwarg:
        out.append(
            {
                "name": "**" + a.kwarg.arg,
                "kind": "var_keyword",
                "default": False,
                "annotated": a.kwarg.annotation is not None,
            }
        )
    return out


def describe(qualname: str, node: FunctionNode, rel: str) -> dict[str, object]:
    args = arguments(node)
    own = [x for x in args if x["name"] not in ("self", "cls")]
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return {
        "name": qualname,
        "file": rel,
        "line": node.lineno,
        "end_line": node.end_lineno,
        "length": (node.end_lineno or node.lineno) - start + 1,
        "async": isinstance(node, ast.AsyncFunctionDef),
        "method": "." in qualname and "<locals>" not in qualname.rsplit(".", 1)[0],
        "args": args,
        "arg_count": len(own),
        "annotated": node.returns is not None and all(x["annotated"] for x in own),
        "docstring": ast.get_docstring(node) is not None,
        "decorators": [ast.unparse(d) for d in node.decorator_list],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", type=Path, default=Path("out/inventory.json"))
    parser.add_argument("--out", type=Path, default=Path("out/functions.json"))
    args = parser.parse_args(argv)

    functions = []
    for rel, _path, tree in parsed_files(args.inventory):
        found = [describe(q, n, rel) for q, n in walk_functions(tree)]
        functions += found
        print(f"  {rel:<32} {len(found):>3} functions")
    functions.sort(key=lambda f: (f["file"], f["line"]))
    write_json(args.out, {"functions": functions})
    if functions:
        longest = max(functions, key=lambda f: f["length"])
        widest = max(functions, key=lambda f: f["arg_count"])
        print(
            f"{len(functions)} functions; longest {longest['name']} "
            f"({longest['length']} lines); most arguments {widest['name']} "
            f"({widest['arg_count']})"
        )
        print(
            f"{sum(not f['docstring'] for f in functions)} without a docstring, "
            f"{sum(not f['annotated'] for f in functions)} not fully annotated"
        )
    else:
        print("no functions found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
