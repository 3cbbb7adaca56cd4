"""A stage run before the stage that writes its input (a fresh clone, a stage run by hand) ends with one line naming
the missing file and the ``dvc repro`` that writes it, and exit status 2: no traceback."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from sentence_distill.cli import stage_main
from tests.project import ROOT, make_project, run

MISSING = [  # (case, the error as the libraries raise it, given the project folder; the line printed)
    (
        "open()'s filename",
        lambda root: FileNotFoundError(2, "No such file or directory", "data/teacher.json"),
        "error: data/teacher.json is missing: run the stage that writes it first (dvc repro teacher_embeddings)",
    ),
    (
        "a message only",
        lambda root: FileNotFoundError("Path models/L1/student not found"),
        "error: models/L1/student is missing: run the stage that writes it first (dvc repro student@L1)",
    ),
    (
        "an absolute path in a folder a stage writes",
        lambda root: FileNotFoundError(str(root / "data/prepared/stsb_test.parquet")),
        "error: data/prepared/stsb_test.parquet is missing: run the stage that writes it first (dvc repro prepare)",
    ),
    (
        "a matrix stage's file",
        lambda root: FileNotFoundError("metrics/eval/L1-pca32.json not found"),
        "error: metrics/eval/L1-pca32.json is missing: run the stage that writes it first "
        "(dvc repro evaluate_pca@L1-32)",
    ),
    (
        "a file no stage writes",
        lambda root: FileNotFoundError("data/elsewhere.json"),
        "error: data/elsewhere.json is missing: run the stage that writes it first (dvc repro)",
    ),
]


@pytest.mark.parametrize(("case", "error", "line"), MISSING, ids=[c[0] for c in MISSING])
def test_a_missing_stage_output_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, case: str, error, line: str
) -> None:
    shutil.copy2(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stage"])

    def main(argv: list[str]) -> int:
        raise error(tmp_path)

    assert stage_main(main) == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_other_errors_keep_their_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing file the user gives (under inputs/) is no stage's output: a bug or the user's, shown in full."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stage"])

    def main(argv: list[str]) -> int:
        raise FileNotFoundError(2, "No such file or directory", "inputs/data/corpus.txt")

    with pytest.raises(FileNotFoundError):
        stage_main(main)


def test_a_stage_message_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class Stale(RuntimeError):
        pass

    monkeypatch.setattr(sys, "argv", ["stage", "L1"])

    def main(argv: list[str]) -> int:
        raise Stale(f"{argv[0]} changed after it was evaluated")

    assert stage_main(main, messages=(Stale,)) == 2
    assert capsys.readouterr().err.splitlines() == ["error: L1 changed after it was evaluated"]


STAGES = [  # (command on a fresh copy of the project, without data/, models/ or metrics/; the one line)
    (
        ["tasks.teacher_embeddings"],
        "error: data/prepared/corpus.parquet is missing: run the stage that writes it first (dvc repro prepare)",
    ),
    (["tasks.release"], "error: dvc.lock is missing: run the pipeline (dvc repro) before a release"),
]


def test_stages_run_before_their_upstream_print_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")

    def files() -> list[Path]:
        return sorted(p for p in project.rglob("*") if "__pycache__" not in p.parts)

    before = files()
    for command, line in STAGES:
        result = run(["python", "-m", *command], project, check=False, timeout=300)
        assert (result.returncode, result.stderr.splitlines()) == (2, [line]), result.stderr
    assert files() == before
