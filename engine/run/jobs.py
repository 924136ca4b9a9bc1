"""Turning a task's definition into a :class:`~formicary.run.executors.Job` for one attempt.

The scheduler decides *when* an attempt starts; this module decides *what* it runs: the shell
command with its parameters passed as environment variables (see
:mod:`formicary.model.shell_params`), the environment (formicary's, the task's ``env`` with host
variables resolved, the ``FORMICARY_*`` names), or a callable's rendered arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from formicary.model import host_env
from formicary.model.params import ParamValue, format_value, render_args
from formicary.model.shell_params import render_command
from formicary.model.specs import ProjectSpec, TaskSpec, WorkflowSpec
from formicary.run.executors import Job


class JobBuilder:
    """Builds the jobs of one session's attempts.

    Built once per session: the engine's environment is read once (decoding ``os.environ`` on
    every spawn cost more than the spawn's own bookkeeping), and host variables named by the
    tasks' ``env`` are resolved at once, so a missing one stops the session before anything
    runs. Their values live only in this object, never in the store.

    Raises:
        UsageError: A task's ``env`` names a host variable that is not set.
    """

    def __init__(
        self,
        session_id: str,
        project: ProjectSpec,
        workflow: WorkflowSpec,
        params: Mapping[str, ParamValue],
        log_dir: Path,
    ) -> None:
        self.session_id = session_id
        self.root = project.root
        self.params = dict(params)
        self._log_dir_text = str(log_dir)
        self._param_text = {name: format_value(value) for name, value in params.items()}
        self._env_base = {
            **os.environ,
            "FORMICARY_SESSION": session_id,
            "FORMICARY_WORKFLOW": workflow.name,
            "FORMICARY_PROJECT": project.name,
            "FORMICARY_PROJECT_DIR": str(project.root),
        }
        self._task_env = {
            name: host_env.resolve(spec.env, os.environ, task=name)
            for name, spec in workflow.tasks.items()
            if spec.env
        }

    def log_file(self, task: str, attempt: int) -> str:
        """Where attempt ``attempt`` of ``task`` writes its output."""
        return f"{self._log_dir_text}{os.sep}{task}.{attempt}.log"

    def job(self, spec: TaskSpec, attempt: int) -> Job:
        """The job of attempt ``attempt`` of ``spec``."""
        if spec.run is not None:
            target, param_env = render_command(spec.run, self._param_text)
            return Job(
                session=self.session_id,
                task=spec.name,
                attempt=attempt,
                kind="shell",
                target=target,
                cwd=self.root,
                log_path=self.log_file(spec.name, attempt),
                env={
                    **self._env_base,
                    **self._task_env.get(spec.name, {}),
                    **param_env,
                    "FORMICARY_SESSION": self.session_id,
                    "FORMICARY_TASK": spec.name,
                    "FORMICARY_ATTEMPT": str(attempt),
                },
                priority=spec.priority.rank,
                resources=spec.resources,
            )
        # A callable shares the engine's process and environment; `env` is for commands.
        return Job(
            session=self.session_id,
            task=spec.name,
            attempt=attempt,
            kind="python",
            target=spec.call or "",
            cwd=self.root,
            log_path=self.log_file(spec.name, attempt),
            args=render_args(spec.args, self.params) if spec.args else {},
            env={},
            priority=spec.priority.rank,
            resources=spec.resources,
        )
