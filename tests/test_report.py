"""The report's figures on hand-made metric files with known answers: joins, speed-ups, fronts, best student."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.benchmark import Timed, quartiles, summarise
from tasks.params import parse_params
from tasks.report import (
    best_student,
    build_report,
    collect_rows,
    fastest_within_one_point,
    model_rows,
    pareto_front,
    plot,
    sanity_warnings,
    storage_front,
)

ROOT = Path(__file__).resolve().parents[1]


def quality(stsb: float, dimension: int = 384, others: float | None = None) -> dict:
    """A model's figures; the three other families keep ``others`` of the teacher's (default: its STSb share)."""
    others = stsb / 0.80 if others is None else others
    shares = {"stsb_test_kept": stsb / 0.80, "classification_kept": others, "clustering_kept": others, "retrieval_kept": others}
    return {"dimension": dimension, "bytes_per_embedding": 4 * dimension, "stsb_test_spearman": stsb, "disk_bytes": 1_000_000,
            **shares, "families_kept_mean": sum(shares.values()) / 4}


def precision(stsb: float, dimension: int, kind: str) -> dict:
    shares = {k: stsb / 0.80 for k in ("stsb_test_kept", "classification_kept", "clustering_kept", "retrieval_kept")}
    return {"dimension": dimension, "bytes_per_embedding": dimension // 8 if kind == "binary" else dimension, "stsb_test_spearman": stsb,
            **shares, "families_kept_mean": stsb / 0.80}


def speed(median: float, q1: float, q3: float, fp32: str, own: float = 1.0, layers: int | None = None) -> dict:
    entry = {
        "device": "cpu",
        "sentences_per_second": {"median": 100 * median, "q1": 100 * q1, "q3": 100 * q3},
        "speedup_vs_teacher": {"median": median, "q1": q1, "q3": q3},
        "speedup_vs_fp32": {"median": own, "q1": own, "q3": own},
        "fp32_model": fp32,
        "latency_ms": {"p50": 10 / median, "p95": 12 / median},
    }
    if layers is not None:
        entry["architecture"] = {"model_type": "bert", "layers": layers, "hidden_size": 384}
    return entry


@pytest.fixture
def metrics(tmp_path: Path) -> tuple[Path, Path, object]:
    """Teacher 0.80 (6 layers); L3 0.795 at 1.8x [1.7-1.9]; its int8 copy 0.792 at 3.0x; L3-pca64 0.789 at
    1.85x, inside L3's spread, keeps 102% on the three other task families; L2 0.76 at 2.6x and its int8 copy at 4.0x; embedding precisions of each."""
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    files = {
        "teacher": {"teacher": quality(0.80), "teacher-emb-uint8": precision(0.795, 384, "uint8"),
                    "teacher-emb-binary": precision(0.70, 384, "binary")},
        "L3": {"L3": quality(0.795), "L3-onnx-int8": quality(0.792), "L3-emb-int8": precision(0.788, 384, "int8"),
               "L3-emb-binary": precision(0.69, 384, "binary")},
        "L3-pca64": {"L3-pca64": quality(0.789, 64, others=1.02), "L3-pca64-onnx-int8": quality(0.776, 64),
                     "L3-pca64-emb-int8": precision(0.779, 64, "int8")},
        "L2": {"L2": quality(0.76), "L2-onnx-int8": quality(0.755), "L2-emb-int8": precision(0.758, 384, "int8")},
        "L2-pca64": {"L2-pca64": quality(0.75, 64), "L2-pca64-onnx-int8": quality(0.745, 64),
                     "L2-pca64-emb-int8": precision(0.749, 64, "int8")},
    }
    for name, variants in files.items():
        (eval_dir / f"{name}.json").write_text(json.dumps({"variants": variants}))
    benchmark = {
        "method": {"sentences": 256, "batch_size": 32, "latency_queries": 32, "rounds": 7, "seed": 42},
        "environment": {"cpu": "test CPU", "cores": 2, "threads": 2, "device": "cpu", "git_commit": "abcdef0"},
        "models": {
            "teacher": speed(1.0, 1.0, 1.0, "teacher", layers=6),
            "L3": speed(1.8, 1.7, 1.9, "L3", layers=3),
            "L3-onnx-int8": speed(3.0, 2.8, 3.2, "L3", own=1.67),
            "L3-pca64": speed(1.85, 1.75, 1.95, "L3-pca64"),
            "L3-pca64-onnx-int8": speed(2.9, 2.7, 3.1, "L3-pca64", own=1.6),
            "L2": speed(2.6, 2.5, 2.7, "L2", layers=2),
            "L2-onnx-int8": speed(4.0, 3.8, 4.2, "L2", own=1.5),
            "L2-pca64": speed(2.6, 2.5, 2.7, "L2-pca64"),
            "L2-pca64-onnx-int8": speed(3.9, 3.7, 4.1, "L2-pca64", own=1.5),
        },
    }
    benchmark_file = tmp_path / "benchmark.json"
    benchmark_file.write_text(json.dumps(benchmark))
    raw = __import__("yaml").safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    raw["students"] = {"L3": {"num_layers": 3}, "L2": {"layers": [0, 5]}}
    raw["pca"]["dims"] = [64]
    return eval_dir, benchmark_file, parse_params(raw)


def test_rows_join_quality_and_speed(metrics) -> None:
    eval_dir, benchmark_file, params = metrics
    rows = {r["model"]: r for r in collect_rows(params, eval_dir, benchmark_file)}
    assert len(rows) == 16
    assert rows["L3-onnx-int8"]["speedup"] == 3.0 and rows["L3-onnx-int8"]["speedup_vs_fp32"] == 1.67
    assert rows["L3-onnx-int8"]["stsb_test_kept"] == pytest.approx(0.792 / 0.80)
    assert rows["L3-emb-int8"]["kind"] == "embedding" and "speedup" not in rows["L3-emb-int8"]
    assert rows["L3-emb-int8"]["base"] == "L3" and rows["L3-emb-int8"]["precision"] == "int8"


def test_a_model_missing_from_the_benchmark_is_an_error(metrics) -> None:
    eval_dir, benchmark_file, params = metrics
    data = json.loads(benchmark_file.read_text())
    del data["models"]["L2-pca64"]
    benchmark_file.write_text(json.dumps(data))
    with pytest.raises(KeyError, match="no figures for L2-pca64"):
        collect_rows(params, eval_dir, benchmark_file)


def test_fronts_best_student_and_fastest_within_one_point(metrics) -> None:
    eval_dir, benchmark_file, params = metrics
    rows = collect_rows(params, eval_dir, benchmark_file)
    models = [r for r in rows if r["kind"] == "model"]
    # L3-pca64 (1.85x) is inside L3's spread (1.7-1.9x) and scores lower: L3 beats it.
    # L2 (2.6x, 0.76) is slower than L3-onnx-int8 (3.0x, 0.792) beyond the spread: beaten.
    assert pareto_front(models) == {"teacher", "L3", "L3-onnx-int8", "L2-onnx-int8"}
    assert best_student(rows)["model"] == "L3"  # the teacher's embedding precisions are not students
    assert fastest_within_one_point(rows)["model"] == "L3-onnx-int8"  # 0.792 >= 0.80 - 0.01; L3-pca64 at 0.789 is not
    storage = [r for r in rows if r["kind"] == "embedding" or r["fp32_model"] == r["model"]]
    assert {r["model"] for r in storage} >= {"teacher", "L3", "L3-pca64", "L3-emb-binary"}
    assert "L3-onnx-int8" not in {r["model"] for r in storage}
    # teacher-emb-uint8: 384 bytes at 0.795 beats every 384-byte int8 embedding and the float32 students.
    assert storage_front(storage) == {"teacher", "teacher-emb-uint8", "L3-pca64", "L3-pca64-emb-int8", "teacher-emb-binary"}


def test_ranking_on_the_average_of_the_task_families(metrics) -> None:
    """rank_on: average ranks by the mean kept share: L3-pca64, below L3 on STSb but above it on the
    other families (101% in the mean), becomes the best student and beats even the teacher."""
    eval_dir, benchmark_file, params = metrics
    params = params.model_copy(update={"report": params.report.model_copy(update={"rank_on": "average"})})
    rows = collect_rows(params, eval_dir, benchmark_file)
    assert best_student(rows)["model"] == "L3-pca64"
    assert pareto_front(model_rows(rows)) == {"L3-pca64", "L3-onnx-int8", "L2-onnx-int8"}  # above the teacher, and faster
    assert best_student(collect_rows(metrics[2], eval_dir, benchmark_file))["model"] == "L3"  # on STSb, as before


def test_sanity_flags_fewer_layers_measured_slower(metrics) -> None:
    eval_dir, benchmark_file, params = metrics
    benchmark = json.loads(benchmark_file.read_text())
    rows = collect_rows(params, eval_dir, benchmark_file)
    assert sanity_warnings(rows, benchmark) == []
    benchmark["models"]["L2"] = speed(1.5, 1.4, 1.6, "L2", layers=2)  # below L3's 1.7-1.9x
    benchmark_file.write_text(json.dumps(benchmark))
    rows = collect_rows(params, eval_dir, benchmark_file)
    [warning] = sanity_warnings(rows, benchmark)
    assert warning.startswith("L2 (2 layers) measured slower than L3 (3 layers) beyond the spread")
    benchmark["models"]["L2"] = speed(1.65, 1.55, 1.75, "L2", layers=2)  # slower, but inside the spread
    benchmark_file.write_text(json.dumps(benchmark))
    assert sanity_warnings(collect_rows(params, eval_dir, benchmark_file), benchmark) == []


def test_report_files(metrics, tmp_path: Path) -> None:
    eval_dir, benchmark_file, params = metrics
    text = build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    assert "| L3-onnx-int8 * | 384 | 79.20 | -1.00% | 99.0% | 99.0% | 99.0% | 99.0% | 300 | 3.00x [2.80-3.20] | 1.67x |" in text
    assert "| L3-pca64-emb-int8 * | 64 | int8 | 64 | 77.90 | -2.62% | 97.4% | 97.4% | 97.4% | 97.4% |" in text
    assert "7 interleaved rounds" in text and "2 threads" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best_student"] == "L3" and summary["fastest_within_one_point"] == "L3-onnx-int8"
    for name in ("models.png", "embeddings.png", "models.json", "embeddings.json"):
        assert (tmp_path / "reports" / name).stat().st_size > 0
    assert {r["model"] for r in json.loads((tmp_path / "reports" / "models.json").read_text())} == {
        "teacher", "L3", "L3-onnx-int8", "L3-pca64", "L3-pca64-onnx-int8", "L2", "L2-onnx-int8", "L2-pca64", "L2-pca64-onnx-int8"
    }


def test_chart_labels_never_overlap(tmp_path: Path) -> None:
    points = [(1.0 + 0.01 * i, 80 + 0.02 * (i % 5), f"L{i}-pca128-openvino-int8", i % 3 == 0) for i in range(30)]
    boxes = plot(points, "x", "y", "crowded", tmp_path / "crowded.png")
    assert len(boxes) == 30
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_speedups_are_per_round_ratios_then_the_median() -> None:
    # Round 2 is about twice as slow for everyone (a busy neighbour): per-round ratios are unaffected.
    teacher = Timed(None, "cpu", "teacher", "teacher", seconds=[1.0, 2.0, 1.2], latencies=[0.010, 0.012, 0.011])
    student = Timed(None, "cpu", "teacher", "student", seconds=[0.5, 1.0, 0.6], latencies=[0.004, 0.005, 0.100])
    int8 = Timed(None, "cpu", "teacher", "student", seconds=[0.25, 0.8, 0.4], latencies=[0.002] * 3)
    result = summarise({"teacher": teacher, "student": student, "student-int8": int8}, sentences=100)
    assert result["student"]["speedup_vs_teacher"] == {"median": 2.0, "q1": 2.0, "q3": 2.0}
    assert result["student-int8"]["speedup_vs_teacher"] == pytest.approx({"median": 3.0, "q1": 2.75, "q3": 3.5})  # 4.0, 2.5, 3.0
    assert result["student-int8"]["speedup_vs_fp32"]["median"] == pytest.approx(1.5)  # ratios 2.0, 1.25, 1.5
    assert result["student"]["sentences_per_second"]["median"] == pytest.approx(100 / 0.6)
    assert result["student"]["latency_ms"]["p50"] == pytest.approx(5.0)
    assert result["student"]["latency_ms"]["p95"] == pytest.approx(100.0)
    assert quartiles([4.0, 2.5, 3.0]) == (2.75, 3.0, 3.5)
