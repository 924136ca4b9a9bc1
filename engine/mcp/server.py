"""``formicary mcp``: the MCP tools served over stdio with the official ``mcp`` SDK.

Sessions started through the server run in this process, persisted in the workspace's store,
so a dashboard on the same workspace shows them like any other. When the client goes away,
whatever the server still runs is cancelled and its processes ended.

The server names itself ``formicary`` with the package's version in ``serverInfo``, and lists
each tool with its annotations (:attr:`formicary.mcp.tools.McpTool.annotations`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from formicary.api.orchestration import OrchestrationEngine
from formicary.mcp.tools import ToolContext, execute_mcp_tool, get_mcp_tools
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

SERVER_NAME = "formicary"


def server_version() -> str:
    """formicary's installed version (``unknown`` when it runs uninstalled)."""
    from importlib import metadata

    try:
        return metadata.version("formicary")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_server(context: ToolContext, version: str | None = None) -> Server[Any]:
    """An MCP server whose tools act on ``context``'s workspace, reporting ``version``
    (the installed package's when None) in its ``serverInfo``."""
    tools = [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=dict(tool.input_schema),
            annotations=types.ToolAnnotations.model_validate(dict(tool.annotations)),
        )
        for tool in get_mcp_tools()
    ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        result = await anyio.to_thread.run_sync(
            lambda: execute_mcp_tool(params.name, params.arguments or {}, context=context)
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result))],
            structured_content=result,
            is_error="error" in result,
        )

    return Server(
        SERVER_NAME,
        version=version if version is not None else server_version(),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve(workspace: Path) -> None:
    """Serve the tools for ``workspace`` on stdin/stdout until the client disconnects."""
    engine = OrchestrationEngine(workspace)
    server = build_server(ToolContext(engine))

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(run)
    finally:
        engine.shutdown()
