"""The package structure: the package-level import graph of ``scepsy_opt`` (from the code's own
``import`` statements, lazy ones inside functions included) has no cycle, no library code
imports ``testing``, and every subpackage imports only the layers below it along the pipeline's
arrows (:data:`ALLOWED`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

import scepsy_opt
from scepsy_opt.core.code import project_imports

PACKAGE = Path(scepsy_opt.__file__).resolve().parent

# What each top-level part may import (besides itself). ``<root>`` is scepsy_opt/__init__.py
# (the version only). The stages follow the pipeline: analyze (workflow) and profile read only
# the domain layer; the engine (sim) runs sampled workflows; the fit (surrogate) is fitted to
# the engine; search sees the domain layer only (allocations are scored through
# core.evaluator.Evaluator); place and emit work on the domain layer's allocation and
# placement; the harness (evaluate) is above search; the report reads the search's plan. The
# stage runner (pipeline) reads and writes artifacts through rundir; the face (cli) composes
# the settings, calls the runner and prints what console renders.
ALLOWED: dict[str, set[str]] = {
    "<root>": set(),
    "core": {"<root>"},
    "workflow": {"core"},
    "profile": {"<root>", "core"},
    "sim": {"core", "workflow"},
    "surrogate": {"core", "sim", "workflow"},
    "search": {"core"},
    "placement": {"core"},
    "emit": {"core"},
    "evaluate": {"core", "sim", "workflow", "search"},
    "report": {"core", "search", "evaluate"},
    "config": {"core", "workflow", "profile", "sim", "surrogate", "search", "placement", "emit",
               "evaluate", "report"},
    "rundir": {"core", "emit", "report"},
    "pipeline": {"<root>", "core", "workflow", "profile", "sim", "surrogate", "search",
                 "placement", "emit", "evaluate", "report", "config", "rundir"},
    "console": {"<root>", "core", "emit", "pipeline"},
    "argv": {"core"},
    "cli": {"<root>", "core", "config", "pipeline", "rundir", "console", "argv"},
    "__main__": {"cli"},
    "testing": {"<root>", "core", "workflow", "profile", "sim", "surrogate", "search",
                "placement", "emit", "evaluate", "report"},
}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def import_graph() -> dict[str, dict[str, set[str]]]:
    """``{part: {imported part: {importing modules}}}`` over every module under ``root``."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(PACKAGE.rglob("*.py")):
        names = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(names[:-1] if names[-1] == "__init__" else names)
        for target in project_imports(path):
            source, imported = _part(module), _part(target)
            if source != imported:
                graph[source][imported].add(module)
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read_from_the_code():
    """Oracle for the reader: known edges of the tree are found, lazy imports included."""
    graph = import_graph()
    assert "core" in graph["search"]
    assert "cli" in graph["__main__"]
    assert "pipeline" in graph["cli"]
    assert "vllm_backend" not in graph  # modules are grouped by their top-level part


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b": {"a.x"}}, "b": {"c": {"b.y"}}, "c": {"a": {"c.z"}}, "d": {"a": {"d"}}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": {"a"}}, "b": {}}) == []


def test_no_import_cycle_between_packages():
    assert cycles(import_graph()) == []


def test_library_code_never_imports_testing():
    offenders = {module for part, edges in import_graph().items() if part != "testing"
                 for module in edges.get("testing", ())}
    assert not offenders


def test_every_part_imports_only_along_the_pipeline():
    graph = import_graph()
    unknown = set(graph) - set(ALLOWED)
    assert not unknown, f"new top-level parts {unknown}: add them to ALLOWED with their layer"
    off = {(part, imported): sorted(modules) for part, edges in graph.items()
           for imported, modules in edges.items() if imported not in ALLOWED[part]}
    assert not off, off


@pytest.mark.parametrize("part", ["core"])
def test_the_domain_layer_imports_no_stage(part):
    assert set(import_graph()[part]) <= {"<root>"}
