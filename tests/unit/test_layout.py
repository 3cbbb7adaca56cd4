"""The tree reads as the pipeline: small modules, no import circle, nothing imports upward.

``sentence_distill`` is the library; ``tasks/<stage>.py`` are the DVC stages' entry points over it;
``flows`` drives the stages. The library never imports a stage or a flow, a stage never imports another
stage, and package ``__init__`` files hold only a docstring (a stage's DVC deps leave them out).
"""

from __future__ import annotations

import ast
import subprocess

import networkx as nx

from sentence_distill.code_closure import imported_modules, module_file
from tests.project import ROOT

PACKAGES = ("sentence_distill", "tasks", "flows", "tests", "bench")
MAX_LINES = 400


def python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [f for f in listed.stdout.split() if f.split("/")[0] in PACKAGES and (ROOT / f).is_file()]


def module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def test_no_module_is_over_the_line_limit() -> None:
    lengths = {f: len((ROOT / f).read_text().splitlines()) for f in python_files()}
    assert {f: n for f, n in lengths.items() if n > MAX_LINES} == {}


def test_no_import_circle() -> None:
    graph = nx.DiGraph()
    for path in python_files():
        graph.add_node(module_name(path))
        graph.add_edges_from((module_name(path), m) for m in imported_modules(path))
    assert list(nx.simple_cycles(graph)) == []


def test_nothing_imports_upward() -> None:
    wrong = []
    for path in python_files():
        top = path.split("/")[0]
        for module in imported_modules(path):
            target = module.split(".")[0]
            if top == "sentence_distill" and target in ("tasks", "flows"):
                wrong.append(f"library {path} imports {module}")
            if top == "tasks" and target == "tasks":
                wrong.append(f"stage {path} imports stage {module}")
            if top == "flows" and target == "tasks":
                wrong.append(f"flow {path} imports stage {module}")
    assert wrong == []


def test_package_init_files_hold_only_a_docstring() -> None:
    for path in python_files():
        if path.startswith("sentence_distill") and path.endswith("__init__.py"):
            body = ast.parse((ROOT / path).read_text()).body
            assert len(body) <= 1 and all(isinstance(node, ast.Expr) for node in body), path


def test_every_module_imports_resolve_to_files() -> None:
    """The import graph above is only as good as its edges: every project import names a file that exists."""
    missing = {m for path in python_files() for m in imported_modules(path) if not (ROOT / module_file(m)).is_file()}
    packages = {m for m in missing if (ROOT / m.replace(".", "/") / "__init__.py").is_file()}
    assert missing - packages == set()
