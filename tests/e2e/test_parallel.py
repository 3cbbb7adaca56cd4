"""A parallel student (the stand-in pairs) through the Prefect flow: translation retrieval improves, and DVC
records every stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from bench.parallel_standin import write_standin
from tests.e2e.test_pipeline import ran_stages, run_flow
from tests.prefect_server import PrefectServer
from tests.project import run
from tests.unit.test_parallel import STANDIN, parallel_params


@pytest.fixture(scope="session")
def parallel_run(
    tiny_pipeline_run: Path, tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer
) -> tuple[Path, str]:
    """The finished tiny run with the stand-in pairs and a parallel student P (all-MiniLM-L6-v2, the tiny
    teacher itself, so the teacher's row is P's base model before training), run by the Prefect flow."""
    project = tmp_path_factory.mktemp("parallel") / "project"
    shutil.copytree(tiny_pipeline_run, project, symlinks=True)
    write_standin(project / STANDIN)
    params = parallel_params(project)
    # its PCA models would add minutes and nothing this test reads
    params["students"] = {
        "P": {**params["students"]["P"], "distill": {"learning_rate": 5.0e-4, "epochs": 5}, "pca": False}
    }
    params["distill"] |= {"max_steps": -1, "eval_steps": 10}  # 5 epochs of the 114 training pairs, 40 steps of 16
    params["quantize"]["backends"] = ["onnx-int8"]  # one int8 runtime is enough to see its rows scored
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project, run_flow(project, server=prefect_server)


def test_a_parallel_student_goes_through_the_pipeline(parallel_run: tuple[Path, str]) -> None:
    project, output = parallel_run
    assert {"prepare", "teacher_embeddings", "student@P", "evaluate@P", "benchmark", "report"} <= set(
        ran_stages(output)
    )
    counts = json.loads((project / "metrics" / "prepare.json").read_text())["parallel"]
    assert counts["kept"] == counts["train"] + counts["dev"] + counts["heldout"] and counts["train"] > 100
    assert (counts["heldout"], counts["dev"]) == (100, 50)
    pairs = pq.read_table(project / "data" / "prepared" / "parallel.parquet")
    assert set(pairs["lang"].to_pylist()) == {"en-backwards"}
    trained = json.loads((project / "metrics" / "students" / "P.json").read_text())
    assert trained["parallel_pairs"] == counts["train"] and trained["steps"] == 5 * -(
        -counts["train"] // 16
    )  # 5 epochs of 16
    # its best step by its dev translations' MSE to the teacher's embeddings of their sources, not by STSb dev
    assert trained["selected_by"] == "eval/parallel_dev_mse"
    curve = {}
    for line in (
        (project / "metrics/students/P/training/plots/metrics/eval/parallel_dev_mse.tsv").read_text().splitlines()[1:]
    ):
        step, value = line.split("\t")
        curve[int(step)] = float(value)
    assert curve[trained["best_step"]] == pytest.approx(trained["best_parallel_dev_mse_x100"]) == min(curve.values())
    # every model is scored on the held-out pairs, and training on the pairs closes part of the language gap
    teacher = json.loads((project / "metrics" / "eval" / "teacher.json").read_text())["variants"]["teacher"]
    student = json.loads((project / "metrics" / "eval" / "P.json").read_text())["variants"]
    print(
        "translation accuracy, teacher (P before training):",
        teacher["translation_accuracy"],
        "P:",
        student["P"]["translation_accuracy"],
    )
    assert student["P"]["translation_accuracy"] > teacher["translation_accuracy"] + 0.05
    assert student["P"]["translation_mse_x100"] < teacher["translation_mse_x100"]
    assert "translation_accuracy" in student["P-onnx-int8"] and "translation_accuracy" in student["P-emb-int8"]
    report = (project / "reports" / "report.md").read_text()
    assert "## Translation retrieval (parallel data)" in report and "| P |" in report
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert summary["translation_accuracy"]["P"] == student["P"]["translation_accuracy"]
    # the flow recorded every stage with DVC: `dvc repro` finds nothing to do
    assert run(["dvc", "status"], project).stdout.strip() == "Data and pipelines are up to date."
