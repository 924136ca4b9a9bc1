"""formicary's MCP tools and their stdio server (the official ``mcp`` SDK).

Owns the tool table and its handlers (``tools``), argument schemas and checks (``schema``)
and the server (``server``). It may import :mod:`formicary.api` and what lies below it.
"""
