"""The student's embeddings before ``Normalize`` on the PCA fitting sentences: what stage
``student_embeddings`` caches and stage ``pca`` fits on, so both name them the same way."""

from __future__ import annotations

from sentence_transformers import SentenceTransformer

from sentence_distill.config.schema import Params
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.models import load_variant, without_normalize
from sentence_distill.paths import student_dir

BODY_OUTPUT = "before-normalize"  # the cache's output name: embeddings of the body, not yet unit length


def student_body(name: str) -> tuple[SentenceTransformer, SentenceTransformer]:
    """The student, and its body (every module before ``Normalize``)."""
    model = load_variant(student_dir(name))
    return model, without_normalize(model)


def fit_sentences(params: Params) -> list[str]:
    return corpus_sentences("train")[: params.pca.fit_sentences]
