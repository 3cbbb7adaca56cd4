"""Distillation training: deterministic on CPU, and a killed run resumes from its last checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import TEST_ENV, run


def test_killed_training_resumes_and_matches_an_uninterrupted_run(tiny_pipeline_run: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(tiny_pipeline_run, project, symlinks=True)
    uninterrupted = json.loads((project / "metrics/students/L1.json").read_text())
    checkpoints = project / ".work/checkpoints/L1"
    shutil.rmtree(checkpoints)

    process = subprocess.Popen(
        ["python", "-m", "tasks.student", "L1"], cwd=project, env=TEST_ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while not (checkpoints / "checkpoint-4" / "trainer_state.json").is_file():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    run(["python", "-m", "tasks.student", "L1"], project)
    resumed = json.loads((project / "metrics/students/L1.json").read_text())
    assert resumed["resumed_from"] == "checkpoint-4"
    assert resumed["steps"] == uninterrupted["steps"] == 8
    assert abs(resumed["best_stsb_dev_spearman"] - uninterrupted["best_stsb_dev_spearman"]) < 1e-6
    assert resumed["best_step"] == uninterrupted["best_step"]
