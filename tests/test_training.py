"""Distillation training: deterministic on CPU, a killed run resumes from its last complete checkpoint,
and checkpoints never outlive the run, or the data, they were made for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from sentence_transformers import SentenceTransformer

from tests.conftest import TEST_ENV, run

CHECKPOINTS = Path(".work/checkpoints/L1")


def state_written(checkpoint: Path) -> bool:
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_text()), dict)
    except (OSError, ValueError):
        return False


def kill_training_when(project: Path, reached: Callable[[], bool], interval: float = 0.2) -> None:
    """Train L1 in a subprocess and SIGKILL it as soon as ``reached()`` holds."""
    process = subprocess.Popen(
        ["python", "-m", "tasks.student", "L1"], cwd=project, env=TEST_ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
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
    kill_training_when(project, lambda: state_written(project / CHECKPOINTS / "checkpoint-4"))

    run(["python", "-m", "tasks.student", "L1"], project)
    resumed = json.loads((project / "metrics/students/L1.json").read_text())
    assert resumed["resumed_from"] == "checkpoint-4"
    assert resumed["steps"] == uninterrupted["steps"] == 8
    assert abs(resumed["best_stsb_dev_spearman"] - uninterrupted["best_stsb_dev_spearman"]) < 1e-6
    assert resumed["best_step"] == uninterrupted["best_step"]
    assert not (project / CHECKPOINTS).exists()


def test_checkpoints_of_other_training_data_are_not_resumed(finished_project: Path) -> None:
    project = finished_project
    kill_training_when(project, lambda: state_written(project / CHECKPOINTS / "checkpoint-4"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["prepare"]["seed"] += 1  # other sentences: the checkpoint left behind was trained on the old ones
    (project / "params.yaml").write_text(yaml.safe_dump(params))

    result = run(["dvc", "repro", "student@L1"], project)
    assert "Running stage 'prepare'" in result.stdout
    metrics = json.loads((project / "metrics/students/L1.json").read_text())
    assert metrics["resumed_from"] is None
    assert metrics["steps"] == 8


def test_training_killed_while_writing_a_checkpoint_resumes_from_the_last_complete_one(finished_project: Path) -> None:
    project = finished_project
    uninterrupted = json.loads((project / "metrics/students/L1.json").read_text())
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
