"""The end-to-end fixtures: the tiny profile run once by `dvc repro` and shared, a test's own copy of it, the run
with students of the other kinds added, and one real Prefect server per worker."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from tests.prefect_server import start_server, stop
from tests.project import make_project, run


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(project)`` once per session, also when pytest-xdist runs the suite on several workers (`make test`).

    A run takes minutes, so the workers share it: the first to need it builds it in the session's shared
    temporary folder while holding a lock, and the others wait for it and read it. Tests never change it.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's folder lies in the session's own
    project, built = base / name / "project", base / name / "built"
    with FileLock(base / f"{name}.lock"):
        if not built.exists():
            shutil.rmtree(project.parent, ignore_errors=True)  # a build that failed half-way starts afresh
            project.parent.mkdir(parents=True)
            build(project)
            built.touch()
    return project


@pytest.fixture(scope="session")
def tiny_pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny profile run once end to end with `dvc repro`, for tests that only read it.

    Tests never change it (a test that does takes ``finished_project``), so its dvc.lock stays the one
    a sequential `dvc repro` wrote.
    """

    def build(project: Path) -> None:
        make_project(project)
        run(["dvc", "repro"], project)

    return built_once(tmp_path_factory, "tiny-pipeline", build)


@pytest.fixture(scope="session")
def more_students_run(tiny_pipeline_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The finished tiny run with students of the other kinds added, in one `dvc repro`: static S0 (distilled
    only) and S (also refined), M1, L1's layer trained as a Matryoshka student on the first 64 training sentences
    (in bfloat16), and N1, L1's layer untrained with neither PCA nor int8 models."""

    def build(project: Path) -> None:
        shutil.copytree(tiny_pipeline_run, project, symlinks=True)
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["students"] |= {
            "S0": {"static": True, "train": False},
            "S": {"static": True, "distill": {"learning_rate": 0.05}},
            "M1": {"layers": [0], "matryoshka_dims": [32, 16], "distill": {"train_sentences": 64, "precision": "bf16"}},
            "N1": {"layers": [0], "train": False, "pca": False, "quantize": False},
        }
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        result = run(["dvc", "repro"], project, timeout=1800)  # about 4 min on a quiet machine
        assert "Running stage 'student@L1'" not in result.stdout  # the students already built are not touched

    return built_once(tmp_path_factory, "more-students", build)


@pytest.fixture
def finished_project(tiny_pipeline_run: Path, tmp_path: Path) -> Path:
    """A test's own copy of the finished run: seconds to copy, where a run takes minutes.

    The copy takes .git and .dvc/cache with it, run-cache included, so DVC finds it up to date and
    restores a stage it has seen before instead of running it.
    """
    project = tmp_path / "finished"
    shutil.copytree(tiny_pipeline_run, project, symlinks=True)
    return project


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``prefect server start`` (``tests/prefect_server.py``), one for the session's worker: its start takes
    tens of seconds. Tests share it, so each finds its own runs by id, never by assuming an empty server."""
    process, server = start_server(tmp_path_factory.mktemp("prefect-home"))
    try:
        yield server
    finally:
        stop(process)
