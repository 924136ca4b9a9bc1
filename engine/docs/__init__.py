"""Generated project documentation: README.md and AGENTS.md written from the definitions.

Owns the generator (``generator``) and Markdown escaping (``text``). It may import
:mod:`formicary.api` and what lies below it.
"""
