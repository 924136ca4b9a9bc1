"""``formicary mcp``: the MCP tools served over stdio with the official ``mcp`` SDK.

Sessions started through the server run in this process, persisted in the workspace's store,
so a dashboard on the same workspace shows them like any other. When the client goes away,
whatever the server still runs is cancelled and its processes ended.

The server names itself ``formicary`` with the package's version in ``serverInfo``, and lists
each tool with its annotations (:attr:`formicary.mcp.tools.McpTool.annotations`).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from formicary.api.orchestration import OrchestrationEngine
from formicary.mcp.tools import ToolContext, execute_mcp_tool, get_mcp_tools
from formicary.run.signals import ENDING_SIGNALS, signal_exit_code, signal_reason
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


def serve(workspace: Path) -> int:
    """Serve the tools for ``workspace`` on stdin/stdout until the client disconnects or a
    signal (SIGINT, SIGTERM, SIGHUP) ends the server.

    Returns:
        0 after the client disconnected, 128+N after signal N; either way every session the
        server still ran is cancelled and its processes ended first (after a signal, with
        ``cancelled: formicary mcp got <SIGNAL>`` recorded on each task it cancelled).
    """
    engine = OrchestrationEngine(workspace)
    server = build_server(ToolContext(engine))
    received: list[signal.Signals] = []

    async def run() -> None:
        async with anyio.create_task_group() as group:

            async def watch_signals() -> None:
                with anyio.open_signal_receiver(*ENDING_SIGNALS) as signals:
                    async for signum in signals:
                        received.append(signal.Signals(signum))
                        group.cancel_scope.cancel()
                        return

            async def answer() -> None:
                async with stdio_server() as (read_stream, write_stream):
                    await server.run(
                        read_stream, write_stream, server.create_initialization_options()
                    )
                group.cancel_scope.cancel()

            group.start_soon(watch_signals)
            group.start_soon(answer)

    try:
        anyio.run(run)
    finally:
        if received:
            _close_sessions(engine, signal_reason("formicary mcp", received[0]))
        engine.shutdown()
    return signal_exit_code(received[0]) if received else 0


def _close_sessions(engine: OrchestrationEngine, reason: str) -> None:
    """Cancel every session ``engine`` runs, recording ``reason``, and wait until their
    processes have ended (:meth:`OrchestrationEngine.shutdown` then only releases them)."""

    async def close_all() -> None:
        for handle in engine.running_handles():
            if not handle.finished:
                await handle.close(reason)

    engine.thread.run(close_all(), 30.0)
