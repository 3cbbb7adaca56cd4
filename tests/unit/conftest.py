"""Fixtures of the unit tier: a small run's metric files (teacher, two pruned students, their PCA, int8 and
embedding-precision variants), which both the report's rows and its sections read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentence_distill.config.load import parse_params
from tests.project import ROOT
from tests.report_runs import ENVIRONMENT, precision, quality, speed, write_run


@pytest.fixture
def metrics(tmp_path: Path) -> tuple[Path, Path, object]:
    """Teacher 0.80 (6 layers); L3 0.795 at 1.8x [1.7-1.9]; its int8 copy 0.792 at 3.0x; L3-pca64 0.789 at
    1.85x, inside L3's spread, keeps 102% on the three other task families; L2 0.76 at 2.6x and its int8 copy at
    4.0x; embedding precisions of each."""
    files = {
        "teacher": {
            "teacher": quality(0.80),
            "teacher-emb-uint8": precision(0.795, 384, "uint8"),
            "teacher-emb-binary": precision(0.70, 384, "binary"),
        },
        "L3": {
            "L3": quality(0.795),
            "L3-onnx-int8": quality(0.792),
            "L3-emb-int8": precision(0.788, 384, "int8"),
            "L3-emb-binary": precision(0.69, 384, "binary"),
        },
        "L3-pca64": {
            "L3-pca64": quality(0.789, 64, others=1.02),
            "L3-pca64-onnx-int8": quality(0.776, 64),
            "L3-pca64-emb-int8": precision(0.779, 64, "int8"),
        },
        "L2": {"L2": quality(0.76), "L2-onnx-int8": quality(0.755), "L2-emb-int8": precision(0.758, 384, "int8")},
        "L2-pca64": {
            "L2-pca64": quality(0.75, 64),
            "L2-pca64-onnx-int8": quality(0.745, 64),
            "L2-pca64-emb-int8": precision(0.749, 64, "int8"),
        },
    }
    benchmark = {
        "method": {
            "sentences": 256,
            "batch_size": 32,
            "latency_queries": 32,
            "rounds": 7,
            "min_seconds": 0.2,
            "seed": 42,
            "seconds": 10.0,
        },
        "environment": ENVIRONMENT,
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
    eval_dir, benchmark_file = write_run(tmp_path, files, benchmark)
    raw = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    raw["students"] = {"L3": {"num_layers": 3}, "L2": {"layers": [0, 5]}}
    raw["pca"]["dims"] = [64]
    raw["evaluate"]["tasks"] = []  # hand-made metrics of a run without own tasks (test_own_task_report has some)
    return eval_dir, benchmark_file, parse_params(raw)
