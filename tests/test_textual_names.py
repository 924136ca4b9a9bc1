"""No class in ``tui/`` takes over a name its Textual base class uses.

``HelpScreen`` once stored its rows in ``self._bindings``, which is Textual's own binding map
on every DOM node: the next key pressed on the help screen crashed the app. ``DagGraph`` had a
``layout`` property shadowing ``Widget.layout``. This test reads the source of every Textual
ancestor of every class in ``tui/`` and refuses:

- ``self.NAME = ...`` in our code where a Textual ancestor assigns or defines ``NAME``, unless
  the ancestor offers it to be set (a property with a setter, or a reactive);
- a method, property or attribute in our class body that replaces a Textual ancestor's
  property or data attribute (replacing a method, such as ``compose`` or ``render_line``, is
  how Textual is meant to be used).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from functools import cache

import formicary.tui
from textual.reactive import Reactive

MEANT_TO_BE_OVERRIDDEN = frozenset({"can_focus", "can_focus_children", "control"})
"""Names Textual asks subclasses to override (beside UPPER_CASE class settings):
``Message.control`` is the widget a message is about, a property each message defines."""


def _tui_classes() -> list[type]:
    classes: list[type] = []
    for module_info in pkgutil.walk_packages(formicary.tui.__path__, "formicary.tui."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                classes.append(value)
    return classes


def _textual_ancestors(cls: type) -> list[type]:
    return [base for base in cls.__mro__[1:] if base.__module__.startswith("textual.")]


@cache
def _assigned_in(cls: type) -> frozenset[str]:
    """Names a class assigns as ``self.NAME = ...`` in its own methods (a nested class, such
    as a message, is checked on its own)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset()
    names: set[str] = set()
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    functions = [s for s in body.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in (node for function in functions for node in ast.walk(function)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(element, ast.Attribute)
                    and isinstance(element.value, ast.Name)
                    and element.value.id == "self"
                ):
                    names.add(element.attr)
    return frozenset(names)


@cache
def _declared_in(cls: type) -> frozenset[str]:
    """Names the class body itself defines (methods, properties, attributes): not what
    Textual's metaclass adds to every class (``_merged_bindings``...)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return frozenset()
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    names: set[str] = set()
    for statement in body.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
    return frozenset(names)


def _settable(owner: type, name: str) -> bool:
    attribute = inspect.getattr_static(owner, name, None)
    if isinstance(attribute, property):
        return attribute.fset is not None
    return isinstance(attribute, Reactive) or hasattr(type(attribute), "__set__")


def _problems(cls: type) -> list[str]:
    ancestors = _textual_ancestors(cls)
    if not ancestors:
        return []
    theirs_assigned = set().union(*(_assigned_in(base) for base in ancestors))
    theirs_defined = {name for base in ancestors for name in vars(base)}
    problems: list[str] = []
    for name in sorted(_assigned_in(cls)):
        if name in _declared_in(cls) or name.startswith("__"):
            continue  # our own reactive or property, declared in our class body
        theirs = name in theirs_assigned or name in theirs_defined
        if theirs and not any(_settable(base, name) for base in ancestors):
            problems.append(f"{cls.__name__}: self.{name} = ... replaces Textual's {name}")
    for name in sorted(_declared_in(cls)):
        value = vars(cls).get(name)
        if name.startswith("__") or name.isupper() or name in MEANT_TO_BE_OVERRIDDEN:
            continue
        for base in ancestors:
            if name not in vars(base):
                continue
            theirs = vars(base)[name]
            if inspect.isfunction(theirs) or isinstance(theirs, classmethod | staticmethod):
                continue  # overriding a method is the point of subclassing
            if isinstance(theirs, Reactive) and isinstance(value, Reactive):
                continue  # a reactive given a new default
            problems.append(
                f"{cls.__name__}.{name} shadows {base.__module__}.{base.__qualname__}.{name}"
            )
            break
    return problems


def test_no_tui_class_takes_over_a_textual_name() -> None:
    classes = _tui_classes()
    assert len(classes) > 20  # the walk found the widgets and screens
    problems = [problem for cls in classes for problem in _problems(cls)]
    assert problems == []


def test_the_check_finds_the_two_names_that_broke_the_app() -> None:
    from textual.screen import ModalScreen
    from textual.widget import Widget

    class Help(ModalScreen[None]):
        def __init__(self, rows: list[str]) -> None:
            super().__init__()
            self._bindings = rows

    class Graph(Widget):
        @property
        def layout(self) -> None:  # type: ignore[override]
            return None

    assert _problems(Help) == ["Help: self._bindings = ... replaces Textual's _bindings"]
    assert _problems(Graph) == ["Graph.layout shadows textual.widget.Widget.layout"]
