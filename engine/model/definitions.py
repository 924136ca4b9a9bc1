"""Load a workspace of ``formicary.toml`` files into frozen specs, validating everything first.

A workspace is a folder; every ``formicary.toml`` in it or below it is one project. Loading
never raises for a bad file: each problem becomes a :class:`~formicary.errors.DefinitionIssue`
naming the file, the line and the key path, and all problems of a file are reported together.
Projects whose files are valid load even when others in the workspace are broken.

Finding the files (and refusing links that lead outside the workspace) lives in
:mod:`formicary.model.workspace_files`; its names stay importable from here. The numbers a file may
hold are bounded (:mod:`formicary.model.limits`), and so is its nesting: a file too deep to parse or
check is an issue of that file, never an error of the whole workspace.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formicary.errors import DefinitionError, DefinitionIssue
from formicary.model import host_env
from formicary.model.dag import Dag
from formicary.model.limits import (
    MAX_BACKOFF,
    MAX_NAME,
    MAX_NESTING,
    MAX_PARALLEL,
    MAX_POOL,
    MAX_RETRIES,
    MAX_SECONDS,
)
from formicary.model.params import placeholders
from formicary.model.records import ProjectType, TaskPriority
from formicary.model.shell_params import unsafe_placeholders
from formicary.model.specs import Defaults, ProjectSpec, TaskSpec, WorkflowSpec, default_pools
from formicary.model.toml_lines import KeyPath, key_lines, line_of, nesting_line
from formicary.model.workspace_files import DEFINITION_FILE as DEFINITION_FILE
from formicary.model.workspace_files import SKIPPED_DIRS as SKIPPED_DIRS
from formicary.model.workspace_files import Workspace as Workspace
from formicary.model.workspace_files import display_path as display_path
from formicary.model.workspace_files import find_definition_files as find_definition_files
from formicary.model.workspace_files import load_workspace as load_workspace
from formicary.model.workspace_files import outside_issue

if TYPE_CHECKING:  # tomli's API is tomllib's, so one name is checked against one module.
    import tomllib as toml_reader
else:
    try:  # tomli is the same parser as the standard library's tomllib, compiled: about 2x faster.
        import tomli as toml_reader
    except ImportError:  # pragma: no cover - tomli is a declared dependency
        import tomllib as toml_reader

PROJECT_NAME = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_NAME - 1}}}\Z")
"""A project's name (at most ``MAX_NAME`` characters: ``formicary new`` makes it a folder)."""
ITEM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
ITEM_NAME_RULE = (
    f"use at most {MAX_NAME} characters: ASCII letters, digits, '_', '-' and '.', "
    "starting with a letter, digit or '_'"
)
"""Workflow and task names (a task's is part of its log file's name, so it must be a name
every file system takes)."""
POOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
CALL_TARGET = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*\Z"
)
EXECUTORS = ("local", "dask")

TOP_KEYS = frozenset({"project", "resources", "defaults", "workflows"})
PROJECT_KEYS = frozenset({"name", "description", "type", "version"})
DEFAULT_KEYS = frozenset(
    {"retries", "retry_delay", "retry_backoff", "retry_max_delay", "timeout", "priority", "env"}
)
WORKFLOW_KEYS = frozenset({"description", "max_parallel", "params", "executor", "tasks"})
TASK_KEYS = DEFAULT_KEYS | {"run", "call", "args", "depends_on", "description", "resources"}

_PRIORITIES = {priority.value: priority for priority in TaskPriority}
_PROJECT_TYPES = {kind.value: kind for kind in ProjectType}


def load_project_file(
    file: Path, workspace: Path | None = None
) -> tuple[ProjectSpec | None, list[DefinitionIssue]]:
    """Load one definition file: the spec, or None and every problem found in it.

    A file whose real path lies outside ``workspace`` (a resolved folder; by default the
    file's own folder) is refused: a link must not bring in a definition from elsewhere.
    The file read is the one checked (its real path), not whatever the link names later.
    A file nested too deep to parse or check is an issue of its own, like a syntax error.
    """
    refused = outside_issue(file, workspace or file.parent.resolve())
    if refused is not None:
        return None, [refused]
    shown = display_path(file)
    try:
        raw = Path(os.path.realpath(file)).read_bytes()
        text = raw.decode("utf-8")
    except OSError as error:
        return None, [DefinitionIssue(shown, 0, "", f"cannot read: {error.strerror or error}")]
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [DefinitionIssue(shown, line, "", "not valid UTF-8 text")]
    try:
        document = toml_reader.loads(text)
    except toml_reader.TOMLDecodeError as error:
        return None, [_syntax_issue(shown, error)]
    except RecursionError:  # tomli refuses more than 400 inline levels, 1000 key parts
        return None, [_nesting_issue(shown, text)]
    except ValueError as error:  # Python reads no integer of more than 4300 digits
        found = re.search(r"[0-9_]{4000}", text)
        line = text.count("\n", 0, found.start()) + 1 if found else 0
        message = "an integer of more than 4300 digits" if found else str(error)
        return None, [DefinitionIssue(shown, line, "", f"TOML syntax error: {message}")]
    checker = _Checker(file.parent.resolve(), file)
    try:
        spec = checker.project(document)
        if not checker.problems:
            return spec, []
        lines = key_lines(text)
    except RecursionError:  # a safety net: no check walks a value recursively
        return None, [_nesting_issue(shown, text)]
    issues = [
        DefinitionIssue(shown, line_of(lines, path), _dotted(path), message)
        for path, message in checker.problems
    ]
    issues.sort(key=lambda issue: issue.line)
    return None, issues


def parse_project(document: Mapping[str, Any], file: Path) -> ProjectSpec:
    """Validate an already-parsed definition (for definitions built in code).

    Raises:
        DefinitionError: The definition is invalid.
    """
    checker = _Checker(file.parent.resolve(), file)
    try:
        spec = checker.project(document)
    except RecursionError:
        raise DefinitionError([_nesting_issue(display_path(file), "")]) from None
    if checker.problems or spec is None:
        shown = display_path(file)
        raise DefinitionError(
            DefinitionIssue(shown, 0, _dotted(path), message) for path, message in checker.problems
        )
    return spec


def _syntax_issue(shown: str, error: Exception) -> DefinitionIssue:
    line = getattr(error, "lineno", None)
    message = getattr(error, "msg", None) or str(error)
    if line is None:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        line = int(found.group(1)) if found else 0
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return DefinitionIssue(shown, line or 0, "", f"TOML syntax error: {message}")


def _nesting_issue(shown: str, text: str) -> DefinitionIssue:
    """The issue of a file nested too deep to parse or check, on the line it gets too deep."""
    message = f"nesting deeper than {MAX_NESTING} levels"
    return DefinitionIssue(shown, nesting_line(text, MAX_NESTING), "", message)


def _too_deep(value: Any, limit: int) -> bool:
    """True when ``value`` nests tables and arrays more than ``limit`` deep (without
    recursion: the point is to refuse what recursion could not walk)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _shown(value: Any) -> str:
    """``value`` for a message: scalars as written, containers by kind (their text may be
    huge or too deep to print), integers of more than 64 bits by size (Python refuses to
    print one of more than 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value) if isinstance(value, str | int | float | bool) else _type_name(value)


def issue_at(file: Path, path: KeyPath, message: str) -> DefinitionIssue:
    """An issue of ``file`` at the line of ``path`` (read from the file again)."""
    try:
        lines = key_lines(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = {}
    return DefinitionIssue(display_path(file), line_of(lines, path), _dotted(path), message)


def _dotted(path: KeyPath) -> str:
    return ".".join(part if ITEM_NAME.match(part) else f'"{part}"' for part in path)


def _valid_item_name(name: str) -> bool:
    """Whether ``name`` may name a workflow or a task (see :data:`ITEM_NAME_RULE`)."""
    return len(name) <= MAX_NAME and ITEM_NAME.match(name) is not None


def _quoted_name(name: str) -> str:
    """``name`` quoted for a message, a long one shortened to its start and its length."""
    if len(name) <= 60:
        return repr(name)
    return f"{name[:40]!r}… ({len(name)} characters)"


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


class _Checker:
    """Walks one parsed document, collecting ``(key path, message)`` problems."""

    def __init__(self, root: Path, file: Path) -> None:
        self.root = root
        self.file = file
        self.problems: list[tuple[KeyPath, str]] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.problems.append((path, message))

    # -- generic shape checks -------------------------------------------------------------

    def table(self, value: Any, path: KeyPath, allowed: frozenset[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.error(path, f"must be a table, not {_type_name(value)}")
            return {}
        if allowed is not None and not allowed.issuperset(value):
            for key in value:
                if key not in allowed:
                    hint = _did_you_mean(key, sorted(allowed))
                    self.error((*path, key), f"unknown key{hint}")
        return value

    def string(self, value: Any, path: KeyPath) -> str | None:
        if isinstance(value, str):
            return value
        self.error(path, f"must be a string, not {_type_name(value)}")
        return None

    def integer(self, value: Any, path: KeyPath, minimum: int, maximum: int) -> int | None:
        if type(value) is not int:
            self.error(path, f"must be an integer, not {_type_name(value)}")
            return None
        if value < minimum:
            self.error(path, f"must be at least {minimum}, not {_shown(value)}")
            return None
        if value > maximum:
            self.error(path, f"must be at most {maximum}, not {_shown(value)}")
            return None
        return value

    def number(self, value: Any, path: KeyPath, minimum: float, maximum: float) -> float | None:
        """A finite number in ``[minimum, maximum]`` (TOML allows ``inf``, ``nan``, 1e308)."""
        if type(value) not in (int, float):
            self.error(path, f"must be a number, not {_type_name(value)}")
            return None
        if value < minimum or value != value:
            self.error(path, f"must be at least {minimum:g}, not {_shown(value)}")
            return None
        if value > maximum:
            self.error(path, f"must be at most {maximum}, not {_shown(value)}")
            return None
        return float(value)

    def timeout(self, value: Any, path: KeyPath) -> float | None:
        seconds = self.number(value, path, 0, MAX_SECONDS)
        return seconds or None

    def priority(self, value: Any, path: KeyPath) -> TaskPriority | None:
        if isinstance(value, str) and value in _PRIORITIES:
            return _PRIORITIES[value]
        choices = " | ".join(_PRIORITIES)
        self.error(path, f"must be one of {choices}, not {_shown(value)}")
        return None

    def env(self, value: Any, path: KeyPath) -> dict[str, str]:
        table = self.table(value, path, None)
        result: dict[str, str] = {}
        for key, item in table.items():
            if not key or "=" in key or "\x00" in key:
                self.error((*path, key), "is not a valid environment variable name")
            elif not isinstance(item, str):
                self.error((*path, key), f"must be a string, not {_type_name(item)}")
            elif "\x00" in item:
                self.error((*path, key), "contains a NUL character, which no process can take")
            elif problem := host_env.bad_reference(item):
                self.error((*path, key), problem)
            else:
                result[key] = item
        return result

    # -- the document -----------------------------------------------------------------------

    def project(self, document: Mapping[str, Any]) -> ProjectSpec | None:
        document = self.table(document, (), TOP_KEYS)
        name: str | None = None
        meta: dict[str, Any] = {}
        if "project" not in document:
            self.error(("project",), 'missing [project] table with at least name = "..."')
        else:
            meta = self.table(document["project"], ("project",), PROJECT_KEYS)
            name = self.project_name(meta)
        description = meta.get("description", "")
        if "description" in meta:
            description = self.string(description, ("project", "description")) or ""
        kind = ProjectType.CUSTOM
        if "type" in meta:
            raw_kind = meta["type"]
            if isinstance(raw_kind, str) and raw_kind in _PROJECT_TYPES:
                kind = _PROJECT_TYPES[raw_kind]
            else:
                choices = ", ".join(_PROJECT_TYPES)
                self.error(("project", "type"), f"must be one of {choices}, not {_shown(raw_kind)}")
        version = "0.1.0"
        if "version" in meta:
            version = self.string(meta["version"], ("project", "version")) or version
        pools = self.pools(document.get("resources", {}))
        defaults = self.defaults(document.get("defaults", {}))
        workflows = self.workflows(document.get("workflows"), pools, defaults)
        if self.problems or name is None:
            return None
        return ProjectSpec(
            name=name,
            workflows=workflows,
            description=description,
            type=kind,
            version=version,
            resources=pools,
            defaults=defaults,
            root=self.root,
            file=self.file,
        )

    def project_name(self, meta: Mapping[str, Any]) -> str | None:
        if "name" not in meta:
            self.error(("project", "name"), "missing project name")
            return None
        name = self.string(meta["name"], ("project", "name"))
        if name is not None and not PROJECT_NAME.match(name):
            self.error(
                ("project", "name"),
                f"{_quoted_name(name)} is not a valid name: use at most {MAX_NAME} characters: "
                "lowercase letters, digits, '-' and '_', starting with a letter or digit",
            )
            return None
        return name

    def pools(self, raw: Any) -> dict[str, int]:
        pools = default_pools()
        for pool, capacity in self.table(raw, ("resources",), None).items():
            path = ("resources", pool)
            if not POOL_NAME.match(pool):
                self.error(path, f"{pool!r} is not a valid pool name")
                continue
            amount = self.integer(capacity, path, 0, MAX_POOL)
            if amount is not None:
                pools[pool] = amount
        return pools

    def defaults(self, raw: Any) -> Defaults:
        table = self.table(raw, ("defaults",), DEFAULT_KEYS)
        values = self.task_settings(table, ("defaults",), Defaults())
        return Defaults(**values)

    def task_settings(
        self, table: Mapping[str, Any], path: KeyPath, inherited: Defaults
    ) -> dict[str, Any]:
        """Settings shared by ``[defaults]`` and tasks, falling back to ``inherited``."""
        values: dict[str, Any] = {
            "retries": inherited.retries,
            "retry_delay": inherited.retry_delay,
            "retry_backoff": inherited.retry_backoff,
            "retry_max_delay": inherited.retry_max_delay,
            "timeout": inherited.timeout,
            "priority": inherited.priority,
            "env": inherited.env,
        }
        if "retries" in table:
            retries = self.integer(table["retries"], (*path, "retries"), 0, MAX_RETRIES)
            values["retries"] = retries or 0
        for key in ("retry_delay", "retry_max_delay"):
            if key in table:
                checked = self.number(table[key], (*path, key), 0.0, MAX_SECONDS)
                values[key] = checked if checked is not None else values[key]
        if "retry_backoff" in table:
            where = (*path, "retry_backoff")
            checked = self.number(table["retry_backoff"], where, 1.0, MAX_BACKOFF)
            values["retry_backoff"] = checked if checked is not None else values["retry_backoff"]
        if "timeout" in table:
            values["timeout"] = self.timeout(table["timeout"], (*path, "timeout"))
        if "priority" in table:
            values["priority"] = (
                self.priority(table["priority"], (*path, "priority")) or values["priority"]
            )
        if "env" in table:
            values["env"] = {**inherited.env, **self.env(table["env"], (*path, "env"))}
        return values

    def workflows(
        self, raw: Any, pools: Mapping[str, int], defaults: Defaults
    ) -> dict[str, WorkflowSpec]:
        if raw is None:
            self.error(("workflows",), "no workflows defined: add a [workflows.NAME] table")
            return {}
        result: dict[str, WorkflowSpec] = {}
        for name, body in self.table(raw, ("workflows",), None).items():
            path = ("workflows", name)
            if not _valid_item_name(name):
                self.error(
                    path, f"{_quoted_name(name)} is not a valid workflow name: {ITEM_NAME_RULE}"
                )
                continue
            workflow = self.workflow(name, body, path, pools, defaults)
            if workflow is not None:
                result[name] = workflow
        if not result and not self.problems:
            self.error(("workflows",), "no workflows defined: add a [workflows.NAME] table")
        return result

    def workflow(
        self,
        name: str,
        raw: Any,
        path: KeyPath,
        pools: Mapping[str, int],
        defaults: Defaults,
    ) -> WorkflowSpec | None:
        table = self.table(raw, path, WORKFLOW_KEYS)
        description = self.string(table.get("description", ""), (*path, "description")) or ""
        max_parallel = None
        if "max_parallel" in table:
            where = (*path, "max_parallel")
            max_parallel = self.integer(table["max_parallel"], where, 1, MAX_PARALLEL)
        params = self.params(table.get("params", {}), (*path, "params"))
        executor = table.get("executor", "local")
        if executor not in EXECUTORS:
            self.error((*path, "executor"), f"must be one of {', '.join(EXECUTORS)}")
            executor = "local"
        if "tasks" not in table:
            if table or not self.problems:
                self.error((*path, "tasks"), "no tasks: add [workflows.NAME.tasks.TASK] tables")
            return None
        tasks_path = (*path, "tasks")
        tasks: dict[str, TaskSpec] = {}
        for task_name, body in self.table(table["tasks"], tasks_path, None).items():
            task = self.task(task_name, body, (*tasks_path, task_name), pools, defaults, params)
            if task is not None:
                tasks[task_name] = task
        if not tasks:
            if not self.problems:
                self.error(tasks_path, "no tasks: add [workflows.NAME.tasks.TASK] tables")
            return None
        self.check_dependencies(tasks, tasks_path)
        return WorkflowSpec(
            name=name,
            tasks=tasks,
            description=description,
            max_parallel=max_parallel,
            params=params,
            executor=executor,
        )

    def params(self, raw: Any, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in self.table(raw, path, None).items():
            if not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", key):
                self.error((*path, key), f"{key!r} is not a valid parameter name")
            elif type(value) in (str, int, float, bool):
                result[key] = value
            else:
                self.error(
                    (*path, key),
                    f"must be a string, integer, number or boolean, not {_type_name(value)}",
                )
        return result

    def task(
        self,
        name: str,
        raw: Any,
        path: KeyPath,
        pools: Mapping[str, int],
        defaults: Defaults,
        params: Mapping[str, Any],
    ) -> TaskSpec | None:
        if not _valid_item_name(name):
            self.error(path, f"{_quoted_name(name)} is not a valid task name: {ITEM_NAME_RULE}")
            return None
        table = self.table(raw, path, TASK_KEYS)
        run = table.get("run")
        call = table.get("call")
        if run is None and call is None:
            self.error(path, 'needs a shell command (run = "...") or a callable (call = "m:f")')
        elif run is not None and call is not None:
            self.error(path, "has both run and call: keep one")
        if run is not None:
            run = self.string(run, (*path, "run"))
            if run is not None:
                self.check_placeholders(run, (*path, "run"), params, shell=True)
                if not run.strip():
                    self.error((*path, "run"), "is empty")
        args: dict[str, Any] = {}
        if call is not None:
            call = self.string(call, (*path, "call"))
            if call is not None and not CALL_TARGET.match(call):
                self.error((*path, "call"), f"{call!r} is not of the form module.path:function")
            if "args" in table:
                args = self.table(table["args"], (*path, "args"), None)
                room = MAX_NESTING - len(path) - 1  # levels left below an argument's key
                for key, value in args.items():
                    if isinstance(value, str):
                        self.check_placeholders(value, (*path, "args", key), params)
                    elif isinstance(value, dict | list) and _too_deep(value, room):
                        message = f"nesting deeper than {MAX_NESTING} levels"
                        self.error((*path, "args", key), message)
            if "env" in table:
                self.error(
                    (*path, "env"),
                    "only shell tasks take env: a callable runs inside formicary's process",
                )
        elif "args" in table:
            self.error((*path, "args"), "only call tasks take args; put values in the command")
        depends_on: tuple[str, ...] = ()
        if "depends_on" in table:
            depends_on = self.dependency_list(table["depends_on"], (*path, "depends_on"))
        description = ""
        if "description" in table:
            description = self.string(table["description"], (*path, "description")) or ""
        resources: dict[str, int] = {}
        if "resources" in table:
            resources = self.task_resources(table["resources"], (*path, "resources"), pools)
        settings = self.task_settings(table, path, defaults)
        return TaskSpec(
            name=name,
            run=run,
            call=call,
            args=args,
            depends_on=depends_on,
            description=description,
            resources=resources,
            **settings,
        )

    def check_placeholders(
        self, template: str, path: KeyPath, params: Mapping[str, Any], *, shell: bool = False
    ) -> None:
        for placeholder in placeholders(template):
            if placeholder not in params:
                hint = _did_you_mean(placeholder, list(params))
                self.error(
                    path,
                    f"placeholder {{{placeholder}}} has no value{hint}: declare it in the "
                    "workflow's params",
                )
            elif isinstance(params[placeholder], str) and "\x00" in params[placeholder]:
                self.error(path, f"placeholder {{{placeholder}}}: its value contains a NUL")
        if shell:
            if "\x00" in template:
                self.error(path, "contains a NUL character, which no command can take")
            for unsafe in unsafe_placeholders(template):
                self.error(path, str(unsafe))

    def dependency_list(self, raw: Any, path: KeyPath) -> tuple[str, ...]:
        if not isinstance(raw, list):
            self.error(path, f"must be an array of task names, not {_type_name(raw)}")
            return ()
        names: list[str] = []
        for item in raw:
            if not isinstance(item, str):
                self.error(path, f"must list task names (strings), found {_type_name(item)}")
            elif item in names:
                self.error(path, f'lists "{item}" twice')
            else:
                names.append(item)
        return tuple(names)

    def task_resources(self, raw: Any, path: KeyPath, pools: Mapping[str, int]) -> dict[str, int]:
        result: dict[str, int] = {}
        for pool, amount in self.table(raw, path, None).items():
            where = (*path, pool)
            checked = self.integer(amount, where, 0, MAX_POOL)
            if pool not in pools:
                hint = _did_you_mean(pool, list(pools))
                self.error(
                    where, f'unknown resource pool "{pool}"{hint}: declare it in [resources]'
                )
            elif checked is not None:
                if checked > pools[pool]:
                    self.error(
                        where,
                        f'asks for {checked} of pool "{pool}", which has only {pools[pool]}',
                    )
                else:
                    result[pool] = checked
        return result

    def check_dependencies(self, tasks: Mapping[str, TaskSpec], path: KeyPath) -> None:
        known = list(tasks)
        for task in tasks.values():
            for dep in task.depends_on:
                if dep == task.name:
                    self.error((*path, task.name, "depends_on"), "a task cannot depend on itself")
                elif dep not in tasks:
                    hint = _did_you_mean(dep, known)
                    self.error((*path, task.name, "depends_on"), f'unknown task "{dep}"{hint}')
        graph = {
            name: [dep for dep in task.depends_on if dep in tasks and dep != name]
            for name, task in tasks.items()
        }
        cycle = Dag(graph).find_cycle()
        if cycle:
            shown = " → ".join(cycle)
            self.error(
                (*path, cycle[0], "depends_on"),
                f"dependency cycle: {shown} (each depends on the next)",
            )


def iter_tasks(workspace: Workspace) -> Iterator[tuple[ProjectSpec, WorkflowSpec, TaskSpec]]:
    """Every task of every valid project, with its project and workflow."""
    for project in workspace.projects.values():
        for workflow in project.workflows.values():
            for task in workflow.tasks.values():
                yield project, workflow, task
