"""The release's guard: a card never shows figures that were not measured on the model in its folder, and
``release/selected/`` is never a model picked on older figures."""

from __future__ import annotations

from pathlib import Path

import yaml

from sentence_distill.paths import eval_file
from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.records.selection import Selection
from sentence_distill.report.rows import ranked_figure

LOCK_FILE = Path("dvc.lock")


class StaleFigures(RuntimeError):
    """A card would show figures that were not measured on the model in the folder."""


def check_lock(folders: list[Path], lock_file: Path = LOCK_FILE) -> None:
    """Each folder's hash where a stage wrote it must be the hash the evaluation stage read.

    ``dvc.lock`` holds both (outs of student/pca/quantize, deps of evaluate/evaluate_pca); they differ
    when a model was rebuilt after it was evaluated and evaluation was not rerun (``dvc repro -s``,
    or the release stage run by hand). It is read as DVC's record of what each stage wrote and read:
    a guard, not an input (no card's content comes from it), so it is no dep of the stage.
    """
    if not lock_file.exists():
        raise StaleFigures(f"{lock_file} is missing: run the pipeline (dvc repro) before a release")
    stages = yaml.safe_load(lock_file.read_text())["stages"]
    written: dict[str, str] = {}
    read: dict[str, set[str]] = {}
    for stage, entry in stages.items():
        for out in entry.get("outs", []):
            written[out["path"]] = out.get("md5", "")
        if stage.startswith("evaluate"):
            for dep in entry.get("deps", []):
                read.setdefault(dep["path"], set()).add(dep.get("md5", ""))
    for folder in folders:
        # an int8 folder is one backend under its stage's output folder: compare that output
        path = next((p for p in (folder.as_posix(), folder.parent.as_posix()) if p in written), None)
        if path is None:
            raise StaleFigures(f"{folder}: no stage in {lock_file} writes it")
        if read.get(path) != {written[path]}:
            raise StaleFigures(f"{path} changed after it was evaluated: rerun the pipeline (dvc repro)")


def check_selection(
    selected_file: Path, targets: dict[str, tuple[str, str, int | None]], eval_dir: Path, benchmark: BenchmarkFile
) -> Selection:
    """The report stage's selection, once the chosen model's score and speed-up are the run's figures (they differ
    when the release stage runs by hand after a model was evaluated or timed again and the report was not).
    ``targets``: the run's model folders, ``label -> (student, group, dim)``."""
    selection = Selection.read(selected_file)
    chosen = selection.chosen
    if chosen is None:
        return selection
    if chosen.runs_as not in targets:
        raise StaleFigures(
            f"{selected_file} selects {chosen.model} (runs as {chosen.runs_as}), not a model of this run: "
            "rerun the report stage (dvc repro)"
        )
    name, _, dim = targets[chosen.runs_as]
    measured = EvaluationFile.read(eval_file(name, dim, eval_dir)).variants.get(chosen.model)
    speed = benchmark.models.get(chosen.runs_as)
    same_score = measured is not None and ranked_figure(measured, selection.rule.rank_on) == chosen.score
    if not same_score or speed is None or speed.speedup_vs_teacher != chosen.speedup:
        raise StaleFigures(
            f"{selected_file} was written from older figures of {chosen.model}: rerun the report stage (dvc repro)"
        )
    return selection
