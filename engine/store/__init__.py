"""The embedded SQLite store: every session, task, attempt and event, and who owns them.

Owns the schema and its migrations (``schema``), reading and writing sessions (``database``,
``records``, ``summaries``, ``fold``), the event codec and frames, and the writer process,
its protocol and its link (``writer``, ``writer_protocol``, ``writer_link``,
``session_writer``, ``persist``). It may import :mod:`formicary.model` and
:mod:`formicary.run` (the events it records, the owner-only file modes it keeps).
"""
