"""What a variant is scored on and how: the evaluation sentences, STSb on precomputed embeddings, the other
task families, and the model's size.

Each text is embedded once per variant and shared by every family that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import safe_open
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

from sentence_distill.config.schema import EvaluateParams
from sentence_distill.data.corpus import corpus_sentences, evaluation_documents, parallel_pairs, stsb_pairs
from sentence_distill.evaluation.task_families import family_scores
from sentence_distill.paths import PREPARED_DIR, QUANTIZATION_FILE
from sentence_distill.records.evaluation import FamilyScores


class PrecomputedSimilarityEvaluator(EmbeddingSimilarityEvaluator):
    """STSb scored on embeddings computed beforehand (``embeddings`` maps each sentence to its vector)."""

    def __init__(self, *args, embeddings: Mapping[str, np.ndarray], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embeddings = embeddings

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return np.stack([self.embeddings[s] for s in sentences])


def check_sentences(count: int, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    """A fixed sentence set: the first ``count`` distinct STSb test sentences (all of them if fewer)."""
    pairs = stsb_pairs("test", prepared_dir)
    return list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"]))[:count]


def evaluation_sentences(with_heldout: bool) -> list[str]:
    """Every text a variant is scored on: STSb test, the evaluation articles, the held-out parallel pairs
    (both sides), and the held-out corpus slice for MSE. Each is embedded once and shared by every family that
    reads it. Not STSb dev: it picks each student's best step (its score is in ``metrics/students``), so a
    variant's dev figure says less than its test one, and embedding it took about as long as the articles."""
    pairs = stsb_pairs("test")
    sources, targets = parallel_pairs("heldout")
    return (
        pairs["sentence1"]
        + pairs["sentence2"]
        + evaluation_documents()[0]
        + sources
        + targets
        + (corpus_sentences("heldout") if with_heldout else [])
    )


def other_families(vectors: Mapping[str, np.ndarray], params: EvaluateParams) -> FamilyScores:
    """Classification and clustering of the evaluation articles, retrieval of STSb test paraphrases, and
    translation retrieval of the held-out parallel pairs when there are any."""
    documents, topics = evaluation_documents()
    pairs = stsb_pairs("test")
    return family_scores(
        vectors,
        documents,
        topics,
        list(zip(pairs["sentence1"], pairs["sentence2"], pairs["score"], strict=True)),
        shots=params.classification_shots,
        draws=params.classification_draws,
        clustering_seeds=params.clustering_seeds,
        retrieval_min_score=params.retrieval_min_score,
        translations=list(zip(*parallel_pairs("heldout"), strict=True)),
    )


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
