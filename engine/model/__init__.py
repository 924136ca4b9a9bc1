"""Definitions: what a workspace says, loaded, checked and compared.

Owns the TOML loader and its checks (``definitions``, ``workspace_files``, ``toml_lines``,
``limits``), the frozen specs it builds (``specs``), parameters and how they reach a command
(``params``, ``shell_params``, ``host_env``), the DAG, the diff of two definitions, the stored
snapshot of one, project templates and scaffolding, and the vocabulary of states and records
(``states``, ``records``). It imports nothing of formicary but :mod:`formicary.errors`: every
other layer builds on it.
"""
