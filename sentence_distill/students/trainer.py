"""Distilling a student: build it, give it the teacher's embeddings (from the embedding cache, never
re-encoded) as targets, and train it with ``distill.loss`` (MSE unless set otherwise: ``losses``), keeping the
best checkpoint by STSb dev Spearman (a parallel student's: by its dev translations' MSE).

Reads ``params.students.<name>``, ``params.distill`` (with the student's own ``distill`` overrides),
``params.teacher.model``, the prepared corpus (a ``parallel`` student: the parallel pairs instead).
With ``distill.processes`` N > 1 the training runs on N workers (``distributed``), each taking
``batch_size / N`` sentences a step, so a step still sees ``batch_size``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss
from transformers import set_seed

from sentence_distill.config.schema import DistillParams, Params, StudentSpec
from sentence_distill.cpu import cpuinfo_text, native_bf16
from sentence_distill.data.corpus import corpus_sentences, parallel_pairs, stsb_evaluator
from sentence_distill.embedding_cache import EmbeddingCache
from sentence_distill.models import open_teacher_cache
from sentence_distill.paths import CHECKPOINTS_DIR, training_log_dir
from sentence_distill.students.build import build_student
from sentence_distill.students.checkpoints import prepare_checkpoints, training_run_key
from sentence_distill.students.curves import (
    CURVES,
    DEV_METRIC,
    PARALLEL_DEV_METRIC,
    TrainingCurves,
    untrained_training_log,
)
from sentence_distill.students.distributed import end_with_the_launcher, run_workers, worker_rank
from sentence_distill.students.evaluators import CachedMSEEvaluator, RankZeroEvaluator
from sentence_distill.students.losses import distillation_loss
from sentence_distill.students.targets import in_axes, principal_axes, project_targets, with_rotation

log = logging.getLogger(__name__)


def distill(
    student: SentenceTransformer,
    train_texts: list[str],
    train_targets: np.ndarray,
    heldout_texts: list[str],
    heldout_targets: np.ndarray,
    params: DistillParams,
    checkpoint_dir: Path,
    log_dir: Path,
    resume: Path | None = None,
    matryoshka_dims: Sequence[int] = (),
    train_translations: list[str] | None = None,
    dev_translations: tuple[list[str], np.ndarray] | None = None,
) -> tuple[SentenceTransformer, dict]:
    """Train ``student`` to reproduce the targets with ``params.loss`` (``MSELoss`` by default); return the best
    step by STSb dev.

    With ``matryoshka_dims``, ``MatryoshkaLoss`` adds the loss (the default's: the MSE) of the first k dimensions
    (normalized) to the first k of the targets, for each k, beside the full dimension's. With ``train_translations``
    (one per training text), the student's embedding of the translation learns the text's target too: the loss
    averages both columns' terms, as sentence-transformers' ``make_multilingual`` example trains. Its best step is
    then the one whose embeddings of ``dev_translations`` (texts, and their sources' targets) are nearest those
    targets: STSb dev, in the teacher's language, says nothing of the other one (on the tiny stand-in it peaked at
    step 22 of 55, and the student it picked found 19% of the held-out translations, where 5 epochs of the same
    training without selection found 37%).

    Resumes from the checkpoint ``resume`` when given. With ``params.processes`` > 1 this is one of the
    workers of a distributed launch (see ``run_workers``): each takes ``batch_size / processes`` a step.
    """
    if len(train_texts) < params.batch_size:
        raise ValueError(
            f"distill.batch_size: {params.batch_size} is larger than the {len(train_texts)} training sentences"
        )
    if params.precision == "auto":
        raise ValueError("distill.precision: 'auto' reached the trainer unresolved (call resolved_precision first)")
    set_seed(params.seed)
    dimension = train_targets.shape[1]
    labels = pa.FixedSizeListArray.from_arrays(pa.array(train_targets.reshape(-1), pa.float32()), dimension)
    if train_translations is None:
        texts = {"sentence": train_texts}
    else:
        texts = {"source": train_texts, "target": train_translations}
    train_dataset = datasets.Dataset(pa.table({**texts, "label": labels}))
    steps_per_epoch = -(-len(train_texts) // params.batch_size)
    total_steps = params.max_steps if params.max_steps > 0 else int(np.ceil(steps_per_epoch * params.epochs))
    eval_steps = min(params.eval_steps, total_steps)
    evaluators = [
        stsb_evaluator("dev", batch_size=params.batch_size),
        CachedMSEEvaluator(heldout_texts, heldout_targets, name="heldout", batch_size=params.batch_size),
    ]
    if dev_translations is not None:
        evaluators.append(CachedMSEEvaluator(*dev_translations, name="parallel-dev", batch_size=params.batch_size))
    evaluator = RankZeroEvaluator(evaluators)
    selected_by = DEV_METRIC if dev_translations is None else PARALLEL_DEV_METRIC
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=params.epochs,
        max_steps=params.max_steps,
        per_device_train_batch_size=params.batch_size // params.processes,
        per_device_eval_batch_size=params.batch_size,
        learning_rate=params.learning_rate,
        warmup_ratio=params.warmup_ratio,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=selected_by,
        greater_is_better=True,
        logging_steps=max(1, eval_steps // 2),
        seed=params.seed,
        data_seed=params.seed,
        report_to="none",
        bf16=params.precision == "bf16",  # autocast only: weights, optimizer state and the saved model stay float32
        # on the CPU: DDP on gloo (accelerate would take MPI where torch has it; with CUDA its choice, nccl), and
        # transformers allows bf16 only once told it is the CPU
        **(cpu_arguments(params) if not torch.cuda.is_available() else {}),
    )
    loss = distillation_loss(student, params.loss, params.contrastive_temperature)
    if matryoshka_dims:
        loss = MatryoshkaLoss(student, loss, [dimension, *matryoshka_dims])
    trainer = SentenceTransformerTrainer(
        model=student,
        args=args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=[TrainingCurves(log_dir)],
    )
    if trainer.args.world_size != params.processes:
        raise RuntimeError(
            f"distill.processes is {params.processes}, but the trainer runs on {trainer.args.world_size}"
        )
    if resume:
        log.info("resuming training from %s", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.accelerator.wait_for_everyone()  # every rank has loaded the best checkpoint: the first may now remove them
    best = trainer.state.best_model_checkpoint
    best_step = int(best.rsplit("-", 1)[-1]) if best else trainer.state.global_step
    scores = next((e for e in trainer.state.log_history if e.get("step") == best_step and DEV_METRIC in e), {})
    return trainer.model, {
        "train_seconds": round(time.perf_counter() - started, 1),
        "steps": trainer.state.global_step,
        "best_step": best_step,
        "selected_by": CURVES[selected_by],
        "best_stsb_dev_spearman": scores.get(DEV_METRIC, trainer.state.best_metric),
        **({"best_parallel_dev_mse_x100": -scores[PARALLEL_DEV_METRIC]} if PARALLEL_DEV_METRIC in scores else {}),
        "resumed_from": resume.name if resume else None,
    }


def resolved_precision(params: DistillParams, static: bool = False) -> DistillParams:
    """``params`` with ``precision: auto`` made bf16 where this machine multiplies bfloat16 natively (a CUDA GPU
    that supports it, else a CPU with AVX512-BF16 or AMX), else fp32: what the training key and record hold.

    A static student's ``auto`` is fp32: a table lookup has no matrix product to gain, only casts (S trained in 39 s
    in bf16 and 31 s in fp32 in two default runs of one session)."""
    if params.precision != "auto":
        return params
    if static:
        native = False
    elif torch.cuda.is_available():
        native = torch.cuda.is_bf16_supported()
    else:
        native = native_bf16(cpuinfo_text())
    return params.model_copy(update={"precision": "bf16" if native else "fp32"})


def cpu_arguments(params: DistillParams) -> dict:
    """The trainer's arguments for a run on the CPU: none unless it is distributed or in bfloat16."""
    return {
        **({"use_cpu": True} if params.processes > 1 or params.precision == "bf16" else {}),
        **({"ddp_backend": "gloo"} if params.processes > 1 else {}),
    }


def train_student(name: str, params: Params) -> tuple[SentenceTransformer, dict] | None:
    """The student ``name`` built and, unless ``train: false``, distilled, with its record for
    ``metrics/students/<name>.json``; None where another process writes the outputs (this stage launched
    workers that did, or this is a worker other than the first)."""
    spec = params.students[name]
    distill_params = resolved_precision(params.distill_for(name), spec.static)
    rank = worker_rank(distill_params.processes)
    if rank is not None:
        end_with_the_launcher()
    teacher_cache = open_teacher_cache()
    if spec.train:
        run_key = training_run_key(name, spec, distill_params, params.teacher.model, teacher_cache.fingerprint)
        checkpoints = CHECKPOINTS_DIR / name
        resume = prepare_checkpoints(checkpoints, run_key, distill_params.processes, worker=rank is not None)
        if distill_params.processes > 1 and rank is None:
            run_workers(name, distill_params.processes)
            return None
    student, facts = build_student(spec, params.teacher.model, teacher_cache.fingerprint)
    if not spec.train:
        untrained_training_log(training_log_dir(name))
        return student, student_metrics(name, spec, distill_params, student, facts)
    student, inputs, data = training_inputs(spec, student, teacher_cache, distill_params)
    student, training = distill(
        student,
        **inputs,
        params=distill_params,
        checkpoint_dir=checkpoints,
        log_dir=training_log_dir(name),
        resume=resume,
        matryoshka_dims=spec.matryoshka_dims,
    )
    if rank:
        return None  # the first worker writes the outputs
    return student, student_metrics(name, spec, distill_params, student, facts, data, training)


def training_inputs(
    spec: StudentSpec, student: SentenceTransformer, teacher_cache: EmbeddingCache, params: DistillParams
) -> tuple[SentenceTransformer, dict, dict]:
    """The student to train (a Matryoshka one with its rotation), ``distill``'s texts and targets (the first
    ``params.train_sentences`` of them), and what the student was trained on, for its record, where not the corpus
    and the teacher's embeddings as they are."""
    data: dict = {}
    train_texts, heldout_texts = corpus_sentences("train"), corpus_sentences("heldout")
    translations, dev_translations = None, None
    if spec.parallel:  # the parallel pairs instead of the corpus: the teacher's embedding of each source is the target
        train_texts, translations = parallel_pairs("train")
        dev_sources, dev_targets = parallel_pairs("dev")
        dev_translations = (dev_targets, teacher_cache.lookup(dev_sources))
    if params.train_sentences is not None and params.train_sentences < len(train_texts):
        train_texts = train_texts[: params.train_sentences]
        translations = None if translations is None else translations[: params.train_sentences]
        data["train_sentences"] = len(train_texts)
    if spec.parallel:
        data["parallel_pairs"] = len(train_texts)
    train_targets, heldout_targets = teacher_cache.lookup(train_texts), teacher_cache.lookup(heldout_texts)
    student_dim = student.get_embedding_dimension()
    if spec.matryoshka_dims:
        mean, axes = principal_axes(train_targets, student_dim)
        train_targets, heldout_targets = in_axes(train_targets, mean, axes), in_axes(heldout_targets, mean, axes)
        if dev_translations is not None:
            dev_translations = (dev_translations[0], in_axes(dev_translations[1], mean, axes))
        student = with_rotation(student, mean, axes)
        data.update(
            targets_projected=f"{teacher_cache.dimension}->{student_dim}, centred principal axes",
            matryoshka_dims=spec.matryoshka_dims,
        )
    elif student_dim != teacher_cache.dimension:
        others = [heldout_targets] + ([dev_translations[1]] if dev_translations is not None else [])
        train_targets, heldout_targets, *dev = project_targets(train_targets, others, student_dim, params.seed)
        if dev:
            dev_translations = (dev_translations[0], dev[0])
        data["targets_projected"] = f"{teacher_cache.dimension}->{student_dim}"
    inputs = {
        "train_texts": train_texts,
        "train_targets": train_targets,
        "heldout_texts": heldout_texts,
        "heldout_targets": heldout_targets,
        "train_translations": translations,
        "dev_translations": dev_translations,
    }
    return student, inputs, data


def student_metrics(
    name: str,
    spec: StudentSpec,
    params: DistillParams,
    student: SentenceTransformer,
    facts: dict,
    data: dict | None = None,
    training: dict | None = None,
) -> dict:
    """The record of ``metrics/students/<name>.json``: what the student is made of (``build_student``'s facts),
    what it was trained on, its training (``distill``'s summary, the distill params) and its parameter count."""
    summary: dict = {"name": name, **facts, "trained": spec.train, **(data or {})}
    if spec.train:
        summary.update(
            training,
            epochs=params.epochs,
            learning_rate=params.learning_rate,
            processes=params.processes,
            precision=params.precision,
        )
    summary["parameters"] = sum(p.numel() for p in student.parameters())
    return summary
