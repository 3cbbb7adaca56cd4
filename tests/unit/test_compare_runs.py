"""bench/compare_runs.py on two hand-made finished runs: each model's figures, before and after, in its row."""

from __future__ import annotations

import json
from pathlib import Path

from bench.compare_runs import figure_differences, table


def finished_run(root: Path, stsb_kept: float, speedup: float) -> Path:
    (root / "reports").mkdir(parents=True)
    (root / "metrics" / "eval").mkdir(parents=True)
    rows = [
        {"model": "L3", "families_kept_mean": 99.0, "speedup": speedup},
        {"model": "N", "families_kept_mean": 90.0, "speedup": 3.0},
    ]
    (root / "reports" / "models.json").write_text(json.dumps(rows))
    own = {"titles": {"kept": 0.9, "figures": {}}}
    variants = {"L3": {"stsb_test_kept": stsb_kept, "own_tasks": own}, "N": {"stsb_test_kept": 0.5}}
    (root / "metrics" / "eval" / "L3.json").write_text(json.dumps({"variants": variants}))
    return root


def test_each_model_shows_its_figures_before_and_after(tmp_path: Path) -> None:
    before = finished_run(tmp_path / "a", 0.9791, 1.96)
    after = finished_run(tmp_path / "b", 0.9953, 1.99)
    lines = table(before, after, [], None).splitlines()
    assert lines[0] == "| model | STSb test kept | four-family mean kept | titles kept | speed-up |"
    assert lines[2] == "| L3 | 97.91% → 99.53% | 99.00% → 99.00% | 90.0% → 90.0% | 1.96x → 1.99x |"
    assert lines[3] == "| N | 50.00% → 50.00% | 90.00% → 90.00% | - → - | 3.00x → 3.00x |"
    assert table(before, after, ["N"], "titles").splitlines()[2:] == [lines[3]]


def test_the_figures_that_differ_are_counted_per_file_and_times_are_not_figures(tmp_path: Path) -> None:
    before, after = finished_run(tmp_path / "a", 0.9791, 1.96), finished_run(tmp_path / "b", 0.9953, 1.99)
    for run, seconds in ((before, 10.0), (after, 12.0)):
        (run / "metrics" / "students").mkdir()
        (run / "metrics" / "students" / "L3.json").write_text(json.dumps({"best_step": 500, "train_seconds": seconds}))
    same, differ = figure_differences(before, after)
    assert differ == {"metrics/eval/L3.json": 1} and same == 3  # stsb kept differs; own kept, N's stsb, best step
