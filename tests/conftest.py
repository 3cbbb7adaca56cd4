"""Fixtures both tiers use: a copy of the project in a temporary git repository, with the tiny profile. The fixtures
that run the pipeline or a Prefect server are the end-to-end tier's (``tests/e2e/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import make_project


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
