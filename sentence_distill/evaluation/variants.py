"""Every variant of the teacher, a student or one of its PCA models, evaluated the same way.

A variant's figures (``records/evaluation.py``): STSb test Spearman and the other task families from
its embeddings of the evaluation sentences, MSE to the teacher's embeddings of the held-out corpus
slice (when its axes are the teacher's), its size, and each family's share of the teacher's figure.
The fp32 model of each also scores every embedding precision; a Matryoshka student also scores each
cut of its output (``<name>-mrl<k>``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from sentence_distill import assets
from sentence_distill.config.schema import Params
from sentence_distill.data.corpus import corpus_sentences, stsb_evaluator
from sentence_distill.evaluation.precisions import embedding_quantization
from sentence_distill.evaluation.scoring import (
    PrecomputedSimilarityEvaluator,
    check_sentences,
    disk_bytes,
    evaluation_sentences,
    other_families,
    parameter_count,
)
from sentence_distill.evaluation.shared_body import SharedBody, check_shared_body
from sentence_distill.evaluation.task_families import kept_shares
from sentence_distill.models import load_model, load_variant, open_teacher_cache
from sentence_distill.paths import (
    FP32,
    TEACHER,
    body_cache_root,
    eval_file,
    student_groups,
    truncated_label,
    variant_folder,
    variant_label,
)
from sentence_distill.records.evaluation import EvaluationFile, VariantMetrics

log = logging.getLogger(__name__)


def evaluate_model(
    label: str,
    model: SentenceTransformer,
    folder: Path | None,
    params: Params,
    shared: SharedBody,
    check_body: SharedBody,
    fp32_folder: Path | None = None,
    mse_to_teacher: bool = True,
) -> tuple[VariantMetrics, dict[str, np.ndarray]]:
    """Metrics of one variant, and its embeddings of the evaluation sentences (``shared``).

    ``check_body`` holds the body's outputs for a few sentences: the variant's own encode of them
    must match, which proves the shared path scores what the variant itself computes. Parameters are
    counted in ``fp32_folder`` (default ``folder``): an int8 folder keeps no fp32 weights to count,
    and quantization does not change how many there are. ``mse_to_teacher``: false for a model whose
    outputs live in other axes than the teacher's (a Matryoshka student's), though of its dimension.
    """
    batch = params.evaluate.batch_size
    embeddings = shared.embeddings(model)
    own = model.encode(check_body.sentences, batch_size=batch)
    check_shared_body(label, own, check_body.stacked(model))
    dimension = model.get_embedding_dimension()
    stsb_test = stsb_evaluator("test", batch, PrecomputedSimilarityEvaluator, embeddings=embeddings)(model)
    families = other_families(embeddings, params.evaluate)
    teacher_cache = open_teacher_cache()
    mse = None
    if mse_to_teacher and dimension == teacher_cache.dimension:
        heldout = corpus_sentences("heldout")
        diff = np.stack([embeddings[s] for s in heldout]) - teacher_cache.lookup(heldout)
        mse = float((diff**2).mean() * 100)
    result = VariantMetrics(
        dimension=dimension,
        bytes_per_embedding=dimension * 4,
        stsb_test_spearman=stsb_test["sts-test_spearman_cosine"],
        **families.metrics_fields(),
        mse_to_teacher_x100=mse,
        disk_bytes=None if folder is None else disk_bytes(folder),
        parameters=None if folder is None else parameter_count(fp32_folder or folder),
    )
    return result, embeddings


def evaluate_truncation(
    label: str,
    model: SentenceTransformer,
    dim: int,
    full: VariantMetrics,
    embeddings: dict[str, np.ndarray],
    check_body: SharedBody,
    params: Params,
) -> tuple[VariantMetrics, dict[str, np.ndarray]]:
    """A Matryoshka student's first ``dim`` output dimensions, normalized: what ``SentenceTransformer(path,
    truncate_dim=dim)`` gives (with ``normalize_embeddings`` or cosine). Scored on ``embeddings``, the full
    model's, cut; the model's own truncated encode of the check sentences must match them."""
    own = model.encode(
        check_body.sentences, batch_size=params.evaluate.batch_size, truncate_dim=dim, normalize_embeddings=True
    )
    check_shared_body(label, own, check_body.stacked(model)[:, :dim])
    vectors = {s: v[:dim] / np.linalg.norm(v[:dim]) for s, v in embeddings.items()}
    stsb_test = stsb_evaluator("test", params.evaluate.batch_size, PrecomputedSimilarityEvaluator, embeddings=vectors)(
        model
    )
    return VariantMetrics(
        dimension=dim,
        bytes_per_embedding=dim * 4,
        stsb_test_spearman=stsb_test["sts-test_spearman_cosine"],
        **other_families(vectors, params.evaluate).metrics_fields(),
        disk_bytes=full.disk_bytes,
        parameters=full.parameters,
    ), vectors


def evaluate_teacher(params: Params) -> EvaluationFile:
    teacher = load_model(params.teacher.model, params.teacher.max_seq_length)
    batch = params.evaluate.batch_size
    local = Path(assets.resolve_model(params.teacher.model))
    shared = SharedBody(teacher, evaluation_sentences(with_heldout=True), batch)
    check_body = SharedBody(teacher, check_sentences(params.evaluate.check_sentences), batch)
    metrics, embeddings = evaluate_model(
        TEACHER, teacher, local if local.is_dir() else None, params, shared, check_body
    )
    metrics = replace(metrics, parameters=sum(p.numel() for p in teacher.parameters()))
    variants = {TEACHER: metrics}
    for precision, m in embedding_quantization(teacher, metrics, embeddings, params.evaluate).items():
        variants[f"{TEACHER}-emb-{precision}"] = m
    return EvaluationFile({label: replace(m, **kept_shares(m, metrics)) for label, m in variants.items()})


def evaluate_variants(name: str, dim: int | None, params: Params) -> EvaluationFile:
    """The student (``dim`` None) or its ``dim``-dimensional PCA model, in fp32 and each int8 copy.

    Every group's body runs on the evaluation sentences only when the student itself is evaluated;
    a PCA dimension reads those outputs from the cache, and reruns the body only on the check sentences.
    """
    teacher_result = EvaluationFile.read(eval_file(TEACHER)).variants[TEACHER]
    check_set = check_sentences(params.evaluate.check_sentences)
    batch = params.evaluate.batch_size
    variants: dict[str, VariantMetrics] = {}
    groups = student_groups(name, params.backends_for(name))
    truncations = params.students[name].matryoshka_dims if dim is None else []
    for group, student_folder in tqdm(groups.items(), total=len(groups), unit="model", desc=f"evaluating {name}"):
        student = load_variant(student_folder)
        with_heldout = (
            student.get_embedding_dimension() == teacher_result.dimension and not params.students[name].matryoshka_dims
        )
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        log.info("evaluating %s (%s)", label, folder)
        model = student if dim is None else load_variant(folder)
        if dim is not None and params.students[name].static:
            # its PCA may be folded into the table, so the student's outputs are not its input; a table lookup
            # costs milliseconds: the PCA model embeds the sentences itself
            shared = SharedBody(model, evaluation_sentences(with_heldout), batch)
            check_body = SharedBody(model, check_set, batch)
        else:
            shared = SharedBody(
                student,
                evaluation_sentences(with_heldout),
                batch,
                cache_root=body_cache_root(name, group),
                model_dir=student_folder,
                fill=dim is None,
            )
            check_body = SharedBody(student, check_set, batch)
        metrics, embeddings = evaluate_model(
            label,
            model,
            folder,
            params,
            shared,
            check_body,
            fp32_folder=variant_folder(name, FP32, dim),
            mse_to_teacher=with_heldout,
        )
        variants[label] = metrics
        if group == FP32:
            for precision, m in embedding_quantization(model, metrics, embeddings, params.evaluate).items():
                variants[f"{label}-emb-{precision}"] = m
        for k in truncations:
            truncated = truncated_label(name, group, k)
            log.info("evaluating %s (%s, its first %d dimensions)", truncated, folder, k)
            m, vectors = evaluate_truncation(truncated, model, k, metrics, embeddings, check_body, params)
            # no model of its own: it runs as the model it cuts (its speed), and its fp32 row is the fp32 cut
            variants[truncated] = replace(m, runs_as=label, fp32_model=truncated_label(name, FP32, k))
            if group == FP32:
                for precision, q in embedding_quantization(model, m, vectors, params.evaluate, truncate_dim=k).items():
                    variants[f"{truncated}-emb-{precision}"] = q
    return EvaluationFile({label: replace(m, **kept_shares(m, teacher_result)) for label, m in variants.items()})


def evaluation(name: str, params: Params, dim: int | None = None) -> EvaluationFile:
    """The figures of ``metrics/eval/<name>[-pca<dim>].json``: the teacher's, a student's or one of its PCA
    dimensions'."""
    if dim is not None and dim not in params.pca_dims_for(name):
        return EvaluationFile({}, not_requested=params.no_pca_note(name).strip())
    return evaluate_teacher(params) if name == TEACHER else evaluate_variants(name, dim, params)
