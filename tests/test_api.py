"""The public API: every exported name does real work on the real engine."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Iterator
from pathlib import Path

import formicary
import psutil
import pytest
from formicary import (
    OrchestrationContext,
    OrchestrationEngine,
    OrchestrationSession,
    ProjectManager,
    ProjectStatus,
    ProjectType,
    ResourceManager,
    ResourceStatus,
    TaskOrchestrator,
    TaskStatus,
    WorkflowManager,
    WorkflowStatus,
    create_task,
    errors,
    workflow_steps,
)
from formicary.api.functions import shutdown_singletons
from formicary.errors import (
    DefinitionError,
    ResourceBusyError,
    TransitionError,
    UnknownTaskError,
    UnknownWorkflowError,
    UsageError,
)
from formicary.run.events import Event, EventKind

DEADLINE = 60.0


@pytest.fixture
def orchestration(tmp_path: Path) -> Iterator[OrchestrationEngine]:
    """An engine on a private workspace, shut down (every process ended) afterwards."""
    instance = OrchestrationEngine(tmp_path)
    try:
        yield instance
    finally:
        instance.shutdown()


def _pids_of(instance: OrchestrationEngine) -> list[int]:
    """Collects the pid of every attempt that starts (from the engine's events)."""
    pids: list[int] = []

    def on_event(event: Event) -> None:
        if event.data.get("state") == "running" and event.data.get("pid"):
            pids.append(event.data["pid"])

    instance.add_event_handler(on_event, kinds=[EventKind.TASK_STATE])
    return pids


def _group_gone(pid: int) -> bool:
    """True when no process of the group led by ``pid`` is alive."""
    for process in psutil.process_iter(["pid"]):
        try:
            if (
                process.status() != psutil.STATUS_ZOMBIE
                and psutil.Process(process.pid).pid
                and __import__("os").getpgid(process.pid) == pid
            ):
                return False
        except (psutil.NoSuchProcess, ProcessLookupError, psutil.AccessDenied):
            continue
    return True


def test_every_exported_name_resolves() -> None:
    for name in formicary.__all__:
        assert getattr(formicary, name) is not None, name
    assert OrchestrationContext is OrchestrationSession
    with pytest.raises(AttributeError):
        formicary.NoSuchThing  # noqa: B018


# -- WorkflowManager ---------------------------------------------------------------------


def test_workflow_runs_to_completion_and_results_follow(orchestration: OrchestrationEngine) -> None:
    manager = WorkflowManager(orchestration)
    steps = workflow_steps(
        [
            {"name": "make", "command": "echo made > made.txt"},
            {"name": "encode", "module": "json", "action": "dumps", "params": {"obj": [1, 2]}},
            {"name": "check", "command": "grep -q made made.txt", "depends_on": ["make"]},
        ]
    )
    manager.create_workflow("build", steps, max_parallel=2)
    assert "build" in manager.list_workflows()
    execution = manager.execute_workflow("build")
    assert execution.status in (WorkflowStatus.RUNNING, WorkflowStatus.COMPLETED)
    manager.wait(execution, DEADLINE)
    assert execution.status is WorkflowStatus.COMPLETED
    assert {name: r.status for name, r in execution.step_results.items()} == {
        "make": TaskStatus.COMPLETED,
        "encode": TaskStatus.COMPLETED,
        "check": TaskStatus.COMPLETED,
    }
    assert execution.step_results["encode"].value == "[1, 2]"
    assert (orchestration.workspace / "made.txt").read_text().strip() == "made"
    recorded = orchestration.get_session(execution.session_id)
    assert recorded.status.value == "completed"
    assert recorded.project == "api"


def test_a_failed_step_fails_the_execution_and_blocks_its_downstream(
    orchestration: OrchestrationEngine,
) -> None:
    manager = WorkflowManager(orchestration)
    steps = workflow_steps(
        [
            {"name": "ok", "command": "true"},
            {"name": "bad", "command": "echo broken; exit 3", "depends_on": "ok"},
            {"name": "after", "command": "true", "depends_on": ["bad"]},
            {"name": "raises", "module": "json", "action": "loads", "params": {"s": "{"}},
        ]
    )
    manager.create_workflow("flow", steps)
    execution = manager.wait(manager.execute_workflow("flow"), DEADLINE)
    assert execution.status is WorkflowStatus.FAILED
    results = execution.step_results
    assert results["ok"].status is TaskStatus.COMPLETED
    assert results["bad"].status is TaskStatus.FAILED and results["bad"].exit_code == 3
    assert results["after"].status is TaskStatus.BLOCKED
    assert results["raises"].status is TaskStatus.FAILED
    number, lines = orchestration.log_tail(execution.session_id, "raises")
    assert number == 1 and any("JSONDecodeError" in line for line in lines)


def test_workflows_are_validated_like_files(orchestration: OrchestrationEngine) -> None:
    manager = WorkflowManager(orchestration)
    unknown = workflow_steps([{"name": "a", "command": "true", "depends_on": ["ghost"]}])
    with pytest.raises(DefinitionError, match=r"workflows\.w1\.tasks\.a\.depends_on: unknown task"):
        manager.create_workflow("w1", unknown)
    cycle = workflow_steps(
        [
            {"name": "a", "command": "true", "depends_on": ["b"]},
            {"name": "b", "command": "true", "depends_on": ["a"]},
        ]
    )
    with pytest.raises(DefinitionError, match="cycle"):
        manager.create_workflow("w2", cycle)
    with pytest.raises(UsageError, match="unknown key 'depends'"):
        workflow_steps([{"name": "a", "command": "true", "depends": ["b"]}])
    with pytest.raises(UnknownWorkflowError):
        manager.execute_workflow("never-made")
    assert manager.list_workflows() == []


def test_workspace_workflows_run_by_name(samples: Path) -> None:
    instance = OrchestrationEngine(samples)
    try:
        manager = WorkflowManager(instance)
        assert "data-pipeline:nightly" in manager.list_workflows()
        execution = manager.execute_workflow("data-pipeline:nightly", rows=500)
        manager.wait(execution, DEADLINE)
        assert execution.status is WorkflowStatus.COMPLETED, execution.step_results
        assert execution.params["rows"] == 500
    finally:
        instance.shutdown()


# -- TaskOrchestrator --------------------------------------------------------------------


def test_tasks_wait_for_their_dependencies(orchestration: OrchestrationEngine) -> None:
    tasks = TaskOrchestrator(orchestration)
    tasks.submit(create_task("first", command="echo one > order.txt"))
    tasks.submit(create_task("second", command="echo two >> order.txt", dependencies=["first"]))
    tasks.submit(
        create_task(
            "third", module="json", action="dumps", params={"obj": "x"}, dependencies=["second"]
        )
    )
    result = tasks.wait("third", DEADLINE)
    assert result.status is TaskStatus.COMPLETED and result.value == '"x"'
    assert (orchestration.workspace / "order.txt").read_text().split() == ["one", "two"]
    assert [t.status for t in tasks.list_tasks()] == [TaskStatus.COMPLETED] * 3
    assert tasks.dependents("first") == ["second"]
    with pytest.raises(UnknownTaskError):
        tasks.submit(create_task("orphan", command="true", dependencies=["nobody"]))
    with pytest.raises(UsageError, match="already submitted"):
        tasks.submit(create_task("first", command="true"))


def test_a_failed_task_blocks_the_tasks_that_need_it(orchestration: OrchestrationEngine) -> None:
    tasks = TaskOrchestrator(orchestration)
    tasks.submit(create_task("breaks", command="exit 4", retries=1))
    tasks.submit(create_task("needs_it", command="true", dependencies=["breaks"]))
    broken = tasks.wait("breaks", DEADLINE)
    assert broken.status is TaskStatus.FAILED and broken.exit_code == 4 and broken.attempt == 2
    assert tasks.wait("needs_it", DEADLINE).status is TaskStatus.BLOCKED


def test_cancel_really_stops_the_process_tree(orchestration: OrchestrationEngine) -> None:
    pids = _pids_of(orchestration)
    tasks = TaskOrchestrator(orchestration)
    tasks.submit(create_task("long", command="sh -c 'sleep 60 & sleep 60'"))
    tasks.submit(create_task("later", command="true", dependencies=["long"]))
    deadline = time.monotonic() + DEADLINE
    while not pids and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pids, "the task never started"
    group = pids[0]
    assert tasks.get_task("long").status is TaskStatus.RUNNING
    tasks.cancel("long")
    assert tasks.wait("long", DEADLINE).status is TaskStatus.CANCELLED
    assert tasks.wait("later", DEADLINE).status is TaskStatus.BLOCKED
    assert _group_gone(group)
    with pytest.raises(TransitionError):
        tasks.cancel("long")


def test_execute_with_a_timeout_cancels_the_task(orchestration: OrchestrationEngine) -> None:
    pids = _pids_of(orchestration)
    tasks = TaskOrchestrator(orchestration)
    assert tasks.execute(create_task("quick", command="true"), timeout=DEADLINE).succeeded
    with pytest.raises(TimeoutError):
        tasks.execute(create_task("slow", command="sleep 60"), timeout=0.5)
    assert tasks.get_task("slow").status is TaskStatus.CANCELLED
    assert pids and _group_gone(pids[-1])


def test_tasks_book_their_pools_and_wait_for_room(orchestration: OrchestrationEngine) -> None:
    pools = ResourceManager({"gpu": 1}, engine=orchestration)
    tasks = TaskOrchestrator(orchestration, resources=pools)
    overlap = orchestration.workspace / "overlap.log"
    script = f"echo start >> {overlap}; sleep 0.3; echo end >> {overlap}"
    for name in ("one", "two", "three"):
        tasks.submit(create_task(name, command=script, resources={"gpu": 1}))
    for name in ("one", "two", "three"):
        assert tasks.wait(name, DEADLINE).succeeded
    assert overlap.read_text().split() == ["start", "end"] * 3
    assert pools.get_resource("gpu").booked == 0
    with pytest.raises(DefinitionError, match="pool"):
        tasks.submit(create_task("greedy", command="true", resources={"disk": 1}))


# -- ResourceManager ---------------------------------------------------------------------


def test_resource_manager_books_exactly_and_refuses_bad_amounts() -> None:
    pools = ResourceManager({"gpu": 2, "db": 1})
    first = pools.allocate("gpu", 1, owner="a")
    second = pools.allocate("gpu", 1, owner="b")
    assert pools.get_resource("gpu").status is ResourceStatus.EXHAUSTED
    with pytest.raises(ResourceBusyError, match="1 requested, 0 available"):
        pools.allocate("gpu", 1)
    for amount in (0, -1, 1.5, True):
        with pytest.raises(UsageError):
            pools.allocate("db", amount)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="can never be granted"):
        pools.allocate("db", 2)
    with pytest.raises(UsageError, match='did you mean "gpu"'):
        pools.allocate("gpus", 1)
    pools.release(first)
    with pytest.raises(UsageError, match="already released"):
        pools.release(first)
    assert pools.get_resource("gpu").booked == 1
    assert [a.owner for a in pools.allocations()] == ["b"]
    assert pools.try_allocate({"gpu": 1, "db": 1}) is not None
    assert pools.try_allocate({"gpu": 1}) is None
    pools.release(second)
    with pytest.raises(UsageError, match="at least 1"):
        pools.add_pool("db", 0)
    pools.add_pool("slots", 3)
    pools.allocate("slots", 2)
    with pytest.raises(UsageError, match="below 2 booked"):
        pools.add_pool("slots", 1)


def test_usage_reports_booked_and_measured(orchestration: OrchestrationEngine) -> None:
    pids = _pids_of(orchestration)
    pools = ResourceManager({"cpu": 2}, engine=orchestration)
    tasks = TaskOrchestrator(orchestration, resources=pools)
    tasks.submit(
        create_task(
            "burn", command="python3 -c 'x = bytearray(40_000_000)\nwhile True: pass'",
            resources={"cpu": 1},
        )
    )  # fmt: skip
    deadline = time.monotonic() + DEADLINE
    while not pids and time.monotonic() < deadline:
        time.sleep(0.02)
    usage = pools.get_usage()
    while (usage.rss_bytes or 0) < 40_000_000 and time.monotonic() < deadline:
        time.sleep(0.1)
        usage = pools.get_usage()
    assert usage.booked == {"cpu": 1} and usage.capacity == {"cpu": 2}
    assert usage.rss_bytes is not None and usage.rss_bytes >= 40_000_000
    assert usage.system_memory_percent is not None and usage.system_memory_percent > 0
    tasks.cancel("burn")
    tasks.wait("burn", DEADLINE)
    assert pools.get_usage().booked == {"cpu": 0}


# -- ProjectManager ----------------------------------------------------------------------


def test_projects_are_listed_and_created_from_every_template(tmp_path: Path) -> None:
    manager = ProjectManager(tmp_path)
    assert manager.list_projects() == []
    for kind in ProjectType:
        created = manager.create_project(f"made-{kind.value.replace('_', '-')}", "made here", kind)
        assert created.status is ProjectStatus.ACTIVE and created.type is kind
        assert created.path.parent == tmp_path.resolve()
    assert manager.validate() == []
    assert len(manager.list_projects()) == len(ProjectType)
    assert manager.get_project("made-custom").description == "made here"
    for bad in ("../escape", "Has Space", "/abs", ""):
        with pytest.raises(UsageError):
            manager.create_project(bad)
    with pytest.raises(UsageError, match="already exists"):
        manager.create_project("made-custom")
    with pytest.raises(UsageError, match="unknown template"):
        manager.create_project("other", template="nope")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "formicary.toml").write_text("[project\n")
    assert manager.get_project("broken").status is ProjectStatus.INVALID


@pytest.mark.parametrize("kind", [ProjectType.AI_ANALYSIS, ProjectType.WEB_APPLICATION,
                                  ProjectType.DATA_PIPELINE])  # fmt: skip
def test_a_project_from_a_template_runs(tmp_path: Path, kind: ProjectType) -> None:
    instance = OrchestrationEngine(tmp_path)
    try:
        project = ProjectManager(tmp_path).create_project("fresh", template=kind)
        manager = WorkflowManager(instance)
        for workflow in project.workflows:
            execution = manager.wait(manager.execute_workflow(f"fresh:{workflow}"), 120)
            assert execution.status is WorkflowStatus.COMPLETED, execution.step_results
    finally:
        instance.shutdown()


# -- OrchestrationEngine -----------------------------------------------------------------


def test_sessions_honour_their_parallelism_limit(orchestration: OrchestrationEngine,
                                                 write_project) -> None:  # fmt: skip
    tasks = "\n".join(f'[workflows.w.tasks.t{i}]\nrun = "sleep 0.1"\n' for i in range(6))
    write_project(f'[project]\nname = "limits"\n[workflows.w]\n{tasks}', "limits")
    running = 0
    peak = 0
    lock = threading.Lock()

    def count(event: Event) -> None:
        nonlocal running, peak
        with lock:
            if event.data.get("state") == "running":
                running += 1
            elif event.data.get("previous") == "running":
                running -= 1
            peak = max(peak, running)

    remove = orchestration.add_event_handler(count, kinds=["task_state"])
    session = orchestration.create_session("limits", "w", max_parallel=2)
    assert session.max_parallel == 2 and session.owner_pid is not None
    orchestration.wait(session.id, DEADLINE)
    remove()
    assert peak == 2
    assert orchestration.get_session(session.id).status.value == "completed"
    assert [s.id for s in orchestration.list_sessions()] == [session.id]
    metrics = orchestration.get_metrics()
    assert metrics["sessions"] == 1 and metrics["tasks_by_state"] == {"completed": 6}
    assert metrics["recent_attempts"] == 6


def test_status_health_and_close(orchestration: OrchestrationEngine, write_project) -> None:
    write_project('[project]\nname = "idle"\n[workflows.w.tasks.wait]\nrun = "sleep 60"\n', "idle")
    assert orchestration.health_check()["status"] == "healthy"
    pids = _pids_of(orchestration)
    session = orchestration.create_session("idle")
    deadline = time.monotonic() + DEADLINE
    while not pids and time.monotonic() < deadline:
        time.sleep(0.02)
    status = orchestration.get_system_status()
    assert status["engine_running"] and status["running_attempts"] == 1
    [live] = status["sessions"]
    assert live["id"] == session.id and live["counts"] == {"running": 1}
    closed = orchestration.close_session(session.id)
    assert closed.status.value == "cancelled"
    assert _group_gone(pids[0])
    write_project("[project\n", "broken")
    health = orchestration.health_check()
    assert health["status"] == "degraded" and health["checks"]["store"] == "ok"
    assert "broken" in health["checks"]["definition_errors"][0]


# -- module functions and singletons -----------------------------------------------------


def test_singletons_are_shared_across_threads_and_functions_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORMICARY_WORKSPACE", str(tmp_path))
    shutdown_singletons()
    try:
        seen: list[object] = []
        barrier = threading.Barrier(8)

        def grab() -> None:
            barrier.wait()
            seen.append(formicary.get_workflow_manager())

        threads = [threading.Thread(target=grab) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(manager) for manager in seen}) == 1
        shared = formicary.get_orchestration_engine()
        assert formicary.get_task_orchestrator().engine is shared
        assert formicary.get_resource_manager().engine is shared
        assert formicary.get_project_manager().workspace == tmp_path.resolve()
        assert shared.workspace == tmp_path.resolve()

        result = formicary.execute_task(create_task("hello", command="echo hi"), timeout=DEADLINE)
        assert result.succeeded
        project = formicary.create_project("scripted", "by script", "data_pipeline")
        assert project.workflows
        workflow = f"scripted:{project.workflows[0]}"
        execution = formicary.execute_workflow(workflow)
        assert execution.status is WorkflowStatus.COMPLETED
        with pytest.raises(UsageError):
            create_task("neither")
        with pytest.raises(UsageError):
            create_task("both", "json", "dumps", command="true")
    finally:
        shutdown_singletons()


def test_a_script_that_exits_mid_run_leaves_no_process(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "from formicary import create_workflow_steps, get_workflow_manager\n"
        "create_workflow_steps('w', [{'name': 's', 'command': 'sleep 60 & echo $$ > pid; "
        "sleep 60'}])\n"
        "get_workflow_manager().execute_workflow('w')\n"
        "import pathlib, time\n"
        "deadline = time.monotonic() + 60\n"
        "while not pathlib.Path('pid').exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    group = int((tmp_path / "pid").read_text())
    assert _group_gone(group)


# -- the seed library's API, exactly -----------------------------------------------------


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The module-level functions' singletons on a private workspace, shut down after."""
    monkeypatch.setenv("FORMICARY_WORKSPACE", str(tmp_path))
    shutdown_singletons()
    try:
        yield tmp_path
    finally:
        shutdown_singletons()


def test_the_seed_json_dumps_example_prints_its_result(tmp_path: Path) -> None:
    code = 'import formicary; print(formicary.execute_task(formicary.create_task("dump", "json", "dumps", obj=[1, 2])).result)'  # noqa: E501
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (0, "[1, 2]\n"), done.stderr


def test_the_seed_signatures() -> None:
    def shape(function: object) -> list[tuple[str, str]]:
        parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        return [(p.name, p.kind.name) for p in parameters if p.kind.name != "KEYWORD_ONLY"]

    either = "POSITIONAL_OR_KEYWORD"
    assert shape(formicary.create_task) == [
        ("name", either), ("module", either), ("action", either), ("kwargs", "VAR_KEYWORD")
    ]  # fmt: skip
    assert shape(formicary.create_workflow_steps) == [("name", either), ("steps", either)]
    assert shape(formicary.create_project) == [
        ("name", either), ("description", either), ("template", either)
    ]  # fmt: skip
    assert shape(formicary.execute_workflow) == [
        ("name", "POSITIONAL_ONLY"),
        ("params", "VAR_KEYWORD"),
    ]
    assert shape(formicary.execute_task) == [("task", either)]
    for getter in ("workflow_manager", "task_orchestrator", "project_manager",
                   "resource_manager", "orchestration_engine"):  # fmt: skip
        assert shape(getattr(formicary, f"get_{getter}")) == []


def test_every_keyword_but_formicarys_own_is_a_parameter() -> None:
    task = create_task("t", "pkg.mod", "fn", obj=[1], name_=2, params={"timeout": 5}, timeout=3)
    assert (task.module, task.action, task.command) == ("pkg.mod", "fn", None)
    assert task.params == {"obj": [1], "name_": 2, "timeout": 5} and task.timeout == 3
    shell = create_task("hello", command="echo hi", dependencies="t", priority="high")
    assert (shell.command, shell.module, shell.params, shell.dependencies) == (
        "echo hi", None, {}, ("t",)
    )  # fmt: skip
    with pytest.raises(UsageError, match="'x' given twice"):
        create_task("t", "m", "f", params={"x": 1}, x=2)
    with pytest.raises(UsageError, match="only a callable takes parameters"):
        create_task("t", command="true", x=1)
    with pytest.raises(UsageError, match="not a Python module path"):
        create_task("t", "echo hi", "f")


def test_old_call_styles_raise_a_type_error_that_says_what_to_write() -> None:
    with pytest.raises(TypeError, match=re.escape("create_task('hello', command='echo hi')")):
        create_task("hello", "echo hi")
    with pytest.raises(TypeError, match=re.escape("command='true'")):
        create_task("later", "true", dependencies=["hello"])
    with pytest.raises(TypeError, match="steps"):
        formicary.create_workflow_steps([{"name": "a", "command": "true"}])  # type: ignore[call-arg,arg-type]
    with pytest.raises(TypeError, match="workflow_steps"):
        formicary.create_workflow_steps([{"name": "a", "command": "true"}], [])  # type: ignore[arg-type]


def test_the_module_functions_run_code_built_workflows_and_tasks(shared: Path) -> None:
    made = formicary.create_workflow_steps(
        "build",
        [
            {"name": "compile", "command": "echo compiled > build.txt"},
            {"name": "check", "command": "grep -q compiled build.txt", "depends_on": "compile"},
        ],
    )
    assert isinstance(made, formicary.WorkflowSpec) and set(made.tasks) == {"compile", "check"}
    execution = formicary.execute_workflow("build")
    assert isinstance(execution, formicary.WorkflowExecution)
    assert execution.status is WorkflowStatus.COMPLETED, execution.step_results
    formicary.get_workflow_manager().create_workflow(
        "greet", [{"name": "say", "command": "echo {name} > who.txt"}], params={"name": "nobody"}
    )
    assert formicary.execute_workflow("greet", name="ants").status is WorkflowStatus.COMPLETED
    assert (shared / "who.txt").read_text().strip() == "ants"
    done = formicary.execute_task(
        create_task("load", "json", "loads", s="[2, 3]"), timeout=DEADLINE
    )
    assert (done.result, done.status, done.value) == ([2, 3], TaskStatus.COMPLETED, [2, 3])
    project = formicary.create_project("seeded", "from the seed", None)
    assert project.type is ProjectType.CUSTOM and project.description == "from the seed"


def test_wait_returns_one_type_per_class(orchestration: OrchestrationEngine) -> None:
    tasks = TaskOrchestrator(orchestration)
    encode = tasks.submit(
        create_task("encode", module="json", action="dumps", params={"obj": {"a": 1}})
    )
    tasks.submit(create_task("broken", command="exit 3"))
    tasks.submit(create_task("after", command="true", dependencies=["broken"]))
    tasks.submit(create_task("long", command="sleep 60"))
    tasks.cancel("long")
    ended = [tasks.wait(encode, DEADLINE)] + [
        tasks.wait(name, DEADLINE) for name in ("broken", "after", "long")
    ]
    assert all(type(e) is formicary.TaskExecution for e in ended)
    assert [e.status for e in ended] == [TaskStatus.COMPLETED, TaskStatus.FAILED,
                                         TaskStatus.BLOCKED, TaskStatus.CANCELLED]  # fmt: skip
    assert ended[0].result == '{"a": 1}' and ended[0].session_id is not None
    assert ended[1].exit_code == 3 and ended[1].result is None and ended[2].session_id is None
    assert tasks.get_result("encode") is ended[0]
    manager = WorkflowManager(orchestration)
    manager.create_workflow("w", [{"name": "s", "command": "true"}])
    execution = manager.execute_workflow("w")
    assert manager.wait(execution, DEADLINE) is execution
    with pytest.raises(TypeError, match="WorkflowExecution"):
        manager.wait(execution.session_id, DEADLINE)  # type: ignore[arg-type]


def test_the_package_exports_its_errors_and_every_type_its_api_returns() -> None:
    for name, value in vars(errors).items():
        if isinstance(value, type) and value.__module__ == errors.__name__:
            assert name in formicary.__all__ and getattr(formicary, name) is value, name
    found: set[type] = set()

    def walk(hint: object) -> None:
        if (
            isinstance(hint, type)
            and hint.__module__.startswith("formicary.")
            and hint not in found
        ):
            found.add(hint)
            if dataclasses.is_dataclass(hint) or hasattr(hint, "_fields"):
                for klass in hint.__mro__:
                    for field_hint in vars(klass).get("__annotations__", {}).values():
                        walk(_evaluated(field_hint, klass.__module__))
        for argument in typing.get_args(hint):
            walk(argument)

    functions = [
        getattr(formicary, n)
        for n in formicary.__all__
        if inspect.isfunction(getattr(formicary, n))
    ]
    for manager in (WorkflowManager, TaskOrchestrator, ProjectManager, ResourceManager,
                    OrchestrationEngine, formicary.DocumentationGenerator):  # fmt: skip
        functions += [f for n, f in inspect.getmembers(manager, inspect.isfunction) if n[0] != "_"]
    for function in functions:
        walk(_evaluated(function.__annotations__.get("return"), function.__module__))
    assert {
        formicary.TaskExecution,
        formicary.WorkflowSpec,
        formicary.ProjectSpec,
        formicary.TaskSpec,
    } <= found
    for kind in found:
        assert getattr(formicary, kind.__name__, None) is kind, f"{kind.__module__}.{kind.__name__}"


def _evaluated(hint: object, module: str) -> object:
    """A string annotation (``from __future__ import annotations``) as the object it names."""
    return eval(hint, vars(sys.modules[module])) if isinstance(hint, str) else hint


def test_the_readme_python_block_runs(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## From Python, and from AI agents", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    environment = {k: v for k, v in os.environ.items() if k != "FORMICARY_WORKSPACE"}
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("completed") and lines[1:] == ["[1, 2]", "completed"], lines
    assert (tmp_path / "build.txt").read_text().strip() == "compiled"
