"""Parallel-data distillation: the pairs' checks, translation retrieval, and a parallel student through the flow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from bench.parallel_standin import backwards, write_standin
from sentence_distill.config.params import ParamsError, parse_params
from sentence_distill.evaluation.task_families import translation_scores
from tests.project import run
from tests.prefect_server import PrefectServer
from tests.test_pipeline import ran_stages, run_flow

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
    ("no target column", "source\ttranslation\nA man is drawing.\tA nam si .gniward\n", {},
     "prepare.parallel.target_column: column 'target' not in inputs/data/parallel-standin.tsv (columns: source, translation)"),
    ("empty", "", {}, "prepare.parallel.file: file 'inputs/data/parallel-standin.tsv' is empty (0 bytes)"),
    ("header only", "source\ttarget\n", {}, "prepare.parallel.file: inputs/data/parallel-standin.tsv has no rows"),
    ("one side blank", "source\ttarget\nA man is drawing.\t \nA woman grates onions.\t\n", {},
     "prepare.parallel.target_column: column 'target' of inputs/data/parallel-standin.tsv is blank on every one of its 2 rows"),
    ("too few pairs", "source\ttarget\nA man is drawing.\tA nam si .gniward\nA woman grates onions.\t\n",
     {"heldout_pairs": 1, "dev_pairs": 1}, "prepare.parallel.heldout_pairs: 1 and dev_pairs 1 leave no pair to train on: "
     "inputs/data/parallel-standin.tsv has 1 pairs with both sides (of 2 rows)"),
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


@pytest.fixture(scope="session")
def parallel_run(tiny_pipeline_run: Path, tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer) -> tuple[Path, str]:
    """The finished tiny run with the stand-in pairs and a parallel student P (all-MiniLM-L6-v2, the tiny
    teacher itself, so the teacher's row is P's base model before training), run by the Prefect flow."""
    project = tmp_path_factory.mktemp("parallel") / "project"
    shutil.copytree(tiny_pipeline_run, project, symlinks=True)
    write_standin(project / STANDIN)
    params = parallel_params(project)
    # its PCA models would add minutes and nothing this test reads
    params["students"] = {"P": {**params["students"]["P"], "distill": {"learning_rate": 5.0e-4, "epochs": 5}, "pca": False}}
    params["distill"] |= {"max_steps": -1, "eval_steps": 10}  # 5 epochs of the 114 training pairs, 40 steps of 16
    params["quantize"]["backends"] = ["onnx-int8"]  # one int8 runtime is enough to see its rows scored
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project, run_flow(project, server=prefect_server)


def test_a_parallel_student_goes_through_the_pipeline(parallel_run: tuple[Path, str]) -> None:
    project, output = parallel_run
    assert {"prepare", "teacher_embeddings", "student@P", "evaluate@P", "benchmark", "report"} <= set(ran_stages(output))
    counts = json.loads((project / "metrics" / "prepare.json").read_text())["parallel"]
    assert counts["kept"] == counts["train"] + counts["dev"] + counts["heldout"] and counts["train"] > 100
    assert (counts["heldout"], counts["dev"]) == (100, 50)
    pairs = pq.read_table(project / "data" / "prepared" / "parallel.parquet")
    assert set(pairs["lang"].to_pylist()) == {"en-backwards"}
    trained = json.loads((project / "metrics" / "students" / "P.json").read_text())
    assert trained["parallel_pairs"] == counts["train"] and trained["steps"] == 5 * -(-counts["train"] // 16)  # 5 epochs of 16
    # its best step by its dev translations' MSE to the teacher's embeddings of their sources, not by STSb dev
    assert trained["selected_by"] == "eval/parallel_dev_mse"
    curve = {}
    for line in (project / "metrics/students/P/training/plots/metrics/eval/parallel_dev_mse.tsv").read_text().splitlines()[1:]:
        step, value = line.split("\t")
        curve[int(step)] = float(value)
    assert curve[trained["best_step"]] == pytest.approx(trained["best_parallel_dev_mse_x100"]) == min(curve.values())
    # every model is scored on the held-out pairs, and training on the pairs closes part of the language gap
    teacher = json.loads((project / "metrics" / "eval" / "teacher.json").read_text())["variants"]["teacher"]
    student = json.loads((project / "metrics" / "eval" / "P.json").read_text())["variants"]
    print("translation accuracy, teacher (P before training):", teacher["translation_accuracy"], "P:", student["P"]["translation_accuracy"])
    assert student["P"]["translation_accuracy"] > teacher["translation_accuracy"] + 0.05
    assert student["P"]["translation_mse_x100"] < teacher["translation_mse_x100"]
    assert "translation_accuracy" in student["P-onnx-int8"] and "translation_accuracy" in student["P-emb-int8"]
    report = (project / "reports" / "report.md").read_text()
    assert "## Translation retrieval (parallel data)" in report and "| P |" in report
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert summary["translation_accuracy"]["P"] == student["P"]["translation_accuracy"]
    # the flow recorded every stage with DVC: `dvc repro` finds nothing to do
    assert run(["dvc", "status"], project).stdout.strip() == "Data and pipelines are up to date."


def test_a_bad_parallel_file_stops_the_run_with_status_2_and_writes_nothing(tiny_project: Path) -> None:
    (tiny_project / STANDIN).parent.mkdir(parents=True, exist_ok=True)
    (tiny_project / STANDIN).write_text("source\ttarget\nA man is drawing.\t\n", encoding="utf-8")
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(parallel_params(tiny_project), sort_keys=False))
    for stage in ("tasks.validate", "tasks.prepare"):  # prepare checks again: the file may change after validation
        result = run(["python", "-m", stage], tiny_project, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "prepare.parallel.target_column: column 'target' of inputs/data/parallel-standin.tsv is blank" in result.stderr
    assert not (tiny_project / "data").exists()
