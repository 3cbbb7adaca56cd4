"""Every variant of the teacher, a student or one of its PCA models, evaluated the same way.

A variant's figures (``records/evaluation.py``): STSb test Spearman and the other task families from
its embeddings of the evaluation sentences, MSE to the teacher's embeddings of the held-out corpus
slice (when its axes are the teacher's), its size, and each family's share of the teacher's figure.
The fp32 model of each also scores every embedding precision; a Matryoshka student also scores each
cut of its output (``<name>-mrl<k>``).

Each body encodes each list of texts once per run: a student's evaluation stores its body's outputs for
the evaluation, check and calibration sentences and the own tasks' texts, and each PCA model's evaluation applies
its PCA to them;
a PCA model encodes only the check sentences itself, to prove that path. The stage reads its inputs once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from sentence_distill import assets
from sentence_distill.config.schema import Params
from sentence_distill.embedding_cache import EmbeddingCache
from sentence_distill.evaluation.inputs import EvaluationInputs
from sentence_distill.evaluation.precisions import embedding_quantization
from sentence_distill.evaluation.scoring import disk_bytes, parameter_count
from sentence_distill.evaluation.shared_body import (
    CALIBRATION_BODY,
    CHECK_BODY,
    EVALUATION_BODY,
    OWN_TASKS_BODY,
    BodyStore,
    SharedBody,
    check_shared_body,
)
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


class TeacherHeldout:
    """The teacher's embeddings of the held-out corpus slice, read from its cache once, when a variant needs them."""

    def __init__(self, heldout: list[str]) -> None:
        self.heldout = heldout

    @cached_property
    def cache(self) -> EmbeddingCache:
        return open_teacher_cache()

    @cached_property
    def vectors(self) -> np.ndarray:
        return self.cache.lookup(self.heldout)

    def mse_x100(self, embeddings: dict[str, np.ndarray], dimension: int) -> float | None:
        """MSE x100 of the variant's embeddings of the slice to the teacher's; None when its dimension differs."""
        if dimension != self.cache.dimension:
            return None
        diff = np.stack([embeddings[s] for s in self.heldout]) - self.vectors
        return float((diff**2).mean() * 100)


def evaluate_model(
    model: SentenceTransformer,
    embeddings: dict[str, np.ndarray],
    inputs: EvaluationInputs,
    params: Params,
    *,
    folder: Path | None,
    parameters: int | None,
    teacher: TeacherHeldout | None,
) -> VariantMetrics:
    """Metrics of one variant from its embeddings of the evaluation sentences. Parameters are counted in the fp32
    model (an int8 folder keeps no fp32 weights to count, and quantization does not change how many there are).
    ``teacher``: None for a model whose outputs live in other axes than the teacher's (a Matryoshka student's),
    though of its dimension, or whose sentences leave out the held-out slice."""
    dimension = model.get_embedding_dimension()
    return VariantMetrics(
        dimension=dimension,
        bytes_per_embedding=dimension * 4,
        stsb_test_spearman=inputs.stsb_test_spearman(model, embeddings, params.evaluate.batch_size),
        **inputs.families(embeddings, params.evaluate).metrics_fields(),
        mse_to_teacher_x100=None if teacher is None else teacher.mse_x100(embeddings, dimension),
        disk_bytes=None if folder is None else disk_bytes(folder),
        parameters=parameters,
    )


def evaluate_truncation(
    model: SentenceTransformer,
    dim: int,
    full: VariantMetrics,
    embeddings: dict[str, np.ndarray],
    inputs: EvaluationInputs,
    params: Params,
) -> tuple[VariantMetrics, dict[str, np.ndarray]]:
    """A Matryoshka student's first ``dim`` output dimensions, normalized: what ``SentenceTransformer(path,
    truncate_dim=dim)`` gives (with ``normalize_embeddings`` or cosine). Scored on ``embeddings``, the full
    model's, cut."""
    vectors = {s: v[:dim] / np.linalg.norm(v[:dim]) for s, v in embeddings.items()}
    return VariantMetrics(
        dimension=dim,
        bytes_per_embedding=dim * 4,
        stsb_test_spearman=inputs.stsb_test_spearman(model, vectors, params.evaluate.batch_size),
        **inputs.families(vectors, params.evaluate).metrics_fields(),
        disk_bytes=full.disk_bytes,
        parameters=full.parameters,
    ), vectors


def with_precisions(
    label: str,
    model: SentenceTransformer,
    metrics: VariantMetrics,
    embeddings: dict[str, np.ndarray],
    calibration: np.ndarray,
    inputs: EvaluationInputs,
    params: Params,
) -> dict[str, VariantMetrics]:
    """The variant's row and one per embedding precision (``<label>-emb-<precision>``)."""
    quantized = embedding_quantization(model, metrics, embeddings, calibration, inputs, params.evaluate)
    return {label: metrics, **{f"{label}-emb-{precision}": m for precision, m in quantized.items()}}


def own_task_body(
    model: SentenceTransformer, inputs: EvaluationInputs, batch: int, store: BodyStore | None = None
) -> SharedBody | None:
    """The body's outputs for the own tasks' texts (None without tasks), with ``store`` kept there for the PCA
    models: a list of their own, so that the evaluation sentences' batches, and their figures, stay as they are."""
    texts = inputs.own_texts()
    return SharedBody(model, texts, batch, store=store, output=OWN_TASKS_BODY) if texts else None


def with_own_texts(
    embeddings: dict[str, np.ndarray], own: SharedBody | None, model: SentenceTransformer
) -> dict[str, np.ndarray]:
    """``embeddings`` and ``model``'s vectors of the own tasks' texts: every variant of it (Matryoshka cuts,
    embedding precisions) scores the tasks from the one lookup. A text in both lists keeps its evaluation vector."""
    return embeddings if own is None else own.embeddings(model) | embeddings


def evaluate_teacher(params: Params) -> EvaluationFile:
    inputs = EvaluationInputs.read(params.evaluate)
    teacher = load_model(params.teacher.model, params.teacher.max_seq_length)
    batch = params.evaluate.batch_size
    local = Path(assets.resolve_model(params.teacher.model))
    embeddings = SharedBody(teacher, inputs.sentences(with_heldout=True), batch).embeddings(teacher)
    embeddings = with_own_texts(embeddings, own_task_body(teacher, inputs, batch), teacher)
    metrics = evaluate_model(
        teacher,
        embeddings,
        inputs,
        params,
        folder=local if local.is_dir() else None,
        parameters=sum(p.numel() for p in teacher.parameters()),
        teacher=TeacherHeldout(inputs.heldout),
    )
    (calibration,) = SharedBody(teacher, inputs.calibration, batch).normalized(teacher, batch, [None]).values()
    variants = with_precisions(TEACHER, teacher, metrics, embeddings, calibration, inputs, params)
    return EvaluationFile({label: replace(m, **kept_shares(m, metrics)) for label, m in variants.items()})


def student_bodies(
    model: SentenceTransformer,
    store: BodyStore,
    inputs: EvaluationInputs,
    with_heldout: bool,
    batch: int,
    calibrate: bool,
) -> tuple[SharedBody, SharedBody | None, SharedBody | None]:
    """The student's body outputs for the evaluation sentences, the own tasks' texts (with tasks) and with
    ``calibrate`` the calibration ones, kept in ``store`` with those for the check sentences, for its PCA models'
    evaluation (each list encoded once, by itself)."""
    store.write()
    shared = SharedBody(model, inputs.sentences(with_heldout), batch, store=store, output=EVALUATION_BODY)
    own = own_task_body(model, inputs, batch, store)
    SharedBody(model, inputs.check, batch, store=store, output=CHECK_BODY, as_listed=True)
    if not calibrate:
        return shared, own, None
    calibration = SharedBody(model, inputs.calibration, batch, store=store, output=CALIBRATION_BODY, as_listed=True)
    return shared, own, calibration


def pca_bodies(
    label: str,
    model: SentenceTransformer,
    store: BodyStore,
    inputs: EvaluationInputs,
    with_heldout: bool,
    batch: int,
    calibrate: bool,
) -> tuple[SharedBody, SharedBody | None, SharedBody | None]:
    """The student's stored body outputs for the evaluation sentences, the own tasks' texts (with tasks) and with
    ``calibrate`` the calibration ones, once the PCA model's own encode of the check sentences matches its PCA
    applied to the stored outputs for them."""
    check = SharedBody.stored(store, inputs.check, batch, CHECK_BODY)
    check_shared_body(label, model.encode(check.sentences, batch_size=batch), check.stacked(model))
    shared = SharedBody.stored(store, inputs.sentences(with_heldout), batch, EVALUATION_BODY)
    own_texts = inputs.own_texts()
    own = SharedBody.stored(store, own_texts, batch, OWN_TASKS_BODY) if own_texts else None
    calibration = SharedBody.stored(store, inputs.calibration, batch, CALIBRATION_BODY) if calibrate else None
    return shared, own, calibration


def evaluate_variants(name: str, dim: int | None, params: Params) -> EvaluationFile:
    """The student (``dim`` None) or its ``dim``-dimensional PCA model, in fp32 and each int8 copy.

    Every group's body runs on the evaluation texts only when the student itself is evaluated; a PCA
    dimension reads those outputs from the cache, and its own model encodes only the check sentences.
    A static student's PCA may be folded into its table, so the student's outputs are not its input;
    a table lookup costs milliseconds: that PCA model embeds the sentences itself.
    """
    inputs = EvaluationInputs.read(params.evaluate)
    teacher_result = EvaluationFile.read(eval_file(TEACHER)).variants[TEACHER]
    teacher = TeacherHeldout(inputs.heldout)
    spec = params.students[name]
    batch = params.evaluate.batch_size
    parameters = parameter_count(variant_folder(name, FP32, dim))
    variants: dict[str, VariantMetrics] = {}
    groups = student_groups(name, params.backends_for(name))
    truncations = spec.matryoshka_dims if dim is None else []
    for group, student_folder in tqdm(groups.items(), total=len(groups), unit="model", desc=f"evaluating {name}"):
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        log.info("evaluating %s (%s)", label, folder)
        model = load_variant(folder)
        root = body_cache_root(name, group)
        # a PCA dimension reads the student's body from what its evaluation stored, without loading the student
        store = BodyStore.read(root, student_folder) if dim else BodyStore.for_model(model, root, student_folder)
        # the student's own dimension is its body's: Normalize keeps it
        with_heldout = store.dimension == teacher_result.dimension and not spec.matryoshka_dims
        calibrate = group == FP32 and bool(params.evaluate.embedding_precisions)
        if dim is None:
            shared, own, calibration = student_bodies(model, store, inputs, with_heldout, batch, calibrate)
        elif spec.static:
            shared, own = SharedBody(model, inputs.sentences(with_heldout), batch), own_task_body(model, inputs, batch)
            calibration = SharedBody(model, inputs.calibration, batch) if calibrate else None
        else:
            shared, own, calibration = pca_bodies(label, model, store, inputs, with_heldout, batch, calibrate)
        embeddings = with_own_texts(shared.embeddings(model), own, model)
        metrics = evaluate_model(
            model,
            embeddings,
            inputs,
            params,
            folder=folder,
            parameters=parameters,
            teacher=teacher if with_heldout else None,
        )
        calibrated = {} if calibration is None else calibration.normalized(model, batch, [None, *truncations])
        if calibrated:
            variants |= with_precisions(label, model, metrics, embeddings, calibrated[None], inputs, params)
        else:
            variants[label] = metrics
        for k in truncations:
            truncated = truncated_label(name, group, k)
            log.info("evaluating %s (%s, its first %d dimensions)", truncated, folder, k)
            m, vectors = evaluate_truncation(model, k, metrics, embeddings, inputs, params)
            # no model of its own: it runs as the model it cuts (its speed), and its fp32 row is the fp32 cut
            m = replace(m, runs_as=label, fp32_model=truncated_label(name, FP32, k))
            if calibrated:
                variants |= with_precisions(truncated, model, m, vectors, calibrated[k], inputs, params)
            else:
                variants[truncated] = m
    return EvaluationFile({label: replace(m, **kept_shares(m, teacher_result)) for label, m in variants.items()})


def evaluation(name: str, params: Params, dim: int | None = None) -> EvaluationFile:
    """The figures of ``metrics/eval/<name>[-pca<dim>].json``: the teacher's, a student's or one of its PCA
    dimensions'."""
    if dim is not None and dim not in params.pca_dims_for(name):
        return EvaluationFile({}, not_requested=params.no_pca_note(name).strip())
    return evaluate_teacher(params) if name == TEACHER else evaluate_variants(name, dim, params)
