"""Run the benchmark stage twice, each in a fresh process, and say whether every model's median speed-up repeats.

    python -m bench.repeat_benchmark [--threshold 0.10] [--keep .work/benchmark-repeat]     (make bench-repeat)
    python -m bench.repeat_benchmark --compare FIRST.json SECOND.json

In a project whose models are built (after ``make run``), runs the benchmark stage's own command from ``dvc.yaml``
twice, one after the other, as the pipeline runs it. Each run's ``metrics/benchmark.json`` is kept under ``--keep``
(``run1.json``, ``run2.json``) and the project's ``metrics/benchmark.json`` is put back as it was: this is a check,
not a pipeline step, so DVC still sees the benchmark's outputs unchanged and the report still matches them.
``--compare`` compares two benchmark files already written, running nothing.

Prints, per model, both median speed-ups over the teacher, their difference relative to the smaller one, and
whether that is within ``--threshold``; exits 0 when every model's is, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sentence_distill.paths import BENCHMARK_FILE
from sentence_distill.records.benchmark import BenchmarkFile

KEEP_DIR = Path(".work/benchmark-repeat")


@dataclass(frozen=True)
class Repeat:
    """One model's median speed-up over the teacher in each of two benchmark runs."""

    model: str
    first: float
    second: float

    @property
    def difference(self) -> float:
        """How far apart the two are, relative to the smaller: each is within it of the other."""
        return abs(self.first - self.second) / min(self.first, self.second)


def repeats(first: BenchmarkFile, second: BenchmarkFile) -> list[Repeat]:
    if first.models.keys() != second.models.keys():
        raise SystemExit(f"the two runs timed different models: {sorted(first.models.keys() ^ second.models.keys())}")
    return [
        Repeat(label, first.models[label].speedup_vs_teacher.median, second.models[label].speedup_vs_teacher.median)
        for label in sorted(first.models)
    ]


def table(rows: list[Repeat], threshold: float) -> str:
    width = max(len(r.model) for r in rows)
    lines = [f"{'model':<{width}}  {'run 1':>8}  {'run 2':>8}  {'diff':>6}  within {threshold:.0%}"]
    for r in rows:
        within = "yes" if r.difference <= threshold else "NO"
        lines.append(f"{r.model:<{width}}  {r.first:7.2f}x  {r.second:7.2f}x  {r.difference:6.1%}  {within}")
    outside = [r.model for r in rows if r.difference > threshold]
    lines.append(
        f"{len(rows) - len(outside)} of {len(rows)} models within {threshold:.0%}"
        + (f"; beyond it: {', '.join(outside)}" if outside else "")
    )
    return "\n".join(lines)


def stage_command() -> str:
    """The benchmark stage's command as ``dvc.yaml`` gives it to DVC."""
    return yaml.safe_load(Path("dvc.yaml").read_text())["stages"]["benchmark"]["cmd"]


def run_twice(keep: Path) -> tuple[Path, Path]:
    """The stage's command twice, in fresh processes; their benchmark files kept; the project's put back."""
    keep.mkdir(parents=True, exist_ok=True)
    saved = keep / "project-benchmark.json"
    had_file = BENCHMARK_FILE.is_file()
    if had_file:
        shutil.copy2(BENCHMARK_FILE, saved)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    kept = []
    try:
        for number in (1, 2):
            started = time.perf_counter()
            subprocess.run(stage_command(), shell=True, check=True, env=env)
            record = BenchmarkFile.read(BENCHMARK_FILE)
            print(
                f"run {number}: {time.perf_counter() - started:.0f} s in all, {record.method.seconds:.0f} s timing",
                flush=True,
            )
            kept.append(keep / f"run{number}.json")
            shutil.copy2(BENCHMARK_FILE, kept[-1])
    finally:
        if had_file:
            shutil.copy2(saved, BENCHMARK_FILE)
            saved.unlink()
        else:
            BENCHMARK_FILE.unlink(missing_ok=True)
    return kept[0], kept[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=0.10, help="largest relative difference allowed")
    parser.add_argument("--keep", type=Path, default=KEEP_DIR, help="where both runs' benchmark files are kept")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("FIRST", "SECOND"), help="compare, run nothing")
    args = parser.parse_args(argv)
    first, second = args.compare or run_twice(args.keep)
    rows = repeats(BenchmarkFile.read(first), BenchmarkFile.read(second))
    print(table(rows, args.threshold))
    return 0 if all(r.difference <= args.threshold for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
