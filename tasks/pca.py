"""PCA dimensionality reduction, stored inside the model as a centred ``Dense`` layer.

Reads ``params.pca`` and ``models/<name>/student``. Fits scikit-learn's PCA on the student's own
embeddings of the training corpus (cached in ``data/student_embeddings`` like the teacher's; above
``in_memory_rows`` an IncrementalPCA reads them from the cache in chunks), then writes
one ordinary sentence-transformers model per dimension to ``models/<name>/pca/<dim>`` and the
explained variance to ``metrics/pca/<name>.json``.

Unlike the reference script, the projection keeps the mean (``bias = -W @ mean``, so it is the true
PCA) and sits before ``Normalize``, so the reduced embeddings are still unit length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize
from sklearn.decomposition import PCA, IncrementalPCA

from tasks.fileio import atomic_dir, write_json
from tasks.cli import configure_logging, run_for_student
from tasks.params import Params
from tasks.student import MODELS_DIR, student_dir
from tasks.teacher_embeddings import corpus_sentences, embed_corpus

log = logging.getLogger(__name__)


def pca_dir(name: str) -> Path:
    return MODELS_DIR / name / "pca"


def student_embeddings_dir(name: str) -> Path:
    """Each student's own embedding cache: a persistent output of its PCA stage."""
    return Path("data/student_embeddings") / name


def split_normalize(model: SentenceTransformer) -> tuple[list[torch.nn.Module], list[torch.nn.Module]]:
    """The model's modules before its trailing ``Normalize`` and the ``Normalize`` itself (if any)."""
    modules = list(model)
    if modules and isinstance(modules[-1], Normalize):
        return modules[:-1], modules[-1:]
    return modules, []


def pca_dense(pca: PCA | IncrementalPCA, dimension: int) -> Dense:
    weight = torch.tensor(pca.components_[:dimension], dtype=torch.float32)
    bias = -weight @ torch.tensor(pca.mean_, dtype=torch.float32)
    return Dense(
        weight.shape[1], dimension, bias=True, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias
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
    for start, end in zip(bounds, bounds[1:]):
        pca.partial_fit(lookup(texts[start:end]))
    log.info("IncrementalPCA fitted on %d rows in chunks of %d", pca.n_samples_seen_, chunk)
    return pca


def with_pca(model: SentenceTransformer, pca: PCA | IncrementalPCA, dimension: int) -> SentenceTransformer:
    """A new model: the same modules with the PCA projection placed before ``Normalize``."""
    body, tail = split_normalize(model)
    return SentenceTransformer(modules=[*body, pca_dense(pca, dimension), *tail], device=str(model.device))


def reduce_student(name: str, params: Params) -> dict:
    dims = sorted(set(params.pca.dims), reverse=True)
    if not dims:
        with atomic_dir(pca_dir(name)):
            pass
        summary = {"name": name, "explained_variance": {}}
        write_json(Path("metrics/pca") / f"{name}.json", summary)
        return summary
    source = student_dir(name)
    model = SentenceTransformer(str(source))
    body, _ = split_normalize(model)
    texts = corpus_sentences("train")[: params.pca.fit_sentences]
    if len(texts) <= dims[0]:
        raise ValueError(f"pca.dims: {dims[0]} needs more than {len(texts)} fitting sentences")
    encoder = SentenceTransformer(modules=body, device=str(model.device))
    cache, _ = embed_corpus(
        encoder, source, texts, cache_root=student_embeddings_dir(name), batch_size=params.pca.batch_size,
        output="before-normalize",
    )
    pca = fit_pca(cache.lookup, texts, dims[0], params.pca.in_memory_rows)
    explained = np.cumsum(pca.explained_variance_ratio_)
    summary = {"name": name, "fit_sentences": len(texts), "explained_variance": {}}
    with atomic_dir(pca_dir(name)) as tmp:
        for dim in dims:
            with_pca(model, pca, dim).save(str(tmp / str(dim)))
            summary["explained_variance"][str(dim)] = round(float(explained[dim - 1]), 5)
    write_json(Path("metrics/pca") / f"{name}.json", summary)
    log.info("PCA for %s: %s", name, summary["explained_variance"])
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_for_student("pca", reduce_student, argv)


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
