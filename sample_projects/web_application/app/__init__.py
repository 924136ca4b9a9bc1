"""A tiny JSON API served by the standard library's http.server."""

__version__ = "1.0.0"
