"""Evaluation: the quality and size of every variant, measured the same way (speed: the benchmark stage).

- ``python -m tasks.evaluate teacher`` writes ``metrics/eval/teacher.json``.
- ``python -m tasks.evaluate NAME`` evaluates ``models/NAME/student`` and its int8 copies
  ``models/NAME/quantized/<backend>`` into ``metrics/eval/NAME.json``, and keeps each one's body
  outputs (every module before PCA and ``Normalize``) for the evaluation sentences in
  ``data/evaluation_bodies/NAME``.
- ``python -m tasks.evaluate NAME DIM`` evaluates ``models/NAME/pca/DIM`` and its int8 copies into
  ``metrics/eval/NAME-pcaDIM.json``, applying each one's PCA and ``Normalize`` to those stored body
  outputs instead of running the body again.

Per variant: four task families (``sentence_distill/evaluation/task_families.py``), each with its share of the teacher's
figure and the mean of those shares: STSb test Spearman; few-shot topic classification of
the evaluation BBC articles (accuracy, macro-F1); their k-means clustering (V-measure); retrieval of
STSb test paraphrases (nDCG@10, MRR@10). With parallel data (``prepare.parallel``), translation retrieval
of its held-out pairs (accuracy each way, source-target MSE), not a share of the teacher's. Also MSE to the teacher's embeddings on the held-out corpus
slice (when dimensions match), size on disk, parameter count, embedding dimension and bytes per
embedding; for the teacher, each student and each PCA model in fp32, every embedding precision
(int8, uint8, binary embeddings) on every family too. A Matryoshka student's evaluation also scores
each of its ``matryoshka_dims`` k on every model of it: rows ``NAME-mrlK`` (and ``NAME-mrlK-<backend>``),
its embeddings cut to k dimensions and normalized.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
from sentence_transformers.util.quantization import quantize_embeddings
from tqdm.auto import tqdm

from sentence_distill import assets
from sentence_distill.cli import configure_logging, run_for_student
from sentence_distill.data.corpus import corpus_sentences, evaluation_documents, parallel_pairs, stsb_evaluator, stsb_pairs
from sentence_distill.embedding_cache import CacheError
from sentence_distill.fileio import write_json
from sentence_distill.models import cache_for, embed_corpus, encode_texts, load_model, load_variant, open_teacher_cache, without_normalize
from sentence_distill.config.params import EvaluateParams, Params
from sentence_distill.paths import (
    FP32,
    PREPARED_DIR,
    QUANTIZATION_FILE,
    TEACHER,
    body_cache_root,
    eval_file,
    student_groups,
    truncated_label,
    variant_folder,
    variant_label,
)
from sentence_distill.evaluation.task_families import family_scores, kept_shares

log = logging.getLogger(__name__)

BODY_OUTPUT = "evaluation-body"
SHARED_BODY_MIN_COSINE = 0.999


def check_sentences(count: int, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    """A fixed sentence set: the first ``count`` distinct STSb test sentences (all of them if fewer)."""
    pairs = stsb_pairs("test", prepared_dir)
    return list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"]))[:count]


def parameter_count(folder: Path) -> int:
    total = 0
    for file in folder.rglob("*.safetensors"):
        with safe_open(str(file), framework="pt") as weights:
            total += sum(int(np.prod(weights.get_slice(k).get_shape())) for k in weights.keys())
    return total


def disk_bytes(folder: Path) -> int:
    """Bytes of the files the variant's backend loads (the ONNX file replaces the torch weights)."""
    onnx = (folder / QUANTIZATION_FILE).is_file()
    skipped = {"README.md"} | ({"model.safetensors"} if onnx else set())
    files = [f for f in folder.rglob("*") if f.is_file() and f.relative_to(folder).as_posix() not in skipped]
    if not onnx:
        files = [f for f in files if f.relative_to(folder).parts[0] != "onnx"]
    return sum(f.stat().st_size for f in files)


BITS_PER_VALUE = {"int8": 8, "uint8": 8, "binary": 1, "ubinary": 1}


class PrecomputedSimilarityEvaluator(EmbeddingSimilarityEvaluator):
    """STSb scored on embeddings computed beforehand (``embeddings`` maps each sentence to its vector)."""

    def __init__(self, *args, embeddings: Mapping[str, np.ndarray], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embeddings = embeddings

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return np.stack([self.embeddings[s] for s in sentences])


class CalibratedSimilarityEvaluator(PrecomputedSimilarityEvaluator):
    """STSb on quantized embeddings whose int8/uint8 ranges come from corpus embeddings, never the test set.

    Scores are cosine similarities of the quantized integer vectors; binary vectors are unpacked to
    +-1, where cosine is a monotone function of the Hamming distance.
    """

    def __init__(self, *args, precision: str, calibration_embeddings: np.ndarray, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.quantized_precision = precision
        self.calibration_embeddings = calibration_embeddings

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return quantized(super().embed_inputs(model, sentences), self.quantized_precision, self.calibration_embeddings)


def quantized(vectors: np.ndarray, precision: str, calibration: np.ndarray) -> np.ndarray:
    """``vectors`` quantized to ``precision`` (ranges from ``calibration``), as floats for cosine and
    scikit-learn; binary vectors unpacked to +-1."""
    values = quantize_embeddings(vectors, precision=precision, calibration_embeddings=calibration)
    if precision in ("binary", "ubinary"):
        return np.unpackbits(values.view(np.uint8), axis=1).astype(np.float32) * 2 - 1
    return values.astype(np.float32)


class SharedBody:
    """The outputs of a model's body (every module before PCA and ``Normalize``) for a fixed sentence set.

    A student and its PCA models share the body: it runs once, and each PCA model applies only its
    own remaining modules (``Dense``, ``Normalize``) to the stored outputs. With ``cache_root`` the
    outputs live in a Parquet embedding cache keyed by the body's files (``model_dir``), so the
    evaluation of each PCA dimension reads what the student's evaluation wrote; ``fill=False``
    only reads it. Dynamic int8 outputs depend a little on which sentences share a batch
    (activation scales cover the batch's padding), so a check against a variant's own ``encode``
    must use a body encoded with the same sentences and batch size, not a cached one.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        sentences: list[str],
        batch_size: int,
        *,
        cache_root: Path | None = None,
        model_dir: Path | None = None,
        fill: bool = True,
    ) -> None:
        encoder = without_normalize(model)
        self.length = len(encoder)
        self.sentences = list(dict.fromkeys(sentences))
        if cache_root is None:
            outputs = encode_texts(encoder, self.sentences, batch_size)
        else:
            if fill:
                cache, _ = embed_corpus(
                    encoder, model_dir, self.sentences, cache_root=cache_root, batch_size=batch_size, output=BODY_OUTPUT
                )
            else:
                cache = cache_for(encoder, model_dir, cache_root, output=BODY_OUTPUT)
            try:
                outputs = cache.lookup(self.sentences)
            except CacheError as exc:
                raise CacheError(f"{exc}; evaluate the student first (python -m tasks.evaluate NAME)") from None
        self.outputs = torch.from_numpy(np.asarray(outputs, dtype=np.float32))

    def stacked(self, model: SentenceTransformer) -> np.ndarray:
        """``model``'s embeddings of the sentences, in order: its own modules after the body."""
        features = {"sentence_embedding": self.outputs.to(model.device)}
        with torch.no_grad():
            for module in list(model)[self.length :]:
                features = module(features)
        return features["sentence_embedding"].float().cpu().numpy()

    def embeddings(self, model: SentenceTransformer) -> dict[str, np.ndarray]:
        return dict(zip(self.sentences, self.stacked(model)))


def embedding_quantization(
    model: SentenceTransformer, base: dict, embeddings: dict, params: EvaluateParams, truncate_dim: int | None = None
) -> dict:
    """STSb kept and bytes per embedding for each embedding precision, calibrated on the training corpus
    (on the model's first ``truncate_dim`` dimensions when given, as ``embeddings`` are)."""
    calibration = model.encode(
        corpus_sentences("train")[: params.calibration_sentences], batch_size=params.batch_size,
        normalize_embeddings=True, truncate_dim=truncate_dim,
    )
    unit = {s: v / np.linalg.norm(v) for s, v in embeddings.items()}
    results = {}
    for precision in params.embedding_precisions:
        evaluator = stsb_evaluator(
            "test", params.batch_size, CalibratedSimilarityEvaluator,
            precision=precision, calibration_embeddings=calibration, embeddings=unit,
        )
        score = evaluator(model)["sts-test_spearman_cosine"]
        texts = list(unit)
        vectors = dict(zip(texts, quantized(np.stack([unit[t] for t in texts]), precision, calibration)))
        results[precision] = {
            **{k: base[k] for k in ("dimension", "disk_bytes", "parameters") if k in base},
            "bytes_per_embedding": base["dimension"] * BITS_PER_VALUE[precision] // 8,
            "stsb_test_spearman": score,
            "stsb_test_kept_vs_float32": score / base["stsb_test_spearman"],
            **other_families(vectors, params),
        }
    return results


def other_families(vectors: Mapping[str, np.ndarray], params: EvaluateParams) -> dict[str, float]:
    """Classification and clustering of the evaluation articles, retrieval of STSb test paraphrases, and
    translation retrieval of the held-out parallel pairs when there are any."""
    documents, topics = evaluation_documents()
    pairs = stsb_pairs("test")
    return family_scores(
        vectors, documents, topics, list(zip(pairs["sentence1"], pairs["sentence2"], pairs["score"])),
        shots=params.classification_shots, draws=params.classification_draws,
        clustering_seeds=params.clustering_seeds, retrieval_min_score=params.retrieval_min_score,
        translations=list(zip(*parallel_pairs("heldout"))),
    )


def evaluation_sentences(with_heldout: bool) -> list[str]:
    """Every text a variant is scored on: STSb test, the evaluation articles, the held-out parallel pairs
    (both sides), and the held-out corpus slice for MSE. Each is embedded once and shared by every family that reads it. Not STSb dev: it
    picks each student's best step (its score is in ``metrics/students``), so a variant's dev figure
    says less than its test one, and embedding it took about as long as the articles."""
    pairs = stsb_pairs("test")
    sources, targets = parallel_pairs("heldout")
    return (pairs["sentence1"] + pairs["sentence2"] + evaluation_documents()[0] + sources + targets
            + (corpus_sentences("heldout") if with_heldout else []))


def check_shared_body(label: str, own: np.ndarray, shared: np.ndarray) -> None:
    """Fail when a variant's own encode differs from the shared-body path on the same batches."""
    cosine = (own * shared).sum(1) / (np.linalg.norm(own, axis=1) * np.linalg.norm(shared, axis=1))
    if cosine.min() < SHARED_BODY_MIN_COSINE:
        raise RuntimeError(
            f"{label}: its own encode and the shared body disagree (min cosine {cosine.min():.4f}); "
            "the model's modules after the body are not what evaluation assumes"
        )


def evaluate_model(
    label: str, model: SentenceTransformer, folder: Path | None, params: Params, shared: SharedBody, check_body: SharedBody,
    fp32_folder: Path | None = None, mse_to_teacher: bool = True,
) -> tuple[dict, dict[str, np.ndarray]]:
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
    result = {
        "dimension": dimension,
        "bytes_per_embedding": dimension * 4,
        "stsb_test_spearman": stsb_test["sts-test_spearman_cosine"],
        **other_families(embeddings, params.evaluate),
    }
    teacher_cache = open_teacher_cache()
    if mse_to_teacher and dimension == teacher_cache.dimension:
        heldout = corpus_sentences("heldout")
        diff = np.stack([embeddings[s] for s in heldout]) - teacher_cache.lookup(heldout)
        result["mse_to_teacher_x100"] = float((diff**2).mean() * 100)
    if folder is not None:
        result["disk_bytes"] = disk_bytes(folder)
        result["parameters"] = parameter_count(fp32_folder or folder)
    return result, embeddings


def evaluate_truncation(
    label: str, model: SentenceTransformer, dim: int, full: dict, embeddings: dict[str, np.ndarray], check_body: SharedBody,
    params: Params,
) -> tuple[dict, dict[str, np.ndarray]]:
    """A Matryoshka student's first ``dim`` output dimensions, normalized: what ``SentenceTransformer(path,
    truncate_dim=dim)`` gives (with ``normalize_embeddings`` or cosine). Scored on ``embeddings``, the full
    model's, cut; the model's own truncated encode of the check sentences must match them."""
    own = model.encode(check_body.sentences, batch_size=params.evaluate.batch_size, truncate_dim=dim, normalize_embeddings=True)
    check_shared_body(label, own, check_body.stacked(model)[:, :dim])
    vectors = {s: v[:dim] / np.linalg.norm(v[:dim]) for s, v in embeddings.items()}
    stsb_test = stsb_evaluator("test", params.evaluate.batch_size, PrecomputedSimilarityEvaluator, embeddings=vectors)(model)
    return {
        "dimension": dim,
        "bytes_per_embedding": dim * 4,
        "stsb_test_spearman": stsb_test["sts-test_spearman_cosine"],
        **other_families(vectors, params.evaluate),
        **{key: full[key] for key in ("disk_bytes", "parameters") if key in full},
    }, vectors


def evaluate_teacher(params: Params) -> dict:
    teacher = load_model(params.teacher.model, params.teacher.max_seq_length)
    batch = params.evaluate.batch_size
    local = Path(assets.resolve_model(params.teacher.model))
    shared = SharedBody(teacher, evaluation_sentences(with_heldout=True), batch)
    check_body = SharedBody(teacher, check_sentences(params.evaluate.check_sentences), batch)
    metrics, embeddings = evaluate_model(TEACHER, teacher, local if local.is_dir() else None, params, shared, check_body)
    metrics["parameters"] = sum(p.numel() for p in teacher.parameters())
    result = {"variants": {TEACHER: metrics}}
    for precision, m in embedding_quantization(teacher, metrics, embeddings, params.evaluate).items():
        result["variants"][f"{TEACHER}-emb-{precision}"] = m
    for m in result["variants"].values():
        m.update(kept_shares(m, metrics))
    return result


def evaluate_variants(name: str, dim: int | None, params: Params) -> dict:
    """The student (``dim`` None) or its ``dim``-dimensional PCA model, in fp32 and each int8 copy.

    Every group's body runs on the evaluation sentences only when the student itself is evaluated;
    a PCA dimension reads those outputs from the cache, and reruns the body only on the check sentences.
    """
    teacher_result = json.loads(eval_file(TEACHER).read_text())["variants"][TEACHER]
    teacher_dimension = teacher_result["dimension"]
    check_set = check_sentences(params.evaluate.check_sentences)
    batch = params.evaluate.batch_size
    result = {"variants": {}}
    groups = student_groups(name, params.backends_for(name))
    truncations = params.students[name].matryoshka_dims if dim is None else []
    for group, student_folder in tqdm(groups.items(), total=len(groups), unit="model", desc=f"evaluating {name}"):
        student = load_variant(student_folder)
        with_heldout = student.get_embedding_dimension() == teacher_dimension and not params.students[name].matryoshka_dims
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
                student, evaluation_sentences(with_heldout), batch,
                cache_root=body_cache_root(name, group), model_dir=student_folder, fill=dim is None,
            )
            check_body = SharedBody(student, check_set, batch)
        metrics, embeddings = evaluate_model(
            label, model, folder, params, shared, check_body, fp32_folder=variant_folder(name, FP32, dim),
            mse_to_teacher=with_heldout,
        )
        result["variants"][label] = metrics
        if group == FP32:
            for precision, m in embedding_quantization(model, metrics, embeddings, params.evaluate).items():
                result["variants"][f"{label}-emb-{precision}"] = m
        for k in truncations:
            truncated = truncated_label(name, group, k)
            log.info("evaluating %s (%s, its first %d dimensions)", truncated, folder, k)
            m, vectors = evaluate_truncation(truncated, model, k, metrics, embeddings, check_body, params)
            # no model of its own: it runs as the model it cuts (its speed), and its fp32 row is the fp32 cut
            result["variants"][truncated] = {**m, "runs_as": label, "fp32_model": truncated_label(name, FP32, k)}
            if group == FP32:
                for precision, q in embedding_quantization(model, m, vectors, params.evaluate, truncate_dim=k).items():
                    result["variants"][f"{truncated}-emb-{precision}"] = q
    for metrics in result["variants"].values():
        metrics.update(kept_shares(metrics, teacher_result))
    return result


def evaluate(name: str, params: Params, dim: int | None = None) -> dict:
    if dim is not None and dim not in params.pca_dims_for(name):
        result = {"variants": {}, "not_requested": params.no_pca_note(name).strip()}
    else:
        result = evaluate_teacher(params) if name == TEACHER else evaluate_variants(name, dim, params)
    write_json(eval_file(name, dim), result)
    return result


def main(argv: list[str] | None = None) -> int:
    return run_for_student(
        "evaluate", argv, student=evaluate, dimension=lambda name, dim, params: evaluate(name, params, dim), extra=(TEACHER,)
    )


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
