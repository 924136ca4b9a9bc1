"""Every subcommand's arguments, in one light module: building the parser imports no engine
or UI code, so ``formicary status`` pays only for what ``status`` uses. Handlers are named
``"module:function"`` and imported when their command runs.

Every integer argument has a range, named in its help; a value outside it (or no integer
at all) ends the command at once with one line naming the argument, exit 2, before
anything reaches the engine or the store (:class:`BoundedInt`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from formicary.model.limits import MAX_COUNT, MAX_PARALLEL, MAX_SESSION_ID
from formicary.model.states import ProjectType

EXIT_USAGE = 2
SESSION_HELP = f"a session number, 1 to {MAX_SESSION_ID} (formicary sessions lists them)"

TASK_ACTIONS = {
    "retry": "run a failed, cancelled or blocked task again (with no TASK: every failed one)",
    "cancel": "cancel a task (with no TASK: the whole session)",
    "skip": "skip a task so the tasks after it may run",
    "hold": "keep a task from running (a running one is stopped)",
    "release": "let a held task run again",
}


class BoundedInt(argparse.Action):
    """An integer argument in ``[low, high]``: anything else is one line naming the
    argument, and exit 2 (argparse's own refusal prints the usage too).

    With ``words=True`` (session numbers) a word that is no integer is kept as it was
    given, for the store to call it an unknown session; only integers out of range are
    refused. Python refuses to read integers of more than 4300 digits: those are out of
    range too.
    """

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        *,
        low: int,
        high: int,
        words: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.low = low
        self.high = high
        self.words = words

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is None:  # an optional positional that was not given
            setattr(namespace, self.dest, None)
            return
        text = str(values)
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is not None and self.low <= number <= self.high:
            setattr(namespace, self.dest, text if self.words else number)
            return
        if number is None and self.words and len(text) < 4300:
            setattr(namespace, self.dest, text)
            return
        name = self.option_strings[-1] if self.option_strings else str(self.metavar)
        shown = text if len(text) <= 40 else text[:37] + "..."
        message = f"{name} {shown}: must be an integer from {self.low} to {self.high}"
        parser.exit(EXIT_USAGE, f"formicary: error: {message}\n")


def _session(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    """Add the SESSION positional (a session number) to ``parser``."""
    parser.add_argument(
        "session",
        metavar="SESSION",
        nargs="?" if optional else None,
        action=BoundedInt,
        low=1,
        high=MAX_SESSION_ID,
        words=True,
        help=SESSION_HELP,
    )


def register_all(subparsers: Any) -> None:
    """Add every subcommand to ``subparsers``."""
    for register in _REGISTERS:
        register(subparsers)


def register_for(subparsers: Any, command: str | None) -> None:
    """Add ``command`` (with the commands registered beside it) to ``subparsers``, or every
    subcommand when it is not one: building all eighteen parsers costs more than a
    ``status --json`` poll's own work."""
    register = _BY_COMMAND.get(command or "")
    if register is None:
        register_all(subparsers)
    else:
        register(subparsers)


def _register_dash(subparsers: Any) -> None:
    """Add the ``dash`` subcommand."""
    parser = subparsers.add_parser(
        "dash",
        help="open the dashboard",
        description="Open the dashboard on WORKSPACE (default: -w or the current folder).",
    )
    parser.add_argument("path", nargs="?", metavar="WORKSPACE")
    parser.set_defaults(handler="formicary.cli.dash:run")


def _register_run(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a workflow headless",
        description="Run PROJECT[:WORKFLOW] (a project name in the workspace, or a path to a "
        "project folder or its formicary.toml). Exit 0 when every task completed, 1 when "
        "something failed, 2 on bad input, 130 when interrupted.",
    )
    parser.add_argument("target", metavar="PROJECT[:WORKFLOW]")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a workflow parameter (repeatable)",
    )
    parser.add_argument(
        "--max-parallel",
        action=BoundedInt,
        low=1,
        high=MAX_PARALLEL,
        metavar="N",
        help=f"run at most N tasks at a time, 1 to {MAX_PARALLEL} (overrides the workflow's "
        "max_parallel)",
    )
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        help="where tasks run (default: the workflow's executor, else local)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="Dask scheduler address, tcp://HOST:PORT (implies --executor dask; without it "
        "dask starts a local cluster)",
    )
    parser.set_defaults(handler="formicary.cli.run:run")


def _register_sessions(subparsers: Any) -> None:
    """Add ``sessions``, ``status`` and ``logs``."""
    sessions = subparsers.add_parser(
        "sessions",
        help="list the workspace's sessions",
        description="Every recorded "
        "session, newest first: status (orphaned when its engine stopped), counts, owner.",
    )
    sessions.add_argument("--json", action="store_true", help="one JSON document")
    sessions.add_argument(
        "-n",
        "--limit",
        action=BoundedInt,
        low=0,
        high=MAX_COUNT,
        default=50,
        metavar="N",
        help=f"the N newest, 0 to {MAX_COUNT} (default 50; 0 lists every session)",
    )
    sessions.set_defaults(handler="formicary.cli.sessions:list_sessions")

    status = subparsers.add_parser(
        "status", help="show a session's tasks", description="A row per task of SESSION."
    )
    _session(status)
    status.add_argument(
        "--json",
        action="store_true",
        help="one JSON document: the session with its params, and each task with its latest "
        "attempt's started_at, ended_at, duration_s (so far, while it runs) and worker",
    )
    status.set_defaults(handler="formicary.cli.sessions:show_status")

    logs = subparsers.add_parser(
        "logs",
        help="print a task's output, or list a session's logs",
        description="Print the log of TASK in SESSION "
        "(its latest attempt unless --attempt); -f follows it while it runs. Without TASK, "
        "list every task's attempts: state, exit code, log file and its size.",
    )
    _session(logs)
    logs.add_argument("task", metavar="TASK", nargs="?")
    logs.add_argument(
        "-a",
        "--attempt",
        action=BoundedInt,
        low=1,
        high=MAX_COUNT,
        metavar="N",
        help=f"attempt number, 1 to {MAX_COUNT} (default: the latest)",
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    logs.set_defaults(handler="formicary.cli.sessions:show_logs")


def _register_control(subparsers: Any) -> None:
    """Add the control commands and ``prune``."""
    for action, summary in TASK_ACTIONS.items():
        parser = subparsers.add_parser(action, help=summary, description=summary + ".")
        _session(parser)
        optional = action in ("retry", "cancel")
        parser.add_argument("task", metavar="TASK", nargs="?" if optional else None)
        parser.add_argument("--plain", action="store_true", help="plain lines if adopting")
        parser.set_defaults(handler="formicary.cli.control:control", action=action)
    pause = subparsers.add_parser(
        "pause",
        help="stop dispatching new tasks of a session",
        description="Stop dispatching; --stop also stops (SIGSTOP) running processes.",
    )
    _session(pause)
    pause.add_argument("--stop", action="store_true", help="stop running processes too")
    pause.set_defaults(handler="formicary.cli.control:control", action="pause", task=None)
    resume = subparsers.add_parser(
        "resume",
        help="resume a paused session, or adopt one whose engine stopped",
        description="Resume a paused session. A session whose engine stopped (orphaned) is "
        "adopted by this process: completed tasks are not run again, lost attempts are "
        "retried by their policy. With no SESSION, the most recent orphaned session.",
    )
    _session(resume, optional=True)
    resume.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    resume.set_defaults(handler="formicary.cli.control:resume_session", task=None)
    prune = subparsers.add_parser(
        "prune",
        help="delete old sessions and their logs",
        description="Keep the N newest sessions; delete older finished ones and their logs. "
        "Asks first on a terminal; --yes deletes without asking (needed off a terminal), "
        "--dry-run only lists them. Deleted session numbers are never used again.",
    )
    prune.add_argument(
        "--keep",
        action=BoundedInt,
        low=0,
        high=MAX_COUNT,
        required=True,
        metavar="N",
        help=f"how many of the newest sessions to keep, 0 to {MAX_COUNT}",
    )
    prune.add_argument(
        "-y", "--yes", action="store_true", help="delete without asking (needed off a terminal)"
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list the sessions it would delete; delete none"
    )
    prune.set_defaults(handler="formicary.cli.control:prune_sessions")


def _register_validate(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check definition files and list projects, workflows and task counts",
        description="Check every formicary.toml under PATH. Prints each problem as "
        "file:line: key.path: message and exits 2, or a summary and exits 0.",
    )
    parser.add_argument("path", nargs="?", help="a workspace, project folder or formicary.toml")
    parser.add_argument(
        "--watch", action="store_true", help="validate again on every save (Ctrl-C stops)"
    )
    parser.set_defaults(handler="formicary.cli.validate:run")


def _register_new(subparsers: Any) -> None:
    """Add the ``new`` subcommand."""
    types = ", ".join(kind.value for kind in ProjectType)
    parser = subparsers.add_parser(
        "new",
        help="create a project folder from a template",
        description=f"Write WORKSPACE/NAME/formicary.toml and its scripts. Templates: {types}.",
    )
    parser.add_argument("name", help="project name: [a-z0-9][a-z0-9_-]*")
    parser.add_argument(
        "-t", "--template", default="custom", metavar="TYPE", help=f"one of: {types}"
    )
    parser.add_argument("-d", "--description", help="the project's description")
    parser.set_defaults(handler="formicary.cli.new:run")


def _register_docs(subparsers: Any) -> None:
    """Add the ``docs`` subcommand."""
    parser = subparsers.add_parser(
        "docs",
        help="write a project's README.md and AGENTS.md from its definition",
        description="Write README.md (purpose, how to run, each workflow's tasks and graph, "
        "recent runs) and AGENTS.md (CLI, MCP tools and rules for AI agents) into PROJECT's "
        "folder. A file there without the generated-by marker was written by hand: it is left "
        "alone, or with --force moved aside to NAME.bak (NAME.bak.1... if that exists) first. "
        "A README.md or AGENTS.md that is a link is refused, --force or not: nothing is "
        "written through a link.",
    )
    parser.add_argument("project", metavar="PROJECT", help="a project name or folder")
    parser.add_argument(
        "-w",
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the workspace folder (default: the current folder)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="move hand-written files aside to NAME.bak, then write the generated ones",
    )
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    parser.set_defaults(handler="formicary.cli.docs:run")


def _register_mcp(subparsers: Any) -> None:
    """Add the ``mcp`` subcommand."""
    parser = subparsers.add_parser(
        "mcp",
        help="serve the workspace's MCP tools over stdio (for AI agents)",
        description="Serve MCP tools (list_projects, start_workflow, get_session_status, "
        "get_task_logs, retry_task, cancel_task...) for WORKSPACE on stdin/stdout. Sessions "
        "it starts appear in the dashboard; they are cancelled when the client disconnects.",
    )
    parser.add_argument("path", nargs="?", metavar="WORKSPACE")
    parser.set_defaults(handler="formicary.cli.mcp:run")


_REGISTERS = (
    _register_dash,
    _register_run,
    _register_sessions,
    _register_control,
    _register_validate,
    _register_new,
    _register_docs,
    _register_mcp,
)
_BY_COMMAND = {
    "dash": _register_dash,
    "run": _register_run,
    **dict.fromkeys(("sessions", "status", "logs"), _register_sessions),
    **dict.fromkeys(
        (*TASK_ACTIONS, "pause", "resume", "prune"),
        _register_control,
    ),
    "validate": _register_validate,
    "new": _register_new,
    "docs": _register_docs,
    "mcp": _register_mcp,
}
