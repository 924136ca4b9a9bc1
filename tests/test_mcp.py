"""MCP tools: schemas, in-process calls on real sessions, structured errors, and the stdio
server driven by the official SDK's client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from formicary import execute_mcp_tool, get_mcp_tool_definitions, get_mcp_tools
from formicary.api.orchestration import OrchestrationEngine
from formicary.mcp.tools import ToolContext

from tests.test_cli_foundation import FORMICARY

DEADLINE = 60.0
REQUIRED = {
    "list_projects",
    "list_workflows",
    "describe_workflow",
    "validate_workspace",
    "start_workflow",
    "list_sessions",
    "get_session_status",
    "get_task_logs",
    "retry_task",
    "cancel_task",
    "pause_session",
    "resume_session",
    "create_project",
    "generate_docs",
}


@pytest.fixture
def tools(samples: Path) -> Iterator[Callable[..., dict[str, Any]]]:
    """Call a tool on a private copy of the sample projects."""
    engine = OrchestrationEngine(samples)
    context = ToolContext(engine)
    try:
        yield lambda tool, /, **args: execute_mcp_tool(tool, args, context=context)
    finally:
        engine.shutdown()


def _until(call: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + DEADLINE
    result = call()
    while not done(result):
        assert time.monotonic() < deadline, f"gave up waiting; last answer: {result}"
        time.sleep(0.05)
        result = call()
    return result


def _task(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(task for task in status["tasks"] if task["name"] == name)


def test_every_tool_has_a_schema() -> None:
    definitions = get_mcp_tool_definitions()
    assert {d["name"] for d in definitions} >= REQUIRED
    assert [t.name for t in get_mcp_tools()] == [d["name"] for d in definitions]
    for definition in definitions:
        schema = definition["inputSchema"]
        assert definition["description"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])


def test_reading_tools(tools: Callable[..., dict[str, Any]], samples: Path) -> None:
    projects = {p["name"]: p for p in tools("list_projects")["projects"]}
    assert {"chaos", "data-pipeline"} <= set(projects)
    assert projects["chaos"]["workflows"] == ["demo"]
    workflows = tools("list_workflows", project="chaos")["workflows"]
    assert workflows[0]["params"] == {"long_seconds": 60}
    described = tools("describe_workflow", project="chaos", workflow="demo")
    flaky = next(task for task in described["tasks"] if task["name"] == "flaky")
    assert flaky["retries"] == 3 and flaky["depends_on"] == ["setup"]
    assert tools("validate_workspace")["ok"] is True
    (samples / "broken").mkdir()
    (samples / "broken" / "formicary.toml").write_text('[project]\nname = "broken"\nbogus = 1\n')
    report = tools("validate_workspace")
    assert report["ok"] is False
    assert any(i["line"] == 3 and i["key_path"] == "project.bogus" for i in report["issues"])
    docs = tools("generate_docs", project="chaos", write=False)["files"]
    assert set(docs) == {"README.md", "AGENTS.md"} and "flaky" in docs["README.md"]


def test_structured_errors(tools: Callable[..., dict[str, Any]], samples: Path) -> None:
    def code(result: dict[str, Any]) -> str:
        assert set(result) == {"error"}, result
        assert result["error"]["message"] and "Traceback" not in result["error"]["message"]
        return result["error"]["code"]

    assert code(tools("no_such_tool")) == "unknown_tool"
    assert code(tools("describe_workflow")) == "invalid_arguments"
    assert code(tools("describe_workflow", project=7)) == "invalid_arguments"
    assert code(tools("list_sessions", limit=0)) == "invalid_arguments"
    assert code(tools("list_projects", extra=True)) == "invalid_arguments"
    assert code(tools("start_workflow", project="chaos", params={"x": [1]})) == "invalid_arguments"
    assert code(tools("create_project", name="x", template="nope")) == "invalid_arguments"
    assert code(tools("describe_workflow", project="nope")) == "unknown_project"
    assert code(tools("describe_workflow", project="chaos", workflow="x")) == "unknown_workflow"
    assert code(tools("get_session_status", session_id=999)) == "unknown_session"
    assert code(tools("create_project", name="../escape")) == "invalid_request"
    # A path is never a project: only definitions inside the workspace can run.
    outside = samples.parent / "elsewhere"
    outside.mkdir()
    (outside / "formicary.toml").write_text(
        '[project]\nname = "elsewhere"\n[workflows.w.tasks.t]\nrun = "touch pwned"\n'
    )
    assert code(tools("start_workflow", project=str(outside))) == "unknown_project"
    assert not (outside / "pwned").exists()


def test_controlling_a_real_session(tools: Callable[..., dict[str, Any]], samples: Path) -> None:
    started = tools("start_workflow", project="chaos", params={"long_seconds": 60})
    sid = started["session_id"]
    assert started["tasks"] == 7
    status = lambda: tools("get_session_status", session_id=sid)  # noqa: E731
    seen = _until(
        status,
        lambda s: (
            _task(s, "needs_fix")["state"] == "failed"
            and _task(s, "long_job")["state"] == "running"
        ),
    )
    assert _task(seen, "needs_fix")["exit_code"] == 3
    assert _task(seen, "after_fix")["state"] == "blocked"
    logs = tools("get_task_logs", session_id=sid, task="needs_fix", lines=5)
    assert logs["attempt"] == 1 and logs["lines"]
    assert tools("get_task_logs", session_id=sid, task="nope")["error"]["code"] == "unknown_task"

    assert tools("pause_session", session_id=sid)["outcome"] == "ok"
    assert status()["status"] == "paused"
    assert tools("pause_session", session_id=sid)["error"]["code"] == "invalid_state"
    assert tools("resume_session", session_id=sid)["outcome"] == "ok"

    (samples / "chaos" / ".chaos" / "fixed").touch()
    assert tools("retry_task", session_id=sid, task="needs_fix")["outcome"] == "ok"
    _until(status, lambda s: _task(s, "after_fix")["state"] == "completed")

    assert tools("cancel_task", session_id=sid, task="long_job")["outcome"] == "ok"
    final = _until(status, lambda s: s["finished"])
    assert _task(final, "long_job")["state"] == "cancelled"
    assert _task(final, "needs_fix")["attempts"] == 2
    listed = tools("list_sessions", project="chaos")["sessions"]
    assert [s["id"] for s in listed] == [sid]


def test_create_project_then_run_it(tools: Callable[..., dict[str, Any]], samples: Path) -> None:
    made = tools("create_project", name="agent-made", template="automation", description="hi")
    assert Path(made["path"]) == (samples / "agent-made").resolve()
    workflow = made["workflows"][0]
    sid = tools("start_workflow", project="agent-made", workflow=workflow)["session_id"]
    final = _until(lambda: tools("get_session_status", session_id=sid), lambda s: s["finished"])
    assert final["status"] == "completed", final
    written = tools("generate_docs", project="agent-made")["written"]
    assert {Path(p).name for p in written} == {"README.md", "AGENTS.md"}


def test_stdio_server_with_the_sdk_client(samples: Path) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def session() -> None:
        server = StdioServerParameters(command=FORMICARY, args=["mcp", str(samples)])
        async with stdio_client(server) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} >= REQUIRED

            async def call(name: str, **args: Any) -> tuple[dict[str, Any], bool]:
                result = await client.call_tool(name, args)
                return result.structured_content, bool(result.is_error)

            started, failed = await call(
                "start_workflow", project="data-pipeline", params={"rows": 500}
            )
            assert not failed, started
            sid = started["session_id"]
            with anyio.fail_after(DEADLINE):
                while True:
                    status, _ = await call("get_session_status", session_id=sid)
                    if status["finished"]:
                        break
                    await anyio.sleep(0.1)
            assert status["status"] == "completed", status
            logs, failed = await call("get_task_logs", session_id=sid, task="generate", lines=3)
            assert not failed and any("rows" in line for line in logs["lines"])
            error, failed = await call("get_task_logs", session_id=sid, task="ghost")
            assert failed and error["error"]["code"] == "unknown_task"
            error, failed = await call("get_session_status", session_id=[sid])
            assert failed and error["error"]["code"] == "invalid_arguments"

    anyio.run(session)
