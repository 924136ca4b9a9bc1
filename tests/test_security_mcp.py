"""The MCP side of the security boundary (issue 15): a changed definition is never run over
MCP (``definition_changed``), the CLI says when it retries a stored one, the server names
itself and annotates its tools, ``generate_docs`` takes no ``force``, every integer argument
has a range, and the same checks through the official SDK's stdio client.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from formicary import execute_mcp_tool, get_mcp_tool_definitions
from formicary.api.orchestration import OrchestrationEngine
from formicary.mcp.tools import ToolContext
from formicary.run.events import Event, EventKind
from formicary.store.database import Store

from tests.test_cli_foundation import FORMICARY, run_cli
from tests.test_mcp import DEADLINE, REQUIRED

OLD = "echo old >> ran.log; exit 1"
NEW = "echo new >> ran.log; exit 1"
AFTER = "echo after >> after.log"
PROJECT = f"""\
[project]
name = "p"

[workflows.w.tasks.bad]
run = "{OLD}"

[workflows.w.tasks.after]
run = "{AFTER}"
depends_on = ["bad"]
"""
READ_ONLY = {
    "list_projects",
    "list_workflows",
    "describe_workflow",
    "validate_workspace",
    "list_sessions",
    "get_session_status",
    "get_task_logs",
}
SESSION_TOOLS = (
    "get_session_status",
    "get_task_logs",
    "retry_task",
    "cancel_task",
    "pause_session",
    "resume_session",
)

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with one project ``p``: ``bad`` fails, ``after`` depends on it."""
    root = tmp_path / "ws"
    (root / "p").mkdir(parents=True)
    (root / "p" / "formicary.toml").write_text(PROJECT, encoding="utf-8")
    return root


class Tools:
    """MCP tools called in-process on one engine, with its sessions' ends as a queue."""

    def __init__(self, workspace: Path) -> None:
        self.engine = OrchestrationEngine(workspace)
        self.context = ToolContext(self.engine)
        self.finished: queue.Queue[str] = queue.Queue()
        self.engine.add_event_handler(self._on_event, [EventKind.SESSION_FINISHED])

    def _on_event(self, event: Event) -> None:
        self.finished.put(event.session)

    def __call__(self, tool: str, /, **args: Any) -> dict[str, Any]:
        return execute_mcp_tool(tool, args, context=self.context)

    def wait_finished(self, session_id: str) -> None:
        """Block until the engine reports ``session_id`` finished (again)."""
        while self.finished.get(timeout=DEADLINE) != session_id:
            pass


@pytest.fixture
def make_tools(workspace: Path) -> Iterator[Callable[[], Tools]]:
    """Make tools on a new engine of the workspace (each shut down after the test)."""
    made: list[Tools] = []

    def make() -> Tools:
        made.append(Tools(workspace))
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            each.engine.shutdown()


@pytest.fixture
def tools(make_tools: Callable[[], Tools]) -> Tools:
    return make_tools()


def _edit(workspace: Path, old: str, new: str) -> None:
    file = workspace / "p" / "formicary.toml"
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new), encoding="utf-8")


def _failed_session(tools: Tools) -> str:
    started = tools("start_workflow", project="p")
    assert "error" not in started, started
    sid = started["session_id"]
    tools.wait_finished(sid)
    assert tools("get_session_status", session_id=sid)["status"] == "failed"
    return str(sid)


def _ran(workspace: Path) -> list[str]:
    log = workspace / "p" / "ran.log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def _record(workspace: Path, sid: str) -> tuple[Any, ...]:
    """The session's row and its tasks' states and attempts, as the store holds them."""
    store = Store.for_workspace(workspace, create=False)
    try:
        tasks = tuple((t.name, t.state, t.attempts) for t in store.tasks(sid))
        return (*store.session(sid), tasks)
    finally:
        store.close()


def _code(result: dict[str, Any]) -> str:
    assert set(result) == {"error"}, result
    message = result["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in message
    return str(result["error"]["code"])


# -- finding 2: a changed definition is never run over MCP ------------------------------

EDITS = {
    "command changed": ((OLD, NEW), {"bad": (OLD, NEW)}),
    "downstream task changed": ((AFTER, "echo AFTER"), {"after": (AFTER, "echo AFTER")}),
    "env changed": (
        (f'run = "{OLD}"', f'run = "{OLD}"\nenv = {{ X = "1" }}'),
        {"bad": (OLD, OLD)},
    ),
    "task removed": (
        (f'[workflows.w.tasks.after]\nrun = "{AFTER}"\ndepends_on = ["bad"]\n', ""),
        {"after": (AFTER, None)},
    ),
    "workflow removed": (("[workflows.w.", "[workflows.v."), {"bad": (OLD, None),
                                                              "after": (AFTER, None)}),
}  # fmt: skip


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_retry_of_an_ended_session_refuses_a_changed_definition(
    tools: Tools, make_tools: Callable[[], Tools], workspace: Path, edit: str
) -> None:
    """Retrying a session adopted from the store runs nothing once its definition changed;
    the answer names each changed task with its stored and current command."""
    (old, new), expected = EDITS[edit]
    sid = _failed_session(tools)
    tools.engine.shutdown()
    before = _record(workspace, sid)
    _edit(workspace, old, new)
    fresh = make_tools()
    for args in ({"task": "bad"}, {}):
        answer = fresh("retry_task", session_id=sid, **args)
        assert _code(answer) == "definition_changed", answer
        drift = {d["task"]: (d["stored"], d["current"]) for d in answer["error"]["data"]["tasks"]}
        assert drift == expected
        for stored, current in expected.values():
            assert stored in answer["error"]["message"]
            assert current is None or current in answer["error"]["message"]
    assert _ran(workspace) == ["old"]
    assert not (workspace / "p" / "after.log").exists()
    assert _record(workspace, sid) == before  # nothing adopted, nothing written


def test_retry_of_a_live_session_refuses_a_changed_definition(
    tools: Tools, workspace: Path
) -> None:
    """The same for a session this server still holds (it started it)."""
    sid = _failed_session(tools)
    _edit(workspace, OLD, NEW)
    for args in ({"task": "bad"}, {}):
        answer = tools("retry_task", session_id=sid, **args)
        assert _code(answer) == "definition_changed", answer
    assert _ran(workspace) == ["old"]
    _edit(workspace, NEW, OLD)
    assert tools("retry_task", session_id=sid, task="bad")["outcome"] == "ok"
    tools.wait_finished(sid)
    assert _ran(workspace) == ["old", "old"]


def test_retry_with_an_unchanged_definition_runs(
    tools: Tools, make_tools: Callable[[], Tools], workspace: Path
) -> None:
    """Equal definitions are no reason to refuse (adopted from the store, too)."""
    sid = _failed_session(tools)
    tools.engine.shutdown()
    fresh = make_tools()
    answer = fresh("retry_task", session_id=sid, task="bad")
    assert answer["outcome"] == "ok", answer
    fresh.wait_finished(sid)
    assert _ran(workspace) == ["old", "old"]


def test_cancel_is_not_refused_for_a_changed_definition(tools: Tools, workspace: Path) -> None:
    """Cancel runs nothing, so a changed definition does not stop it."""
    _edit(workspace, OLD, "sleep 60")
    running: queue.Queue[str] = queue.Queue()
    tools.engine.add_event_handler(
        lambda event: running.put(event.task or "")
        if (event.data or {}).get("state") == "running" else None,
        [EventKind.TASK_STATE],
    )  # fmt: skip
    sid = str(tools("start_workflow", project="p")["session_id"])
    assert running.get(timeout=DEADLINE) == "bad"
    _edit(workspace, "sleep 60", "sleep 61")
    assert tools("cancel_task", session_id=sid, task="bad")["outcome"] == "ok"
    tools.wait_finished(sid)
    assert _ran(workspace) == []


ORPHAN = """\
[project]
name = "p"

[workflows.w]
max_parallel = 1

[workflows.w.tasks.first]
run = "sleep 60"

[workflows.w.tasks.second]
run = "echo second >> ran.log"
"""


def test_cancel_of_one_task_of_an_orphaned_session_refuses_a_changed_definition(
    tools: Tools, workspace: Path
) -> None:
    """Cancelling one task of a session whose engine died adopts it, and adopting it runs
    the rest: so a changed waiting task is refused; cancelling all of it is not."""
    (workspace / "p" / "formicary.toml").write_text(ORPHAN, encoding="utf-8")
    run = subprocess.Popen(
        [FORMICARY, "-w", str(workspace), "run", "p", "--plain"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    for line in run.stdout:  # the engine says when ``first`` runs; then it dies
        if "first running" in line:
            break
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run.stdout.close()
    assert tools("get_session_status", session_id=1)["status"] == "orphaned"
    _edit(workspace, "echo second", "echo SECOND")
    before = _record(workspace, "1")
    answer = tools("cancel_task", session_id=1, task="first")
    assert _code(answer) == "definition_changed", answer
    assert [d["task"] for d in answer["error"]["data"]["tasks"]] == ["second"]
    assert _record(workspace, "1") == before and _ran(workspace) == []
    # Ending it all runs nothing new; adopting it also ends the leftover ``sleep``.
    assert tools("cancel_task", session_id=1)["outcome"] == "ok"
    tools.wait_finished("1")


def test_resume_refuses_a_changed_waiting_task(tools: Tools, workspace: Path) -> None:
    """Resuming a paused session would start what waits: refused once that changed."""
    (workspace / "p" / "formicary.toml").write_text(ORPHAN, encoding="utf-8")
    running: queue.Queue[str] = queue.Queue()
    tools.engine.add_event_handler(
        lambda event: running.put(event.task or "")
        if (event.data or {}).get("state") == "running" else None,
        [EventKind.TASK_STATE],
    )  # fmt: skip
    sid = str(tools("start_workflow", project="p")["session_id"])
    assert running.get(timeout=DEADLINE) == "first"
    assert tools("pause_session", session_id=sid)["outcome"] == "ok"
    _edit(workspace, "echo second", "echo SECOND")
    answer = tools("resume_session", session_id=sid)
    assert _code(answer) == "definition_changed", answer
    assert [d["task"] for d in answer["error"]["data"]["tasks"]] == ["second"]
    assert tools("get_session_status", session_id=sid)["status"] == "paused"
    assert tools("cancel_task", session_id=sid)["outcome"] == "ok"
    tools.wait_finished(sid)
    assert _ran(workspace) == []


def test_cli_retry_runs_the_stored_definition_and_says_so(workspace: Path) -> None:
    """``formicary retry`` keeps reproducibility (the stored command runs) but notes, one
    line per task, that the workspace now says something else."""
    first = run_cli("-w", str(workspace), "run", "p")
    assert first.returncode == 1, first.stdout + first.stderr
    _edit(workspace, OLD, NEW)
    again = run_cli("-w", str(workspace), "retry", "1", "bad")
    assert again.returncode == 1, again.stdout + again.stderr
    notes = [line for line in again.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: task bad's definition changed since session 1 ran; retrying the stored one: {OLD}"
    ], again.stderr
    assert _ran(workspace) == ["old", "old"]
    _edit(workspace, NEW, OLD)
    unchanged = run_cli("-w", str(workspace), "retry", "1", "bad")
    assert "note: " not in unchanged.stderr, unchanged.stderr


# -- finding 8: server info and tool annotations -----------------------------------------


def test_every_tool_carries_annotations() -> None:
    definitions = {d["name"]: d for d in get_mcp_tool_definitions()}
    assert set(definitions) >= REQUIRED
    for name, definition in definitions.items():
        hints = definition["annotations"]
        assert set(hints) >= {"readOnlyHint", "destructiveHint", "idempotentHint"}, name
        assert hints["openWorldHint"] is False, name
        assert hints["readOnlyHint"] is (name in READ_ONLY), name
        if name in READ_ONLY:
            assert hints["destructiveHint"] is False and hints["idempotentHint"] is True
    for name in ("cancel_task", "generate_docs"):
        assert definitions[name]["annotations"]["destructiveHint"] is True, name
    for name in ("start_workflow", "retry_task"):
        assert definitions[name]["annotations"]["idempotentHint"] is False, name


# -- finding 3: generate_docs cannot force ------------------------------------------------


def test_generate_docs_takes_no_force(tools: Tools, workspace: Path) -> None:
    definition = next(d for d in get_mcp_tool_definitions() if d["name"] == "generate_docs")
    assert "force" not in definition["inputSchema"]["properties"]
    for value in (True, False):
        answer = tools("generate_docs", project="p", force=value)
        assert _code(answer) == "invalid_arguments"
        assert answer["error"]["message"].startswith("force:")
    assert not (workspace / "p" / "README.md").exists()
    assert not (workspace / "p" / "AGENTS.md").exists()


# -- finding 6: every integer has a range -------------------------------------------------


def test_every_integer_argument_has_a_documented_range() -> None:
    for definition in get_mcp_tool_definitions():
        for name, schema in definition["inputSchema"]["properties"].items():
            kinds = schema.get("type")
            kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
            if "integer" in kinds:
                where = f"{definition['name']}.{name}"
                assert isinstance(schema.get("minimum"), int), where
                assert isinstance(schema.get("maximum"), int), where
                assert schema["maximum"] <= 2**63 - 1, where


def test_huge_integers_are_invalid_arguments(tools: Tools) -> None:
    sid = _failed_session(tools)  # a store exists, so ids reach it
    for tool in SESSION_TOOLS:
        task = {"task": "bad"} if tool == "get_task_logs" else {}
        for bad in (10**40, 2**63, 0, -1):
            answer = tools(tool, session_id=bad, **task)
            assert _code(answer) == "invalid_arguments", (tool, bad, answer)
            assert answer["error"]["message"].startswith("session_id:")
        for text in (str(10**40), "9" * 5000):
            answer = tools(tool, session_id=text, **task)
            assert _code(answer) in {"invalid_arguments", "unknown_session"}, (tool, answer)
            assert len(answer["error"]["message"]) < 200
    answer = tools("start_workflow", project="p", max_parallel=10**30)
    assert _code(answer) == "invalid_arguments"
    assert answer["error"]["message"].startswith("max_parallel:")
    for key in ("attempt", "lines"):
        answer = tools("get_task_logs", session_id=sid, task="bad", **{key: 10**40})
        assert _code(answer) == "invalid_arguments"
        assert answer["error"]["message"].startswith(f"{key}:")
    assert _code(tools("list_sessions", limit=10**40)) == "invalid_arguments"
    assert tools("get_session_status", session_id=int(sid))["id"] == sid


# -- the same through the SDK's stdio client ---------------------------------------------

StdioCall = Callable[..., Awaitable[tuple[dict[str, Any], bool]]]


@asynccontextmanager
async def _server(workspace: Path) -> AsyncIterator[tuple[Any, StdioCall]]:
    """``formicary mcp WORKSPACE`` over stdio: the initialised client and a tool caller."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    server = StdioServerParameters(command=FORMICARY, args=["mcp", str(workspace)])
    async with stdio_client(server) as (read, write), ClientSession(read, write) as client:
        await client.initialize()

        async def call(name: str, **args: Any) -> tuple[dict[str, Any], bool]:
            result = await client.call_tool(name, args)
            return result.structured_content or {}, bool(result.is_error)

        yield client, call


async def _until_finished(call: StdioCall, sid: str) -> dict[str, Any]:
    with anyio.fail_after(DEADLINE):
        while True:
            status, failed = await call("get_session_status", session_id=sid)
            assert not failed, status
            if status["finished"]:
                return status
            await anyio.sleep(0.1)


def test_stdio_server_info_and_annotations(workspace: Path) -> None:
    from formicary.cli import package_version

    expected = {d["name"]: d["annotations"] for d in get_mcp_tool_definitions()}

    async def session() -> None:
        async with _server(workspace) as (client, _):
            info = client.server_info
            assert info is not None and info.name == "formicary"
            assert info.version == package_version()
            listed = (await client.list_tools()).tools
            assert {tool.name for tool in listed} >= REQUIRED
            for tool in listed:
                assert tool.annotations is not None, tool.name
                shown = tool.annotations.model_dump(by_alias=True, exclude_none=True)
                assert shown == expected[tool.name], tool.name
                assert "force" not in tool.input_schema["properties"]

    anyio.run(session)


def test_stdio_changed_definition(workspace: Path) -> None:
    async def session() -> None:
        async with _server(workspace) as (_, call):
            started, failed = await call("start_workflow", project="p")
            assert not failed, started
            sid = started["session_id"]
            assert (await _until_finished(call, sid))["status"] == "failed"
            _edit(workspace, OLD, NEW)
            answer, failed = await call("retry_task", session_id=sid, task="bad")
            assert failed and answer["error"]["code"] == "definition_changed", answer
            assert OLD in answer["error"]["message"] and NEW in answer["error"]["message"]
            status, _ = await call("get_session_status", session_id=sid)
            assert status["status"] == "failed"
        assert _ran(workspace) == ["old"]

    anyio.run(session)


def test_stdio_huge_integers(workspace: Path) -> None:
    async def session() -> None:
        async with _server(workspace) as (_, call):
            started, failed = await call("start_workflow", project="p")
            assert not failed, started
            await _until_finished(call, started["session_id"])
            for args in (
                {"session_id": 10**40},
                {"session_id": str(10**40)},
                {"session_id": 2**63},
            ):
                answer, failed = await call("get_session_status", **args)
                assert failed, answer
                assert answer["error"]["code"] in {"invalid_arguments", "unknown_session"}, args
            answer, failed = await call("start_workflow", project="p", max_parallel=10**30)
            assert failed and answer["error"]["code"] == "invalid_arguments", answer
            assert "max_parallel" in answer["error"]["message"]

    anyio.run(session)


def test_stdio_hostile_params_are_data_not_commands(tmp_path: Path) -> None:
    """A value substituted inside double quotes stays a value (engine/params.py's fix)."""
    root = tmp_path / "ws"
    (root / "q").mkdir(parents=True)
    (root / "q" / "formicary.toml").write_text(
        '[project]\nname = "q"\n\n[workflows.w.params]\nmsg = "hi"\n\n'
        '[workflows.w.tasks.say]\nrun = "echo \\"msg={msg}\\""\n',
        encoding="utf-8",
    )
    hostile = "$(touch PWNED)"

    async def session() -> None:
        async with _server(root) as (_, call):
            started, failed = await call("start_workflow", project="q", params={"msg": hostile})
            assert not failed, started
            sid = started["session_id"]
            await _until_finished(call, sid)
            logs, failed = await call("get_task_logs", session_id=sid, task="say")
            assert not failed, logs
            assert f"msg={hostile}" in logs["lines"], logs

    anyio.run(session)
    assert not list(root.rglob("PWNED")) and not (tmp_path / "PWNED").exists()


def test_stdio_symlinked_definition_outside_the_workspace(workspace: Path, tmp_path: Path) -> None:
    """A ``formicary.toml`` linking outside the workspace is neither listed nor startable."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "formicary.toml").write_text(
        '[project]\nname = "evil"\n\n[workflows.w.tasks.t]\nrun = "touch pwned"\n',
        encoding="utf-8",
    )
    (workspace / "evil").mkdir()
    (workspace / "evil" / "formicary.toml").symlink_to(outside / "formicary.toml")

    async def session() -> None:
        async with _server(workspace) as (_, call):
            listed, failed = await call("list_projects")
            assert not failed, listed
            assert [p["name"] for p in listed["projects"]] == ["p"]
            answer, failed = await call("start_workflow", project="evil")
            assert failed, answer
            assert answer["error"]["code"] != "internal_error", answer

    anyio.run(session)
    assert not (outside / "pwned").exists() and not (workspace / "evil" / "pwned").exists()
