"""Benchmark: the speed of every built model, timed side by side in one process against the teacher.

``python -m tasks.benchmark`` (stage ``benchmark``) loads the teacher and every model the params
build (each student, its int8 copies, its PCA models and their int8 copies) and times them on one
fixed sentence set in interleaved rounds (``sentence_distill/benchmark.py`` says how).

Writes ``metrics/benchmark.json`` (``sentence_distill/records/benchmark.py``): per model its throughput,
speed-ups and latency, and an ``environment`` block (CPU, cores, threads, device, library versions, git
commit). This is the only place the project measures speed: the report reads it.
"""

from __future__ import annotations

import sys

from sentence_distill.benchmark import run_benchmark
from sentence_distill.cli import stage_main
from sentence_distill.config.load import load_or_exit
from sentence_distill.paths import BENCHMARK_FILE


def main(argv: list[str] | None = None) -> int:
    if argv if argv is not None else sys.argv[1:]:
        print("usage: python -m tasks.benchmark  (settings: the benchmark section of params.yaml)", file=sys.stderr)
        return 2
    run_benchmark(load_or_exit(check_inputs=False)).write(BENCHMARK_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
