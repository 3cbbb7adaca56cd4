"""The student's embeddings before ``Normalize`` on the PCA fitting sentences: what stage
``student_embeddings`` caches and stage ``pca`` fits on, so both name them the same way.

The caching stage loads the student and records what its cache's fingerprint was computed from (the
student's ``max_seq_length`` and the body's dimension) beside the fingerprint, in ``current.json``; the
PCA stage recomputes the fingerprint from the student's files and that record, so it finds the cache,
and refuses a cache of another student, without loading the model.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sentence_distill.config.schema import Params
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.embedding_cache import EmbeddingCache, model_fingerprint
from sentence_distill.fileio import write_json
from sentence_distill.models import load_variant, without_normalize
from sentence_distill.paths import CURRENT_FINGERPRINT_FILE, student_dir, student_embeddings_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BODY_OUTPUT = "before-normalize"  # the cache's output name: embeddings of the body, not yet unit length
PRECISION = "float32"


class StaleBodyCacheError(RuntimeError):
    """The student's embedding cache was written for another student model (or before the record existed)."""


def student_body(name: str) -> tuple[SentenceTransformer, SentenceTransformer]:
    """The student, and its body (every module before ``Normalize``)."""
    model = load_variant(student_dir(name))
    return model, without_normalize(model)


def fit_sentences(params: Params) -> list[str]:
    return corpus_sentences("train")[: params.pca.fit_sentences]


def record_body_cache(name: str, cache: EmbeddingCache, max_seq_length: int | float) -> None:
    """``current.json``: the fingerprint of this run's cache and what it was computed from besides the files."""
    record = {"fingerprint": cache.fingerprint, "max_seq_length": max_seq_length, "dimension": cache.dimension}
    write_json(student_embeddings_dir(name) / CURRENT_FINGERPRINT_FILE, record)


def body_cache(name: str) -> EmbeddingCache:
    """The student's body cache, found from its record, once the fingerprint is checked against its files."""
    record = json.loads((student_embeddings_dir(name) / CURRENT_FINGERPRINT_FILE).read_text())
    fingerprint = record["fingerprint"]
    if "max_seq_length" not in record or fingerprint != model_fingerprint(
        student_dir(name), max_seq_length=record["max_seq_length"], precision=PRECISION, output=BODY_OUTPUT
    ):
        raise StaleBodyCacheError(
            f"{student_embeddings_dir(name)} holds the embeddings of another model than {student_dir(name)}: "
            f"run dvc repro student_embeddings@{name}"
        )
    return EmbeddingCache(student_embeddings_dir(name), fingerprint, record["dimension"], PRECISION)
