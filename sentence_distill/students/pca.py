"""PCA dimensionality reduction of a student, stored inside the model as a centred ``Dense`` layer.

Fitted with scikit-learn's PCA on the student's cached embeddings (stage ``student_embeddings``; above
``pca.in_memory_rows`` an IncrementalPCA reads them in chunks). Unlike the reference script, the
projection keeps the mean (``bias = -W @ mean``, so it is the true PCA) and sits before ``Normalize``,
so the reduced embeddings are still unit length. With ``pca.fit_on: normalized`` it is fitted on the
unit-length embeddings, the vectors whose cosine users compare, and the model gets a ``Normalize`` before
the projection too; ``unnormalized`` fits on the body's outputs as they are. A static student's PCA
(fitted on its outputs as they are) is folded into its table: the mean of projected rows is the projection
of the mean, so each row becomes ``W @ row + b`` and the model stays a table lookup, smaller by the ratio
of the dimensions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize, StaticEmbedding
from sklearn.decomposition import PCA, IncrementalPCA

from sentence_distill.config.schema import Params
from sentence_distill.models import cache_for, split_normalize
from sentence_distill.paths import student_dir, student_embeddings_dir
from sentence_distill.students.body import BODY_OUTPUT, fit_sentences, student_body

log = logging.getLogger(__name__)


def pca_dense(pca: PCA | IncrementalPCA, dimension: int) -> Dense:
    weight = torch.tensor(pca.components_[:dimension], dtype=torch.float32)
    bias = -weight @ torch.tensor(pca.mean_, dtype=torch.float32)
    return Dense(
        weight.shape[1],
        dimension,
        bias=True,
        activation_function=torch.nn.Identity(),
        init_weight=weight,
        init_bias=bias,
    )


def fit_pca(
    lookup: Callable[[list[str]], np.ndarray], texts: list[str], dimension: int, in_memory_rows: int
) -> PCA | IncrementalPCA:
    """PCA of the embeddings of ``texts``; above ``in_memory_rows`` an IncrementalPCA reads them chunk by chunk."""
    if len(texts) <= in_memory_rows:
        return PCA(n_components=dimension, svd_solver="full").fit(lookup(texts))
    chunk = max(in_memory_rows, dimension)
    bounds = [*range(0, len(texts), chunk), len(texts)]
    if bounds[-1] - bounds[-2] < dimension:  # partial_fit needs as many rows as components: merge the tail
        del bounds[-2]
    pca = IncrementalPCA(n_components=dimension)
    for start, end in zip(bounds, bounds[1:], strict=False):  # each chunk: one bound to the next
        pca.partial_fit(lookup(texts[start:end]))
    log.info("IncrementalPCA fitted on %d rows in chunks of %d", pca.n_samples_seen_, chunk)
    return pca


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def with_pca(
    model: SentenceTransformer,
    pca: PCA | IncrementalPCA,
    dimension: int,
    normalized_input: bool = False,
    fold: bool = False,
) -> SentenceTransformer:
    """A new model: the same modules with the PCA projection placed before ``Normalize`` (and after
    another one when the PCA was fitted on unit-length embeddings); ``fold``: a static model's table
    with the projection applied to its rows instead."""
    body, tail = split_normalize(model)
    if fold:
        (table,) = body
        return SentenceTransformer(modules=[folded_table(table, pca, dimension), *tail], device=str(model.device))
    head = [Normalize()] if normalized_input else []
    return SentenceTransformer(modules=[*body, *head, pca_dense(pca, dimension), *tail], device=str(model.device))


def folded_table(table: StaticEmbedding, pca: PCA | IncrementalPCA, dimension: int) -> StaticEmbedding:
    """The static table with the PCA applied to each row: mean pooling commutes with an affine map."""
    dense = pca_dense(pca, dimension)
    with torch.no_grad():
        rows = dense({"sentence_embedding": table.embedding.weight.detach().float()})["sentence_embedding"]
    return StaticEmbedding(table.tokenizer, embedding_weights=rows.contiguous())


def fit_student_pca(name: str, dim: int, params: Params) -> tuple[SentenceTransformer, PCA | IncrementalPCA, int]:
    """The student, the ``dim``-component PCA fitted on its cached embeddings, and the number of fitting sentences."""
    model, body = student_body(name)
    cache = cache_for(body, student_dir(name), student_embeddings_dir(name), output=BODY_OUTPUT)
    texts = fit_sentences(params)
    if len(texts) <= dim:
        raise ValueError(
            f"pca.dims: {dim} needs more than {len(texts)} fitting sentences (pca.fit_sentences, prepare.max_sentences)"
        )
    normalized = params.pca.fit_on == "normalized"
    lookup = (lambda batch: unit_rows(cache.lookup(batch))) if normalized else cache.lookup
    return model, fit_pca(lookup, texts, dim, params.pca.in_memory_rows), len(texts)
