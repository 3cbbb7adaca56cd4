"""Students: build one (keep some of the teacher's layers, or take a smaller model) and distill it with MSE.

Reads ``params.students.<name>``, ``params.distill`` (with the student's own ``distill`` overrides),
``params.teacher.model``, the prepared corpus and the teacher's targets from the embedding cache
(never re-encoded). Writes the best checkpoint by STSb dev Spearman to ``models/<name>/student``
and ``metrics/students/<name>.json``, and the training curves (loss, STSb dev Spearman, held-out
MSE by step) with DVCLive to ``metrics/students/<name>/training``. Training checkpoints live in
``.work/checkpoints/<name>`` so a killed run resumes from its last complete one; they are kept only
for a run with the same inputs (training data, STSb dev, teacher targets, student, distill params,
training code) and removed once the model is saved.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
import zipfile
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import torch
from dvclive import Live
from safetensors import SafetensorError, safe_open
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.evaluation import MSEEvaluator, SequentialEvaluator
from sentence_transformers.sentence_transformer.losses import MSELoss
from sklearn.decomposition import PCA
from transformers import TrainerCallback, set_seed

from tasks.cli import configure_logging, run_for_student
from tasks.corpus import corpus_sentences, stsb_evaluator
from tasks.fileio import atomic_dir, write_json
from tasks.models import describe_model, load_model, open_teacher_cache
from tasks.params import DistillParams, Params, StudentSpec
from tasks.paths import CHECKPOINTS_DIR, PREPARED_DIR, student_dir, student_metrics_file, training_log_dir

log = logging.getLogger(__name__)

DEV_METRIC = "eval_sts-dev_spearman_cosine"
HELDOUT_METRIC = "eval_heldout_negative_mse"  # MSEEvaluator: minus the MSE to the teacher's targets, times 100
# The trainer's log keys the training curves keep, by their DVCLive names (plots/metrics/<name>.tsv).
# Not its timings (eval_runtime, train_runtime, ..._per_second): they differ on every run.
CURVES = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    DEV_METRIC: "eval/stsb_dev_spearman",
    HELDOUT_METRIC: "eval/heldout_mse",
}
TRAINING_DATA = ("corpus.parquet", "stsb_dev.parquet")  # what training reads from the prepared data
CHECKPOINT_ARCHIVES = ("optimizer.pt", "scheduler.pt", "rng_state.pth")  # torch.save zip files the trainer resumes from


def kept_layers(spec: StudentSpec, teacher_layers: int) -> list[int]:
    """Indices of the teacher layers a pruned student keeps, in order."""
    if spec.layers is not None:
        return list(spec.layers)
    count = spec.num_layers or teacher_layers
    if spec.strategy == "first":
        return list(range(count))
    if spec.strategy == "last":
        return list(range(teacher_layers - count, teacher_layers))
    return sorted({round(i * (teacher_layers - 1) / max(count - 1, 1)) for i in range(count)}) if count > 1 else [0]


def layer_stack(encoder: torch.nn.Module, num_layers: int) -> tuple[torch.nn.Module, str]:
    """The (parent, attribute) holding the encoder's transformer layers, found by shape not by name.

    BERT, RoBERTa and MPNet keep them in ``encoder.layer``, DistilBERT in ``transformer.layer``;
    searching for the one ModuleList of ``num_hidden_layers`` blocks works for all of them.
    """
    candidates = [
        (parent, attr)
        for _, parent in encoder.named_modules()
        for attr, child in parent.named_children()
        if isinstance(child, torch.nn.ModuleList) and len(child) == num_layers
    ]
    if len(candidates) != 1:
        raise ValueError(f"cannot find the layer stack of {type(encoder).__name__}: {len(candidates)} candidates")
    return candidates[0]


def prune_layers(model: SentenceTransformer, keep: list[int]) -> SentenceTransformer:
    """Keep only the listed transformer layers, and record the count in the config so a reload agrees."""
    encoder = model[0].auto_model
    parent, attr = layer_stack(encoder, encoder.config.num_hidden_layers)
    layers = getattr(parent, attr)
    setattr(parent, attr, torch.nn.ModuleList([layers[i] for i in keep]))
    encoder.config.num_hidden_layers = len(keep)
    return model


def build_student(spec: StudentSpec, teacher_ref: str) -> tuple[SentenceTransformer, dict]:
    if spec.model is not None:
        model = load_model(spec.model)
        return model, {"source": spec.model, "layers": model[0].auto_model.config.num_hidden_layers}
    model = load_model(teacher_ref)
    teacher_layers = model[0].auto_model.config.num_hidden_layers
    keep = kept_layers(spec, teacher_layers)
    prune_layers(model, keep)
    return model, {"source": teacher_ref, "layers": len(keep), "kept_layers": keep}


def project_targets(train: np.ndarray, others: list[np.ndarray], dimension: int, seed: int) -> list[np.ndarray]:
    """Project teacher targets to the student's size with PCA, as the reference's bias-free Dense on the teacher."""
    pca = PCA(n_components=dimension, random_state=seed).fit(train)
    return [x @ pca.components_.T.astype(np.float32) for x in [train, *others]]


class CachedMSEEvaluator(MSEEvaluator):
    """``MSEEvaluator`` whose teacher side comes from the embedding cache instead of encoding again."""

    def __init__(self, sentences: list[str], teacher_embeddings: np.ndarray, **kwargs) -> None:
        self._teacher_embeddings = teacher_embeddings
        super().__init__(source_sentences=sentences, target_sentences=sentences, teacher_model=None, **kwargs)

    def embed_inputs(self, model, sentences, **kwargs):
        if model is None:
            return self._teacher_embeddings
        return super().embed_inputs(model, sentences, **kwargs)


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
        if "eval/heldout_mse" in values:
            values["eval/heldout_mse"] = -values["eval/heldout_mse"]
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, value)
        self.live.make_summary()


def open_training_log(folder: Path) -> Live:
    """A DVCLive logger writing to an emptied ``folder`` and nowhere else."""
    shutil.rmtree(folder, ignore_errors=True)
    os.environ["DVC_STUDIO_OFFLINE"] = "true"  # else DVCLive posts to DVC Studio when a token is configured
    live = Live(dir=str(folder), resume=False, report=None, dvcyaml=None, save_dvc_exp=False, monitor_system=False)
    Path(live.plots_dir, "metrics").mkdir(parents=True, exist_ok=True)  # the declared plots folder, even with nothing logged
    return live


def untrained_training_log(folder: Path) -> None:
    """A student that is not trained: every series with its header and no rows, and an empty ``metrics.json``.

    Header-only files, not an empty folder: git keeps no empty folder, so a clone would miss the
    declared plots output and `dvc status` there would not be clean; `dvc plots show` draws them empty.
    """
    live = open_training_log(folder)
    live.make_summary()
    for series in CURVES.values():
        path = Path(live.plots_dir, "metrics", f"{series}.tsv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"step\t{Path(series).name}\n")


def project_sources(module: str) -> list[Path]:
    """Source files of ``module`` and of every project module it imports, directly or through another."""
    found: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = path = Path(importlib.util.find_spec(name).origin)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "tasks":
                pending += [f"tasks.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tasks."):
                pending.append(node.module)
            elif isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names if alias.name.startswith("tasks.")]
    return sorted(found.values())


def training_run_key(name: str, spec: StudentSpec, params: DistillParams, teacher_ref: str, teacher_fingerprint: str) -> str:
    """Hash of everything the trained model depends on: the training, held-out and STSb dev data, the
    teacher and its targets, the student, the distill params and the training code."""
    digest = hashlib.sha256(
        json.dumps([name, spec.model_dump(), params.model_dump(), teacher_ref, teacher_fingerprint]).encode()
    )
    for path in [*(PREPARED_DIR / file for file in TRAINING_DATA), *project_sources("tasks.student")]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_complete_checkpoint(folder: Path) -> bool:
    """Whether the trainer finished writing ``folder``: its state parses, weights and archives are whole."""
    try:
        json.loads((folder / "trainer_state.json").read_text())
        with safe_open(str(folder / "model.safetensors"), framework="pt"):
            pass
        for name in CHECKPOINT_ARCHIVES:
            zipfile.ZipFile(folder / name).close()  # a truncated file has no central directory
    except (OSError, ValueError, SafetensorError, zipfile.BadZipFile):
        return False
    return True


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint in ``folder`` that is complete; newer, half-written ones are removed."""
    numbered = [p for p in folder.glob("checkpoint-*") if p.name.removeprefix("checkpoint-").isdigit()]
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.removeprefix("checkpoint-")), reverse=True):
        if is_complete_checkpoint(checkpoint):
            return checkpoint
        log.warning("%s is incomplete (a run was killed while writing it): removed", checkpoint)
        shutil.rmtree(checkpoint)
    if numbered:
        log.warning("no complete checkpoint in %s: training starts from step 0", folder)
    return None


def _fresh_checkpoint_dir(folder: Path, run_key: str) -> Path:
    """Checkpoints are reused only by a run with the same inputs; anything else starts clean."""
    marker = folder / "run_key.txt"
    if folder.exists() and (not marker.is_file() or marker.read_text() != run_key):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(run_key)
    return folder


def distill(
    student: SentenceTransformer,
    train_texts: list[str],
    train_targets: np.ndarray,
    heldout_texts: list[str],
    heldout_targets: np.ndarray,
    params: DistillParams,
    checkpoint_dir: Path,
    log_dir: Path,
) -> tuple[SentenceTransformer, dict]:
    """Train ``student`` to reproduce the targets with ``MSELoss``; return the best step by STSb dev."""
    if len(train_texts) < params.batch_size:
        raise ValueError(
            f"distill.batch_size: {params.batch_size} is larger than the {len(train_texts)} training sentences"
        )
    set_seed(params.seed)
    dimension = train_targets.shape[1]
    labels = pa.FixedSizeListArray.from_arrays(pa.array(train_targets.reshape(-1), pa.float32()), dimension)
    train_dataset = datasets.Dataset(pa.table({"sentence": train_texts, "label": labels}))
    steps_per_epoch = -(-len(train_texts) // params.batch_size)
    total_steps = params.max_steps if params.max_steps > 0 else int(np.ceil(steps_per_epoch * params.epochs))
    eval_steps = min(params.eval_steps, total_steps)
    evaluator = SequentialEvaluator(
        [
            stsb_evaluator("dev", batch_size=params.batch_size),
            CachedMSEEvaluator(heldout_texts, heldout_targets, name="heldout", batch_size=params.batch_size),
        ]
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size,
        per_device_eval_batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        warmup_ratio=params.warmup_ratio,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=DEV_METRIC,
        greater_is_better=True,
        logging_steps=max(1, eval_steps // 2),
        seed=params.seed,
        data_seed=params.seed,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=student, args=args, train_dataset=train_dataset, loss=MSELoss(student), evaluator=evaluator,
        callbacks=[TrainingCurves(log_dir)],
    )
    resume = last_complete_checkpoint(checkpoint_dir)
    if resume:
        log.info("resuming training from %s", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    best = trainer.state.best_model_checkpoint
    return trainer.model, {
        "train_seconds": round(time.perf_counter() - started, 1),
        "steps": trainer.state.global_step,
        "best_step": int(best.rsplit("-", 1)[-1]) if best else trainer.state.global_step,
        "best_stsb_dev_spearman": trainer.state.best_metric,
        "resumed_from": resume.name if resume else None,
    }


def train_student(name: str, params: Params) -> dict:
    spec = params.students[name]
    teacher_cache = open_teacher_cache()
    student, facts = build_student(spec, params.teacher.model)
    summary: dict = {"name": name, **facts, "trained": spec.train}
    if spec.train:
        distill_params = params.distill_for(name)
        train_texts, heldout_texts = corpus_sentences("train"), corpus_sentences("heldout")
        train_targets, heldout_targets = teacher_cache.lookup(train_texts), teacher_cache.lookup(heldout_texts)
        student_dim = student.get_embedding_dimension()
        if student_dim != teacher_cache.dimension:
            train_targets, heldout_targets = project_targets(train_targets, [heldout_targets], student_dim, distill_params.seed)
            summary["targets_projected"] = f"{teacher_cache.dimension}->{student_dim}"
        run_key = training_run_key(name, spec, distill_params, params.teacher.model, teacher_cache.fingerprint)
        checkpoints = _fresh_checkpoint_dir(CHECKPOINTS_DIR / name, run_key)
        student, training = distill(
            student, train_texts, train_targets, heldout_texts, heldout_targets, distill_params, checkpoints,
            training_log_dir(name),
        )
        summary.update(training, epochs=distill_params.epochs, learning_rate=distill_params.learning_rate)
    else:
        untrained_training_log(training_log_dir(name))
    summary["parameters"] = sum(p.numel() for p in student.parameters())
    made = (f"layers {summary['kept_layers']} of {params.teacher.model}" if "kept_layers" in summary else f"{summary['source']}")
    made += f", distilled from {params.teacher.model} (MSE to its embeddings)" if spec.train else " (not trained)"
    describe_model(student, name, summary["source"], made)
    with atomic_dir(student_dir(name)) as tmp:
        student.save(str(tmp))
    write_json(student_metrics_file(name), summary)
    shutil.rmtree(CHECKPOINTS_DIR / name, ignore_errors=True)  # the run is done: nothing may resume from it
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_for_student("student", argv, student=train_student)


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
