"""The DAG core: layers, cycles and closures, exact and iterative."""

from __future__ import annotations

import itertools
from graphlib import CycleError

import pytest
from formicary.model.dag import Dag
from formicary.model.synthetic import layered_edges


def diamond() -> Dag:
    return Dag({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []})


def test_layers_group_by_longest_path() -> None:
    assert diamond().layers() == [["a", "e"], ["b", "c"], ["d"]]


def test_layers_follow_longest_path_not_shortest() -> None:
    dag = Dag({"a": [], "b": ["a"], "c": ["a", "b"]})
    assert dag.layers() == [["a"], ["b"], ["c"]]


def test_order_puts_every_node_after_its_dependencies() -> None:
    dag = diamond()
    order = dag.order()
    position = {node: i for i, node in enumerate(order)}
    for dependency, dependent in dag.edges():
        assert position[dependency] < position[dependent]


def test_closures() -> None:
    dag = diamond()
    assert dag.upstream("d") == {"a", "b", "c"}
    assert dag.downstream("a") == {"b", "c", "d"}
    assert dag.downstream("e") == set()
    assert dag.downstream(["b", "c"]) == {"d"}


def test_cycle_is_spelled_out_each_depending_on_the_next() -> None:
    dag = Dag({"a": ["c"], "b": ["a"], "c": ["b"], "x": []})
    cycle = dag.find_cycle()
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    for node, dependency in itertools.pairwise(cycle):
        assert dependency in dag.dependencies(node)
    with pytest.raises(CycleError):
        dag.layers()


def test_acyclic_graph_has_no_cycle() -> None:
    assert diamond().find_cycle() is None


def test_unknown_dependency_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown node 'zz'"):
        Dag({"a": ["zz"]})


def test_chain_of_100k_needs_no_recursion() -> None:
    n = 100_000
    dag = Dag({f"t{i}": ([f"t{i - 1}"] if i else []) for i in range(n)})
    layers = dag.layers()
    assert len(layers) == n
    assert len(dag.downstream("t0")) == n - 1
    assert len(dag.upstream(f"t{n - 1}")) == n - 1
    looped = Dag({f"t{i}": [f"t{(i - 1) % n}"] for i in range(n)})
    cycle = looped.find_cycle()
    assert cycle is not None and len(cycle) == n + 1


def test_layered_synthetic_graph_has_its_layers() -> None:
    dag = Dag(dict(layered_edges(layers=50, width=20, fan_in=3)))
    layers = dag.layers()
    assert len(layers) == 50
    assert all(len(layer) == 20 for layer in layers)
