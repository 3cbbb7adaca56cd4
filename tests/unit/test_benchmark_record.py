"""The benchmark record as its readers use it: the run-to-run check (``bench/repeat_benchmark.py``) on two records
(each model's two median speed-ups, their difference relative to the smaller, the exit status the threshold gives),
and the report's lines naming the machine and what the int8 rows hold for."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.repeat_benchmark import repeats
from sentence_distill.records.benchmark import (
    BenchmarkEnvironment,
    BenchmarkFile,
    BenchmarkMethod,
    Latency,
    ModelSpeed,
    Spread,
)
from sentence_distill.report.tables import int8_note, machine_text
from tests.project import ROOT, run


def benchmark(speedups: dict[str, float], int8_isa: str = "avx512_vnni") -> BenchmarkFile:
    """A benchmark record with these median speed-ups over the teacher (the teacher's own 1.0 added)."""
    models = {
        label: ModelSpeed(
            device="cpu",
            sentences_per_second=Spread(100 * x, 90 * x, 110 * x),
            speedup_vs_teacher=Spread(x, 0.9 * x, 1.1 * x),
            speedup_vs_fp32=Spread(1.0, 1.0, 1.0),
            fp32_model=label,
            repetitions=1 if x < 10 else 40,
            latency_ms=Latency(10 / x, 12 / x),
        )
        for label, x in {"teacher": 1.0, **speedups}.items()
    }
    return BenchmarkFile(
        method=BenchmarkMethod(
            sentences=256, batch_size=32, latency_queries=32, rounds=7, min_seconds=0.2, seed=42, seconds=90.0
        ),
        environment=BenchmarkEnvironment(
            cpu="AMD EPYC",
            int8_isa=int8_isa,
            cores=2,
            threads=2,
            device="cpu",
            gpu=None,
            python="3.11.7",
            versions={},
            git_commit="abcdef0",
        ),
        models=models,
    )


def test_the_difference_is_relative_to_the_smaller_speed_up() -> None:
    rows = {r.model: r for r in repeats(benchmark({"L3": 2.0, "S": 100.0}), benchmark({"L3": 2.2, "S": 80.0}))}
    assert rows["teacher"].difference == 0.0
    assert abs(rows["L3"].difference - 0.1) < 1e-12 and abs(rows["S"].difference - 0.25) < 1e-12


def test_the_exit_status_says_whether_every_model_repeats(tmp_path: Path) -> None:
    first, close, far = tmp_path / "first.json", tmp_path / "close.json", tmp_path / "far.json"
    benchmark({"L3": 2.0, "S": 100.0}).write(first)
    benchmark({"L3": 2.1, "S": 95.0}).write(close)
    benchmark({"L3": 2.1, "S": 62.2}).write(far)
    command = [sys.executable, "-m", "bench.repeat_benchmark", "--compare", str(first)]
    within = run([*command, str(close)], ROOT, check=False, timeout=120)
    assert within.returncode == 0, within.stderr
    assert ["S", "100.00x", "95.00x", "5.3%", "yes"] in [line.split() for line in within.stdout.splitlines()]
    assert within.stdout.splitlines()[-1] == "3 of 3 models within 10%"
    beyond = run([*command, str(far)], ROOT, check=False, timeout=120)
    assert beyond.returncode == 1, beyond.stderr
    assert ["S", "100.00x", "62.20x", "60.8%", "NO"] in [line.split() for line in beyond.stdout.splitlines()]
    assert beyond.stdout.splitlines()[-1] == "2 of 3 models within 10%; beyond it: S"


def test_the_report_names_the_machine_and_what_the_int8_rows_hold_for() -> None:
    vnni = benchmark({"L3": 2.0})
    assert machine_text(vnni) == (
        "Speed measured on: **AMD EPYC** (2 cores), int8 instructions **avx512_vnni**, **2 threads** (torch, ONNX "
        "Runtime and OpenVINO alike), device cpu, commit `abcdef0`."
    )
    assert int8_note(vnni) == (
        "int8 rows: measured with avx512_vnni (int8 dot products); CPUs with AVX2 only get far less from int8."
    )
    assert int8_note(benchmark({"L3": 2.0}, int8_isa="avx2")) == (
        "int8 rows: measured with avx2, without int8 dot products (VNNI, AMX); CPUs that have them get more."
    )
