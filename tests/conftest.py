"""Fixtures both tiers use: a copy of the project in a temporary git repository, with the tiny profile. The fixtures
that run the pipeline or a Prefect server are the end-to-end tier's (``tests/e2e/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import make_project

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/e2e/`` ``e2e``, so that ``-m "not e2e"`` selects the fast tier anywhere; order
    the tests for the workers of `make test` (pytest-xdist, ``--dist loadscope --no-loadscope-reorder``: a module
    runs on one worker, so its module fixtures are built once; modules go out in this order).

    The order keeps both workers busy: first the module of the run with more students (its worker builds the
    shared tiny run, then that run), then the end-to-end modules that need no finished run (the other worker,
    meanwhile), then the rest, and the many short unit modules last, where they even out the workers' ends.
    """

    def phase(item: pytest.Item) -> int:
        if E2E_DIR not in item.path.parents:
            return 3
        if "more_students_run" in item.fixturenames:
            return 0
        return 2 if "tiny_pipeline_run" in item.fixturenames else 1

    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=phase)  # stable: each phase keeps the collection's order


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
