"""The start dialog: a workflow's parameters, where its tasks run, and how many at once."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from formicary.errors import UsageError
from formicary.model.limits import MAX_PARALLEL
from formicary.model.params import resolve
from formicary.model.specs import WorkflowSpec
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.scalar import Scalar
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

EXECUTORS = ("local", "dask")
MIN_FIELD_ROWS = 4
"""The fields' part of the dialog never shrinks below this (a terminal that small clips)."""


@dataclass(frozen=True, slots=True)
class StartOptions:
    """What the user chose: parameter values (converted to their declared types), the
    executor (``local`` or ``dask``), a Dask scheduler address, and a parallelism limit."""

    params: dict[str, Any] = field(default_factory=dict)
    executor: str = "local"
    scheduler: str | None = None
    max_parallel: int | None = None


class StartScreen(ModalScreen[StartOptions | None]):
    """Asks for a run's options; dismisses with them, or None when the user backs out.

    | Key | Action |
    | :- | :- |
    | enter | Start (from any field). |
    | escape | Start nothing. |
    """

    BINDINGS = [Binding("escape", "back_out", "Back", id="start.escape")]

    DEFAULT_CSS = """
    StartScreen {
        align: center middle;
    }
    StartScreen > Vertical {
        width: 72;
        max-width: 95%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    StartScreen #title {
        text-style: bold;
    }
    StartScreen #about {
        color: $text-muted;
        margin-bottom: 1;
    }
    StartScreen VerticalScroll {
        height: auto;
    }
    StartScreen .field-label {
        margin-top: 1;
    }
    StartScreen #error {
        color: $error;
        height: auto;
        margin-top: 1;
    }
    StartScreen Horizontal {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    StartScreen Button {
        margin-left: 2;
    }
    """

    def __init__(self, project: str, workflow: WorkflowSpec) -> None:
        super().__init__()
        self._project = project
        self._workflow = workflow

    def compose(self) -> ComposeResult:
        workflow = self._workflow
        with Vertical():
            # Everything but the error and the buttons scrolls, so those stay in sight.
            with VerticalScroll():
                yield Label(f"Start {self._project}:{workflow.name}", id="title")
                yield Static(
                    f"{workflow.description or 'No description.'}  ·  {len(workflow.tasks)} tasks",
                    id="about",
                )
                for name, default in workflow.params.items():
                    yield Label(f"{name} ({type(default).__name__})", classes="field-label")
                    yield Input(str(default), id=f"param-{name}", classes="param")
                yield Label("run tasks on", classes="field-label")
                yield Select(
                    [(name, name) for name in EXECUTORS],
                    value=workflow.executor if workflow.executor in EXECUTORS else "local",
                    allow_blank=False,
                    id="executor",
                )
                yield Label(
                    "Dask scheduler (empty: a local cluster)",
                    classes="field-label",
                    id="scheduler-label",
                )
                yield Input(placeholder="tcp://host:8786", id="scheduler")
                yield Label(
                    f"tasks at once (empty: {workflow.max_parallel or 'the default'})",
                    classes="field-label",
                )
                yield Input(placeholder=str(workflow.max_parallel or ""), id="max-parallel")
            yield Static("", id="error")
            with Horizontal():
                yield Button("Back (esc)", id="back")
                yield Button("Start (enter)", variant="primary", id="start")

    def on_mount(self) -> None:
        self._show_scheduler(self.query_one("#executor", Select).value == "dask")
        first = self.query(".param").first(Input) if self.query(".param") else None
        (first or self.query_one("#start", Button)).focus()
        self.call_after_refresh(self._fit_fields)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_fields)

    def _fit_fields(self) -> None:
        """Let the fields scroll in what the screen leaves once the dialog's frame, the error
        line and the buttons are drawn: in a small terminal the buttons stay in sight, and
        in a large one nothing scrolls."""
        scroll = self.query_one(VerticalScroll)
        dialog = scroll.parent
        if not isinstance(dialog, Vertical):
            return
        fixed = dialog.styles.gutter.height + sum(
            child.outer_size.height + child.styles.margin.height
            for child in dialog.children
            if child is not scroll and child.display
        )
        fits = max(MIN_FIELD_ROWS, self.size.height - fixed)
        if scroll.styles.max_height != Scalar.from_number(fits):
            scroll.styles.max_height = fits

    def on_select_changed(self, event: Select.Changed) -> None:
        self._show_scheduler(event.value == "dask")

    def _show_scheduler(self, shown: bool) -> None:
        self.query_one("#scheduler-label").display = shown
        self.query_one("#scheduler").display = shown

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def action_back_out(self) -> None:
        """Start nothing."""
        self.dismiss(None)

    def _start(self) -> None:
        try:
            options = self.options()
        except UsageError as error:
            self.query_one("#error", Static).update(str(error))
            self.call_after_refresh(self._fit_fields)
            return
        self.dismiss(options)

    def options(self) -> StartOptions:
        """The options as entered, checked.

        Raises:
            UsageError: A value does not fit (the message names it).
        """
        overrides = {
            name: self.query_one(f"#param-{name}", Input).value for name in self._workflow.params
        }
        try:
            params = resolve(self._workflow.params, overrides)
        except UsageError as error:
            raise UsageError(str(error).removeprefix("--param ")) from None
        executor = str(self.query_one("#executor", Select).value)
        scheduler = self.query_one("#scheduler", Input).value.strip() or None
        if executor == "dask" and importlib.util.find_spec("distributed") is None:
            raise UsageError("the Dask executor needs distributed: pip install 'formicary[dask]'")
        if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
            raise UsageError(f"scheduler {scheduler!r}: expected an address like tcp://host:8786")
        text = self.query_one("#max-parallel", Input).value.strip()
        max_parallel = None
        if text:
            if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLEL:
                raise UsageError(f"tasks at once {text!r}: a whole number from 1 to {MAX_PARALLEL}")
            max_parallel = int(text)
        return StartOptions(
            params=params,
            executor=executor,
            scheduler=scheduler if executor == "dask" else None,
            max_parallel=max_parallel,
        )
