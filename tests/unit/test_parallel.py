"""Parallel-data distillation: the pairs' checks and translation retrieval (a parallel student through the flow:
``tests/e2e/test_parallel.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.parallel_standin import backwards, write_standin
from sentence_distill.config.load import ParamsError, parse_params
from sentence_distill.evaluation.task_families import translation_scores
from tests.project import run

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
STANDIN = "inputs/data/parallel-standin.tsv"


def test_translation_retrieval_on_known_cases() -> None:
    rng = np.random.default_rng(0)
    sources = rng.normal(size=(20, 8))
    same = translation_scores(sources, sources * 3)  # the same directions: every pair found, no gap
    assert same["translation_accuracy"] == 1.0 and same["translation_mse_x100"] == pytest.approx(0, abs=1e-12)
    swapped = sources.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # two targets exchanged: those two sources find the other's
    scores = translation_scores(sources, swapped)
    assert scores["translation_accuracy_source_to_target"] == scores["translation_accuracy_target_to_source"] == 18 / 20
    random = translation_scores(rng.normal(size=(400, 64)), rng.normal(size=(400, 64)))
    assert random["translation_accuracy"] < 0.03  # chance is 1/400
    assert random["translation_mse_x100"] == pytest.approx(100 * 2 / 64, rel=0.1)  # unit vectors at about 90 degrees


def test_the_standin_targets_are_the_sources_paraphrase_spelt_backwards(tmp_path: Path) -> None:
    assert backwards("A man is drawing.") == "A nam si .gniward"
    count = write_standin(tmp_path / "pairs.tsv")
    lines = (tmp_path / "pairs.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "source\ttarget\tlang" and len(lines) == count + 1 and count > 250


def parallel_params(project: Path, **parallel) -> dict:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["prepare"]["parallel"] = {"file": STANDIN, "heldout_pairs": 100, "dev_pairs": 50, **parallel}
    params["students"]["P"] = {"model": MINILM, "parallel": True}
    return params


BAD_FILES = [
    (
        "no target column",
        "source\ttranslation\nA man is drawing.\tA nam si .gniward\n",
        {},
        "prepare.parallel.target_column: column 'target' not in inputs/data/parallel-standin.tsv "
        "(columns: source, translation)",
    ),
    ("empty", "", {}, "prepare.parallel.file: file 'inputs/data/parallel-standin.tsv' is empty (0 bytes)"),
    ("header only", "source\ttarget\n", {}, "prepare.parallel.file: inputs/data/parallel-standin.tsv has no rows"),
    (
        "one side blank",
        "source\ttarget\nA man is drawing.\t \nA woman grates onions.\t\n",
        {},
        "prepare.parallel.target_column: column 'target' of inputs/data/parallel-standin.tsv "
        "is blank on every one of its 2 rows",
    ),
    (
        "too few pairs",
        "source\ttarget\nA man is drawing.\tA nam si .gniward\nA woman grates onions.\t\n",
        {"heldout_pairs": 1, "dev_pairs": 1},
        "prepare.parallel.heldout_pairs: 1 and dev_pairs 1 leave no pair to train on: "
        "inputs/data/parallel-standin.tsv has 1 pairs with both sides (of 2 rows)",
    ),
]


@pytest.mark.parametrize(("case", "content", "options", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_a_bad_parallel_file_is_named_before_any_model_loads(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch, case: str, content: str, options: dict, message: str
) -> None:
    (tiny_project / STANDIN).parent.mkdir(parents=True, exist_ok=True)
    (tiny_project / STANDIN).write_text(content, encoding="utf-8")
    monkeypatch.chdir(tiny_project)
    with pytest.raises(ParamsError) as error:
        parse_params(parallel_params(tiny_project, **options))
    assert message in str(error.value)


def test_a_parallel_student_needs_parallel_data(tiny_project: Path) -> None:
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["students"]["P"] = {"model": MINILM, "parallel": True}
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["python", "-m", "tasks.validate"], tiny_project, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "students.P.parallel: true needs prepare.parallel" in result.stderr
    assert not (tiny_project / "data").exists()  # nothing written


def test_a_bad_parallel_file_stops_the_run_with_status_2_and_writes_nothing(tiny_project: Path) -> None:
    (tiny_project / STANDIN).parent.mkdir(parents=True, exist_ok=True)
    (tiny_project / STANDIN).write_text("source\ttarget\nA man is drawing.\t\n", encoding="utf-8")
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(parallel_params(tiny_project), sort_keys=False))
    for stage in ("tasks.validate", "tasks.prepare"):  # prepare checks again: the file may change after validation
        result = run(["python", "-m", stage], tiny_project, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert (
            "prepare.parallel.target_column: column 'target' of inputs/data/parallel-standin.tsv is blank"
            in result.stderr
        )
    assert not (tiny_project / "data").exists()
