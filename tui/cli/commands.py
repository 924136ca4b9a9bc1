"""Every subcommand of ``formicary``, declared: one :class:`Command` each (name, help,
arguments, handler), collected in order in :data:`COMMANDS`, from which the parser is built.

This module is light on purpose: declaring every command imports no engine or UI code, so
``formicary status`` pays only for what ``status`` uses. A handler is named
``"module:function"`` and imported when its command runs (:meth:`Command.resolve`).

Every integer argument has a range, named in its help; a value outside it (or no integer
at all) ends the command at once with one line naming the argument, exit 2, before
anything reaches the engine or the store (:class:`BoundedInt`).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from formicary.model.limits import MAX_COUNT, MAX_PARALLEL, MAX_SESSION_ID
from formicary.model.states import ProjectType

EXIT_OK = 0
"""Success: every task completed, or the command did what it was asked."""
EXIT_FAILED = 1
"""A run (or the session a control command adopted) ended with something failed."""
EXIT_USAGE = 2
"""Bad input: printed as one line, never a traceback."""
EXIT_INTERRUPTED = 130
"""Ended by Ctrl-C (128 + SIGINT)."""
EXIT_BROKEN_PIPE = 141
"""The reader of the output went away (``| head``), as a shell reports SIGPIPE."""
SESSION_HELP = f"a session number, 1 to {MAX_SESSION_ID} (formicary sessions lists them)"

Handler = Callable[[argparse.Namespace], int]
"""What runs a command: its parsed arguments in, its exit code out."""
ArgumentAdder = Callable[[argparse.ArgumentParser], None]
"""What adds a command's arguments to its parser."""
ParserT = TypeVar("ParserT", bound=argparse.ArgumentParser)


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


class Command(NamedTuple):
    """One subcommand, declared: what ``formicary --help`` lists, the arguments it takes
    and the function that runs it.

    A NamedTuple rather than a frozen dataclass: as immutable and as typed, and it needs no
    ``dataclasses`` import, which (with the ``inspect`` it pulls in) would cost every
    scripted ``status --json`` poll a few milliseconds.
    """

    name: str
    """What the user types after ``formicary``."""
    help: str
    """Its line in ``formicary --help``."""
    description: str
    """The paragraph under the usage of ``formicary NAME --help``."""
    handler: str
    """The function that runs it, ``"module:function"``; imported only when it runs."""
    arguments: ArgumentAdder
    """Adds its arguments (and options) to its parser."""
    defaults: Mapping[str, object] = MappingProxyType({})
    """Values the handler reads that no argument sets (the control commands' ``action``)."""
    read_only: bool = False
    """It only reads the store and prints, leaving nothing to clean up, so it ends without
    the interpreter's teardown (:data:`formicary.cli.READ_ONLY_COMMANDS`)."""

    def add_to(self, subparsers: argparse._SubParsersAction[ParserT]) -> ParserT:
        """Add this command's parser to ``subparsers``; returns that parser."""
        parser = subparsers.add_parser(self.name, help=self.help, description=self.description)
        self.arguments(parser)
        if self.defaults:
            parser.set_defaults(**self.defaults)
        return parser

    def resolve(self) -> Handler:
        """Import and return the function that runs this command.

        Raises:
            ImportError: The handler's module cannot be imported.
            AttributeError: The module has no such function.
        """
        module, _, function = self.handler.partition(":")
        handler: Handler = getattr(importlib.import_module(module), function)
        return handler


# -- arguments more than one command takes -------------------------------------------------


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


def _workspace_positional(parser: argparse.ArgumentParser) -> None:
    """Add the optional WORKSPACE positional of ``dash`` and ``mcp``."""
    parser.add_argument("path", nargs="?", metavar="WORKSPACE")


# -- the dashboard and running -------------------------------------------------------------

DASH = Command(
    name="dash",
    help="open the dashboard",
    description="Open the dashboard on WORKSPACE (default: -w or the current folder).",
    handler="formicary.cli.dash:run",
    arguments=_workspace_positional,
)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    """``run``'s arguments: the target, parameter overrides and where tasks run."""
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


RUN = Command(
    name="run",
    help="run a workflow headless",
    description="Run PROJECT[:WORKFLOW] (a project name in the workspace, or a path to a "
    "project folder or its formicary.toml). Exit 0 when every task completed, 1 when "
    "something failed, 2 on bad input, 130 when interrupted.",
    handler="formicary.cli.run:run",
    arguments=_run_arguments,
)

# -- reading the store ---------------------------------------------------------------------


def _sessions_arguments(parser: argparse.ArgumentParser) -> None:
    """``sessions``' options: JSON and how many."""
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument(
        "-n",
        "--limit",
        action=BoundedInt,
        low=0,
        high=MAX_COUNT,
        default=50,
        metavar="N",
        help=f"the N newest, 0 to {MAX_COUNT} (default 50; 0 lists every session)",
    )


SESSIONS = Command(
    name="sessions",
    help="list the workspace's sessions",
    description="Every recorded "
    "session, newest first: status (orphaned when its engine stopped), counts, owner.",
    handler="formicary.cli.sessions:list_sessions",
    read_only=True,
    arguments=_sessions_arguments,
)


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    """``status``'s arguments: the session, and JSON."""
    _session(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON document: the session with its params, and each task with its latest "
        "attempt's started_at, ended_at, duration_s (so far, while it runs) and worker",
    )


STATUS = Command(
    name="status",
    help="show a session's tasks",
    description="A row per task of SESSION.",
    handler="formicary.cli.sessions:show_status",
    read_only=True,
    arguments=_status_arguments,
)


def _logs_arguments(parser: argparse.ArgumentParser) -> None:
    """``logs``' arguments: the session, a task, which attempt, its last lines, following."""
    _session(parser)
    parser.add_argument("task", metavar="TASK", nargs="?")
    parser.add_argument(
        "-a",
        "--attempt",
        action=BoundedInt,
        low=1,
        high=MAX_COUNT,
        metavar="N",
        help=f"attempt number, 1 to {MAX_COUNT} (default: the latest)",
    )
    parser.add_argument(
        "-n",
        "--tail",
        action=BoundedInt,
        low=0,
        high=MAX_COUNT,
        metavar="N",
        help=f"only the last N lines, 0 to {MAX_COUNT} (read from the end of the file)",
    )
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new output")


LOGS = Command(
    name="logs",
    help="print a task's output, or list a session's logs",
    description="Print the log of TASK in SESSION "
    "(its latest attempt unless --attempt; only its last N lines with --tail N); -f follows "
    "it while it runs. Without TASK, "
    "list every task's attempts: state, exit code, log file and its size.",
    handler="formicary.cli.sessions:show_logs",
    arguments=_logs_arguments,
)

# -- controlling a session -----------------------------------------------------------------


def _task_action(name: str, summary: str, *, optional_task: bool = False) -> Command:
    """A control call on one task of a session (``retry``, ``cancel``, ``skip``...): all run
    through :func:`formicary.cli.control.control`, told which call by ``args.action``."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        _session(parser)
        parser.add_argument("task", metavar="TASK", nargs="?" if optional_task else None)
        parser.add_argument("--plain", action="store_true", help="plain lines if adopting")

    return Command(
        name=name,
        help=summary,
        description=summary + ".",
        handler="formicary.cli.control:control",
        arguments=arguments,
        defaults=MappingProxyType({"action": name}),
    )


RETRY = _task_action(
    "retry",
    "run a failed, cancelled or blocked task again (with no TASK: every failed one)",
    optional_task=True,
)
CANCEL = _task_action(
    "cancel", "cancel a task (with no TASK: the whole session)", optional_task=True
)
SKIP = _task_action("skip", "skip a task so the tasks after it may run")
HOLD = _task_action("hold", "keep a task from running (a running one is stopped)")
RELEASE = _task_action("release", "let a held task run again")


def _pause_arguments(parser: argparse.ArgumentParser) -> None:
    """``pause``'s arguments: the session, and whether to stop its processes."""
    _session(parser)
    parser.add_argument("--stop", action="store_true", help="stop running processes too")


PAUSE = Command(
    name="pause",
    help="stop dispatching new tasks of a session",
    description="Stop dispatching; --stop also stops (SIGSTOP) running processes.",
    handler="formicary.cli.control:control",
    arguments=_pause_arguments,
    defaults=MappingProxyType({"action": "pause", "task": None}),
)


def _resume_arguments(parser: argparse.ArgumentParser) -> None:
    """``resume``'s arguments: the session (optional) and plain output."""
    _session(parser, optional=True)
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")


RESUME = Command(
    name="resume",
    help="resume a paused session, or adopt one whose engine stopped",
    description="Resume a paused session. A session whose engine stopped (orphaned) is "
    "adopted by this process: completed tasks are not run again, lost attempts are "
    "retried by their policy. With no SESSION, the most recent orphaned session.",
    handler="formicary.cli.control:resume_session",
    arguments=_resume_arguments,
    defaults=MappingProxyType({"task": None}),
)


def _prune_arguments(parser: argparse.ArgumentParser) -> None:
    """``prune``'s options: how many to keep, and confirming or only listing."""
    parser.add_argument(
        "--keep",
        action=BoundedInt,
        low=0,
        high=MAX_COUNT,
        required=True,
        metavar="N",
        help=f"how many of the newest sessions to keep, 0 to {MAX_COUNT}",
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", help="delete without asking (needed off a terminal)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the sessions it would delete; delete none"
    )


PRUNE = Command(
    name="prune",
    help="delete old sessions and their logs",
    description="Keep the N newest sessions; delete older finished ones and their logs. "
    "Asks first on a terminal; --yes deletes without asking (needed off a terminal), "
    "--dry-run only lists them. Deleted session numbers are never used again.",
    handler="formicary.cli.control:prune_sessions",
    arguments=_prune_arguments,
)

# -- definitions ---------------------------------------------------------------------------


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    """``validate``'s arguments: what to check, and watching."""
    parser.add_argument("path", nargs="?", help="a workspace, project folder or formicary.toml")
    parser.add_argument(
        "--watch", action="store_true", help="validate again on every save (Ctrl-C stops)"
    )


VALIDATE = Command(
    name="validate",
    help="check definition files and list projects, workflows and task counts",
    description="Check every formicary.toml under PATH. Prints each problem as "
    "file:line: key.path: message and exits 2, or a summary and exits 0.",
    handler="formicary.cli.validate:run",
    arguments=_validate_arguments,
)

_PROJECT_TYPES = ", ".join(kind.value for kind in ProjectType)


def _new_arguments(parser: argparse.ArgumentParser) -> None:
    """``new``'s arguments: the name, the template and a description."""
    parser.add_argument("name", help="project name: [a-z0-9][a-z0-9_-]*")
    parser.add_argument(
        "-t", "--template", default="custom", metavar="TYPE", help=f"one of: {_PROJECT_TYPES}"
    )
    parser.add_argument("-d", "--description", help="the project's description")


NEW = Command(
    name="new",
    help="create a project folder from a template",
    description="Write WORKSPACE/NAME/formicary.toml and its scripts. Templates: "
    f"{_PROJECT_TYPES}.",
    handler="formicary.cli.new:run",
    arguments=_new_arguments,
)


def _docs_arguments(parser: argparse.ArgumentParser) -> None:
    """``docs``' arguments: the project, its own ``-w`` (so it may follow the command) and
    what to do with hand-written files."""
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


DOCS = Command(
    name="docs",
    help="write a project's README.md and AGENTS.md from its definition",
    description="Write README.md (purpose, how to run, each workflow's tasks and graph, "
    "recent runs) and AGENTS.md (CLI, MCP tools and rules for AI agents) into PROJECT's "
    "folder. A file there without the generated-by marker was written by hand: it is left "
    "alone, or with --force moved aside to NAME.bak (NAME.bak.1... if that exists) first. "
    "A README.md or AGENTS.md that is a link is refused, --force or not: nothing is "
    "written through a link.",
    handler="formicary.cli.docs:run",
    arguments=_docs_arguments,
)

# -- agents --------------------------------------------------------------------------------

MCP = Command(
    name="mcp",
    help="serve the workspace's MCP tools over stdio (for AI agents)",
    description="Serve MCP tools (list_projects, start_workflow, get_session_status, "
    "get_task_logs, retry_task, cancel_task...) for WORKSPACE on stdin/stdout. Sessions "
    "it starts appear in the dashboard; they are cancelled when the client disconnects.",
    handler="formicary.cli.mcp:run",
    arguments=_workspace_positional,
)

COMMANDS: tuple[Command, ...] = (
    DASH,
    RUN,
    SESSIONS,
    STATUS,
    LOGS,
    RETRY,
    CANCEL,
    SKIP,
    HOLD,
    RELEASE,
    PAUSE,
    RESUME,
    PRUNE,
    VALIDATE,
    NEW,
    DOCS,
    MCP,
)
"""Every subcommand, in the order ``formicary --help`` lists them."""

COMMANDS_BY_NAME: Mapping[str, Command] = MappingProxyType(
    {command.name: command for command in COMMANDS}
)
""":data:`COMMANDS` by name."""
