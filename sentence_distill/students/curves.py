"""The training curves: the trainer's logs (loss, STSb dev Spearman, held-out MSE by step) written with DVCLive
to ``metrics/students/<name>/training``, and the header-only files of a student that is not trained."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dvclive import Live
from transformers import TrainerCallback

DEV_METRIC = "eval_sts-dev_spearman_cosine"
HELDOUT_METRIC = "eval_heldout_negative_mse"  # MSEEvaluator: minus the MSE to the teacher's targets, times 100
# a parallel student's dev translations against their sources' targets
PARALLEL_DEV_METRIC = "eval_parallel-dev_negative_mse"
# The trainer's log keys the training curves keep, by their DVCLive names (plots/metrics/<name>.tsv).
# Not its timings (eval_runtime, train_runtime, ..._per_second): they differ on every run.
CURVES = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    DEV_METRIC: "eval/stsb_dev_spearman",
    HELDOUT_METRIC: "eval/heldout_mse",
    PARALLEL_DEV_METRIC: "eval/parallel_dev_mse",
}


class TrainingCurves(TrainerCallback):
    """Records the trainer's logs with DVCLive in ``folder``: one row per logging or evaluation step,
    at the trainer's global step, in ``plots/metrics/{train,eval}/<name>.tsv``; ``metrics.json``
    holds the last values.

    DVCLive is only a writer of files here: no ``dvc.yaml`` of its own (the project's declares the
    folder), no experiment saved, no report, no Studio, no ``next_step``/``end`` (their VS Code signal
    files). Every run starts the folder afresh; a resumed run first writes the logs its checkpoint
    holds (``state.log_history``), so its curves are an uninterrupted run's: the steps the killed run
    logged after that checkpoint are logged again once, the ones before it are kept.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.live: Live | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.live = open_training_log(self.folder)
        for entry in state.log_history:
            self._record(entry["step"], entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.live is not None:
            self._record(state.global_step, logs or {})

    def _record(self, step: int, logs: dict) -> None:
        values = {name: float(logs[key]) for key, name in CURVES.items() if key in logs}
        if not values:
            return
        for name in ("eval/heldout_mse", "eval/parallel_dev_mse"):
            if name in values:
                values[name] = -values[name]
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, value)
        self.live.make_summary()


def open_training_log(folder: Path) -> Live:
    """A DVCLive logger writing to an emptied ``folder`` and nowhere else."""
    shutil.rmtree(folder, ignore_errors=True)
    os.environ["DVC_STUDIO_OFFLINE"] = "true"  # else DVCLive posts to DVC Studio when a token is configured
    live = Live(dir=str(folder), resume=False, report=None, dvcyaml=None, save_dvc_exp=False, monitor_system=False)
    # the declared plots folder, even with nothing logged
    Path(live.plots_dir, "metrics").mkdir(parents=True, exist_ok=True)
    return live


def untrained_training_log(folder: Path) -> None:
    """A student that is not trained: every series with its header and no rows, and an empty ``metrics.json``.

    Header-only files, not an empty folder: git keeps no empty folder, so a clone would miss the
    declared plots output and `dvc status` there would not be clean; `dvc plots show` draws them empty.
    """
    live = open_training_log(folder)
    live.make_summary()
    for key, series in CURVES.items():
        if key == PARALLEL_DEV_METRIC:  # only a parallel student has it, and it is always trained
            continue
        path = Path(live.plots_dir, "metrics", f"{series}.tsv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"step\t{Path(series).name}\n")
