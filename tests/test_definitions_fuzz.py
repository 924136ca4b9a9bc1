"""Property test: whatever a user does to a valid file, loading only ever reports issues."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from formicary.errors import DefinitionIssue
from formicary.model.definitions import load_project_file
from formicary.model.specs import ProjectSpec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_definitions import VALID

try:
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib

BASE: dict[str, Any] = tomllib.loads(VALID)
BASE["workflows"]["nightly"]["tasks"]["aggregate"] = {
    "run": "echo {day}",
    "depends_on": ["extract", "report"],
    "resources": {"db": 1},
}
FOLDER = Path(tempfile.mkdtemp(prefix="formicary-fuzz-"))

VALUES = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def key_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    if isinstance(node, dict):
        for key, value in node.items():
            paths.append((*prefix, key))
            paths.extend(key_paths(value, (*prefix, key)))
    return paths


def parent_of(document: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = key_paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["drop", "retype", "unknown", "cycle", "dangling"]))
        parent = parent_of(document, path)
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        if action == "drop":
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = draw(VALUES)
        elif action == "unknown":
            parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
        else:
            tasks: Any = document
            for key in ("workflows", "nightly", "tasks"):
                tasks = tasks.get(key) if isinstance(tasks, dict) else None
            if isinstance(tasks, dict) and len(tasks) >= 2:
                names = list(tasks)
                first, second = draw(st.permutations(names))[:2]
                if isinstance(tasks[first], dict) and isinstance(tasks[second], dict):
                    if action == "cycle":
                        tasks[first]["depends_on"] = [second]
                        tasks[second]["depends_on"] = [first]
                    else:
                        tasks[first]["depends_on"] = [draw(st.text(max_size=6))]
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):
        text = tomli_w.dumps(BASE)
    if draw(st.booleans()):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        garbage = draw(st.sampled_from(["[", '"', "=", "\n", "]]", "{", "'''", "\x00", "é"]))
        cut = draw(st.integers(min_value=0, max_value=20))
        text = text[:position] + garbage + text[position + cut :]
    return text


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_text())
def test_loading_a_mutated_file_only_ever_returns_definition_issues(text: str) -> None:
    file = FOLDER / "formicary.toml"
    file.write_text(text, encoding="utf-8")
    spec, issues = load_project_file(file)
    if spec is None:
        assert issues, "a rejected file must say why"
        for issue in issues:
            assert isinstance(issue, DefinitionIssue)
            assert issue.message and issue.line >= 0
            assert str(issue).startswith(str(issue.file))
    else:
        assert isinstance(spec, ProjectSpec) and issues == []
