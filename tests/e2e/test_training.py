"""Distillation training: deterministic on CPU, a killed run resumes from its last complete checkpoint,
and checkpoints never outlive the run, or the data, they were made for. The training curves
(DVCLive) have one row per logged step, survive a resume without gaps or repeats, and are what
`dvc plots show` and `dvc metrics show` read."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from sentence_transformers import SentenceTransformer

from sentence_distill import assets
from sentence_distill.config.schema import DistillParams, StudentSpec
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.models import open_teacher_cache
from sentence_distill.records.student import StudentMetrics
from sentence_distill.students.build import prune_layers
from sentence_distill.students.trainer import training_inputs
from tests.project import TEST_ENV, run
from tests.unit.test_matryoshka import MINILM

CHECKPOINTS = Path(".work/checkpoints/L1")
TRAINING_LOG = Path("metrics/students/L1/training")  # DVCLive's folder: metrics.json, plots/metrics/**.tsv
# The tiny profile: max_steps 8, eval_steps 4, so the trainer logs the loss every 2 steps and evaluates every 4.
LOGGED_STEPS = {
    "train/loss": [2, 4, 6, 8],
    "train/learning_rate": [2, 4, 6, 8],
    "train/grad_norm": [2, 4, 6, 8],
    "eval/stsb_dev_spearman": [4, 8],
    "eval/heldout_mse": [4, 8],
}


def curves(project: Path) -> dict[str, list[tuple[int, float]]]:
    """The student's DVCLive series, ``{"train/loss": [(step, value), ...], ...}``, as written on disk."""
    folder = project / TRAINING_LOG / "plots" / "metrics"
    found = {}
    for path in sorted(folder.rglob("*.tsv")):
        with path.open(newline="") as rows:
            found[path.relative_to(folder).with_suffix("").as_posix()] = [
                (int(row["step"]), float(row[path.stem])) for row in csv.DictReader(rows, delimiter="\t")
            ]
    return found


def assert_same_curves(resumed: dict, uninterrupted: dict) -> None:
    """The same steps in each series, each once, and the same values (as the resumed model's are)."""
    assert {name: [step for step, _ in rows] for name, rows in resumed.items()} == LOGGED_STEPS
    assert {name: [step for step, _ in rows] for name, rows in uninterrupted.items()} == LOGGED_STEPS
    for name, rows in resumed.items():
        for (step, value), (_, expected) in zip(rows, uninterrupted[name], strict=True):
            # the trainer rounds the logged loss to 4 decimals: a last-digit flip is within float noise
            assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1.01e-4 if name == "train/loss" else 0.0), (
                name,
                step,
            )


def state_written(checkpoint: Path) -> bool:
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_text()), dict)
    except (OSError, ValueError):
        return False


def kill_training_when(project: Path, reached: Callable[[], bool], interval: float = 0.2) -> None:
    """Train L1 in a subprocess and SIGKILL it as soon as ``reached()`` holds."""
    process = subprocess.Popen(
        ["python", "-m", "tasks.student", "L1"],
        cwd=project,
        env=TEST_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while not reached():
        assert process.poll() is None, "training ended before the point it was to be killed at"
        assert time.monotonic() < deadline, "training did not get there within 10 minutes"
        time.sleep(interval)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_training_resumes_and_matches_an_uninterrupted_run(finished_project: Path) -> None:
    project = finished_project
    assert not (project / CHECKPOINTS).exists(), "a finished run left checkpoints to resume from"
    uninterrupted = json.loads((project / "metrics/students/L1.json").read_text())
    uninterrupted_curves = curves(project)
    kill_training_when(project, lambda: state_written(project / CHECKPOINTS / "checkpoint-4"))
    assert [step for step, _ in curves(project)["eval/stsb_dev_spearman"]][:1] == [4], (
        "the killed run logged its curves"
    )

    run(["python", "-m", "tasks.student", "L1"], project)
    resumed = json.loads((project / "metrics/students/L1.json").read_text())
    assert resumed["resumed_from"] == "checkpoint-4"
    assert resumed["steps"] == uninterrupted["steps"] == 8
    assert abs(resumed["best_stsb_dev_spearman"] - uninterrupted["best_stsb_dev_spearman"]) < 1e-6
    assert resumed["best_step"] == uninterrupted["best_step"]
    assert not (project / CHECKPOINTS).exists()
    # Steps 2 and 4 come from the checkpoint's log history, 6 and 8 from the resumed run: none lost, none twice.
    assert_same_curves(curves(project), uninterrupted_curves)


def test_checkpoints_of_other_training_data_are_not_resumed(finished_project: Path) -> None:
    project = finished_project
    kill_training_when(project, lambda: state_written(project / CHECKPOINTS / "checkpoint-4"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    # fewer sentences: the checkpoint left behind was trained on the old ones (another seed would also set aside
    # other evaluation articles, and validate would refuse the profile's own tasks, made of the old ones)
    params["prepare"]["max_sentences"] -= 20
    (project / "params.yaml").write_text(yaml.safe_dump(params))

    result = run(["dvc", "repro", "student@L1"], project)
    assert "Running stage 'prepare'" in result.stdout
    metrics = json.loads((project / "metrics/students/L1.json").read_text())
    assert metrics["resumed_from"] is None
    assert metrics["steps"] == 8
    assert {name: [step for step, _ in rows] for name, rows in curves(project).items()} == LOGGED_STEPS


def test_training_killed_while_writing_a_checkpoint_resumes_from_the_last_complete_one(finished_project: Path) -> None:
    project = finished_project
    uninterrupted = json.loads((project / "metrics/students/L1.json").read_text())
    uninterrupted_curves = curves(project)
    half_written = project / CHECKPOINTS / "checkpoint-8"
    kill_training_when(project, half_written.is_dir, interval=0.01)
    # Make the half-write certain whatever the moment of the kill: no state yet, the weights cut short.
    (half_written / "trainer_state.json").unlink(missing_ok=True)
    weights = half_written / "model.safetensors"
    if weights.is_file():
        os.truncate(weights, weights.stat().st_size // 2)

    result = run(["python", "-m", "tasks.student", "L1"], project)
    assert "checkpoint-8 is incomplete" in result.stderr
    resumed = json.loads((project / "metrics/students/L1.json").read_text())
    assert resumed["resumed_from"] == "checkpoint-4"
    assert resumed["steps"] == 8
    assert abs(resumed["best_stsb_dev_spearman"] - uninterrupted["best_stsb_dev_spearman"]) < 1e-6
    assert SentenceTransformer(str(project / "models/L1/student")).encode(["It loads."]).shape == (1, 384)
    # The killed run had logged steps 6 and 8 (and evaluated step 8) before it died writing checkpoint-8;
    # the resumed run logs them again from checkpoint-4: they are in the curves once.
    assert_same_curves(curves(project), uninterrupted_curves)


def test_training_curves_are_in_dvc_plots_and_metrics(finished_project: Path) -> None:
    """What `dvc repro` left: DVCLive's series, `dvc plots show` drawing them by step, and the best
    step and its STSb dev score in `dvc metrics show`."""
    project = finished_project
    series = curves(project)
    assert {name: [step for step, _ in rows] for name, rows in series.items()} == LOGGED_STEPS
    student = json.loads((project / "metrics/students/L1.json").read_text())
    dev = dict(series["eval/stsb_dev_spearman"])
    assert dev[student["best_step"]] == student["best_stsb_dev_spearman"] == max(dev.values())
    assert all(0 < value < 1 for _, value in series["eval/heldout_mse"] + series["train/loss"])
    last = json.loads((project / TRAINING_LOG / "metrics.json").read_text())
    assert (
        last["step"] == 8
        and last["eval"]["stsb_dev_spearman"] == dev[8]
        and last["train"]["loss"] == series["train/loss"][-1][1]
    )

    plots = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)
    for name, steps in LOGGED_STEPS.items():
        (plot,) = plots["data"][f"{TRAINING_LOG}/plots/metrics/{name}.tsv"]
        assert plot["content"]["encoding"]["x"]["field"] == "step"
        assert [int(point["step"]) for point in plot["content"]["data"]["values"]] == steps

    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)[""]["data"]
    best = shown["metrics/students/L1.json"]["data"]
    assert (best["best_step"], best["best_stsb_dev_spearman"]) == (
        student["best_step"],
        student["best_stsb_dev_spearman"],
    )
    assert shown[f"{TRAINING_LOG}/metrics.json"]["data"] == last


def test_a_student_trains_on_the_first_train_sentences_it_is_given(
    tiny_pipeline_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``distill.train_sentences``: the first N training sentences and their teacher targets, recorded; more than
    the corpus has, or none, is every sentence."""
    monkeypatch.chdir(tiny_pipeline_run)
    cache, every = open_teacher_cache(), corpus_sentences("train")
    student = prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0])
    _, inputs, data = training_inputs(StudentSpec(layers=[0]), student, cache, DistillParams(train_sentences=10))
    assert inputs["train_texts"] == every[:10] and data == {"train_sentences": 10}
    record = {"name": "L1", "source": MINILM, "layers": 1, "trained": True, "parameters": 1, **data}
    assert StudentMetrics.from_dict(record).to_dict() == record  # what the student stage writes
    assert np.array_equal(inputs["train_targets"], cache.lookup(every[:10]))
    assert inputs["heldout_texts"] == corpus_sentences("heldout")
    for params in (DistillParams(train_sentences=len(every) + 1), DistillParams()):
        _, inputs, data = training_inputs(StudentSpec(layers=[0]), student, cache, params)
        assert inputs["train_texts"] == every and data == {}
