"""The public façade: the names of the library formicary grew from, each doing real work.

Owns ``OrchestrationEngine`` (``orchestration``, ``reports``), the managers
(``workflow_manager``, ``task_orchestrator``, ``project_manager``, ``resource_manager``), the
convenience functions (``functions``), starting a session and recording it (``runtime``),
controlling one wherever it runs (``control``), adopting orphans (``recovery``), and telling a
stored definition from the workspace's (``definition_drift``). It may import
:mod:`formicary.model`, :mod:`formicary.run` and :mod:`formicary.store`.
"""
