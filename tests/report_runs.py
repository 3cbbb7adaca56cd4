"""Hand-made metric files for the report's tests, with known answers: a model's figures, its measured speed, and a
run's ``metrics/eval``-like files and benchmark file. A plain module: ``tests/unit/conftest.py`` and the report tests
import it."""

from __future__ import annotations

import json
from pathlib import Path

# The benchmark's record of the machine, as a test run's metrics/benchmark.json carries it.
ENVIRONMENT = {
    "cpu": "test CPU",
    "int8_isa": "avx512_vnni",
    "cores": 2,
    "threads": 2,
    "device": "cpu",
    "gpu": None,
    "python": "3.11.7",
    "versions": {},
    "git_commit": "abcdef0",
}


def quality(stsb: float, dimension: int = 384, others: float | None = None) -> dict:
    """A model's figures; the three other families keep ``others`` of the teacher's (default: its STSb share)."""
    others = stsb / 0.80 if others is None else others
    shares = {
        "stsb_test_kept": stsb / 0.80,
        "classification_kept": others,
        "clustering_kept": others,
        "retrieval_kept": others,
    }
    return {
        "dimension": dimension,
        "bytes_per_embedding": 4 * dimension,
        "stsb_test_spearman": stsb,
        "disk_bytes": 1_000_000,
        **shares,
        "families_kept_mean": sum(shares.values()) / 4,
    }


def precision(stsb: float, dimension: int, kind: str) -> dict:
    shares = {k: stsb / 0.80 for k in ("stsb_test_kept", "classification_kept", "clustering_kept", "retrieval_kept")}
    return {
        "dimension": dimension,
        "bytes_per_embedding": dimension // 8 if kind == "binary" else dimension,
        "stsb_test_spearman": stsb,
        **shares,
        "families_kept_mean": stsb / 0.80,
    }


def speed(median: float, q1: float, q3: float, fp32: str, own: float = 1.0, layers: int | None = None) -> dict:
    entry = {
        "device": "cpu",
        "sentences_per_second": {"median": 100 * median, "q1": 100 * q1, "q3": 100 * q3},
        "speedup_vs_teacher": {"median": median, "q1": q1, "q3": q3},
        "speedup_vs_fp32": {"median": own, "q1": own, "q3": own},
        "fp32_model": fp32,
        "repetitions": 1,
        "latency_ms": {"p50": 10 / median, "p95": 12 / median},
    }
    if layers is not None:
        entry["architecture"] = {"model_type": "bert", "layers": layers, "hidden_size": 384}
    return entry


def write_run(tmp_path: Path, files: dict, benchmark: dict) -> tuple[Path, Path]:
    """``metrics/eval``-like files (one per evaluate stage: its variants' figures) and a benchmark file."""
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    for name, variants in files.items():
        (eval_dir / f"{name}.json").write_text(json.dumps({"variants": variants}))
    benchmark_file = tmp_path / "benchmark.json"
    benchmark_file.write_text(json.dumps(benchmark))
    return eval_dir, benchmark_file
