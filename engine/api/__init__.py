"""The public façade: the names of the library formicary grew from, each doing real work.

Owns ``OrchestrationEngine`` (``orchestration``: the sessions it runs in ``live_sessions``,
those of other processes read through ``recorded``, its status and health from ``reports``),
the managers (``workflow_manager``, ``task_orchestrator``, ``project_manager``,
``resource_manager``), the convenience functions (``functions``), starting a session and
recording it (``runtime``), the handle of a session running here (``control``), the one way
to reach a session wherever it runs (``session_client``, answering with an ``outcome``), where
a session's events come from (``event_source``: the bus or the store), adopting orphans
(``recovery``), and telling a stored definition from the workspace's (``definition_drift``).
It may import :mod:`formicary.model`, :mod:`formicary.run` and :mod:`formicary.store`.
"""
