"""Fixtures both tiers use: a copy of the project in a temporary git repository, with the tiny profile. The fixtures
that run the pipeline or a Prefect server are the end-to-end tier's (``tests/e2e/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import make_project

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/e2e/`` ``e2e``, so that ``-m "not e2e"`` selects the fast tier anywhere."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
