"""The report with the user's own tasks, on hand-made metric files: ``select.rank_on`` names a task (its headline
figure) or ``own`` (the mean of the tasks' kept shares), and the tables, the summary and a model's card show each
task's share of the teacher's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentence_distill.config.schema import OwnTask
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.records.summary import Summary
from sentence_distill.release.figures import figures
from sentence_distill.report.build import build_report
from sentence_distill.report.rows import best_student, collect_rows, ranked_name

NDCG = {"teacher": 0.5, "L2": 0.6, "L2-onnx-int8": 0.55}  # every other variant: 0.3


def with_own_task(metrics):
    """The ``metrics`` fixture's files, each variant scored on one retrieval task, ``search``, on which L2 is the
    best student (above the teacher)."""
    eval_dir, benchmark_file, params = metrics
    for file in eval_dir.glob("*.json"):
        data = json.loads(file.read_text())
        for label, variant in data["variants"].items():
            ndcg = NDCG.get(label, 0.3)
            kept = ndcg / NDCG["teacher"]
            figures = {"ndcg_at_10": ndcg, "mrr_at_10": ndcg}
            variant["own_tasks"] = {
                "search": {"kind": "retrieval", "headline": "ndcg_at_10", "figures": figures, "kept": kept}
            }
            variant["own_tasks_kept_mean"] = kept
        file.write_text(json.dumps(data))
    task = OwnTask(name="search", kind="retrieval", data="inputs/tasks/search")
    evaluate = params.evaluate.model_copy(update={"tasks": [task]})
    return eval_dir, benchmark_file, params.model_copy(update={"evaluate": evaluate})


def ranking_on(params, rank_on: str):
    return params.model_copy(update={"select": params.select.model_copy(update={"rank_on": rank_on})})


@pytest.mark.parametrize("rank_on", ["search", "own"])
def test_ranking_on_an_own_task_or_their_mean(metrics, rank_on: str) -> None:
    eval_dir, benchmark_file, params = with_own_task(metrics)
    rows = {r.model: r for r in collect_rows(ranking_on(params, rank_on), eval_dir, benchmark_file)}
    expected = 0.6 if rank_on == "search" else 0.6 / 0.5
    assert rows["L2"].quality == pytest.approx(expected)
    assert best_student(list(rows.values())).model == "L2"  # on STSb, L3 is
    assert best_student(collect_rows(params, eval_dir, benchmark_file)).model == "L3"
    assert "search" in ranked_name(rank_on) or "own tasks" in ranked_name(rank_on)


def test_tables_summary_and_card_show_each_tasks_share(metrics, tmp_path: Path) -> None:
    eval_dir, benchmark_file, params = with_own_task(metrics)
    summary_file = tmp_path / "summary.json"
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, summary_file, ranking_on(params, "search"))
    assert "| search | own mean | sentences/s |" in text
    assert "| L2 * | 384 | 76.00 | -5.00% | 95.0% | 95.0% | 95.0% | 95.0% | 120.0% | 120.0% | 260 |" in text
    assert (
        "| L3-pca64-emb-int8 | 64 | int8 | 64 | 77.90 | -2.62% | 97.4% | 97.4% | 97.4% | 97.4% | 60.0% | 60.0% |"
        in (text)
    )
    summary = Summary.read(summary_file)
    assert summary.own_tasks_kept["L2"] == {"search": pytest.approx(1.2), "own": pytest.approx(1.2)}
    assert "L2-emb-int8" not in summary.own_tasks_kept  # models only, as the summary's other figures
    rows, results = figures("L2", EvaluationFile.read(eval_dir / "L2.json").variants)
    own = [r for r in rows if r["Task family"].startswith("Your task")]
    assert {r["Metric"]: r["Value"] for r in own} == {
        "ndcg_at_10": "0.6000",
        "mrr_at_10": "0.6000",
        "ndcg_at_10 / teacher's": "1.2000",
        "Mean of their shares of the teacher": "1.2000",
    }
    assert [(r.dataset_name, r.metric_value) for r in results if r.dataset_name == "search"] == [("search", 0.6)]
