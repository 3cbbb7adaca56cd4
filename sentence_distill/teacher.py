"""The teacher's targets: every corpus sentence, and every parallel pair's source, encoded once by the teacher into
the Parquet embedding cache, and ``data/teacher.json`` naming the cache the later stages read them from.

The cache lives in ``data/embeddings/<teacher fingerprint>/`` and persists across runs, so a sentence an earlier run
encoded is never encoded again. The missing ones are encoded in this process, or elsewhere by a ``FillElsewhere``
the caller hands in: the teacher stage hands in ``flows.dask_encoding``'s when ``teacher.dask_workers`` or a Dask
scheduler address asks for a cluster (``encodes_on_dask``), so a run without one never imports Prefect or Dask.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sentence_distill.config.schema import TeacherParams
from sentence_distill.data.corpus import corpus_sentences, parallel_pairs
from sentence_distill.fileio import write_json
from sentence_distill.models import cache_for, embed_corpus, load_model, model_folder
from sentence_distill.paths import EMBEDDINGS_DIR, PREPARED_DIR, TEACHER_FILE

DASK_ADDRESS_ENV = "DISTILL_DASK_ADDRESS"

# Fills the cache given as its first argument with the texts given as its second, encoded by the model in
# ``model_dir`` at ``max_seq_length`` (both keywords); returns the fill counts.
FillElsewhere = Callable[..., dict]


def dask_address(params: TeacherParams) -> str | None:
    """The running Dask scheduler to encode on: ``DISTILL_DASK_ADDRESS``, else ``teacher.dask_address``."""
    return os.environ.get(DASK_ADDRESS_ENV) or params.dask_address


def encodes_on_dask(params: TeacherParams) -> bool:
    """Whether the missing sentences are encoded on a Dask cluster: a running one, or ``dask_workers`` local ones."""
    return bool(dask_address(params) or params.dask_workers)


def embed_teacher(
    params: TeacherParams,
    teacher_file: Path = TEACHER_FILE,
    cache_root: Path = EMBEDDINGS_DIR,
    prepared_dir: Path = PREPARED_DIR,
    fill_elsewhere: FillElsewhere | None = None,
) -> dict:
    """Fill the teacher's cache for the whole corpus, then name it in ``teacher_file``.

    ``teacher_file`` holds only what identifies the targets, so rerunning with nothing new to encode
    leaves it, and the stages downstream of it, unchanged. Returns it with this run's fill counts.
    """
    corpus = corpus_sentences(prepared_dir=prepared_dir)
    texts = list(dict.fromkeys(corpus + parallel_pairs(prepared_dir=prepared_dir)[0]))
    if not texts:
        raise ValueError(f"{Path(prepared_dir) / 'corpus.parquet'} has no sentences; nothing to encode")
    model = load_model(params.model, params.max_seq_length)
    model_dir = model_folder(model, params.model)
    if fill_elsewhere is None:
        cache, stats = embed_corpus(
            model,
            model_dir,
            texts,
            cache_root=cache_root,
            batch_size=params.batch_size,
            shard_rows=params.shard_rows,
            precision=params.precision,
        )
    else:
        cache = cache_for(model, model_dir, cache_root, params.precision)
        stats = fill_elsewhere(cache, texts, model_dir=model_dir, max_seq_length=model.max_seq_length)
    info = {
        "model": params.model,
        "fingerprint": cache.fingerprint,
        "dimension": cache.dimension,
        "precision": params.precision,
        "max_seq_length": model.max_seq_length,
        "sentences": len(texts),
        **({"parallel_sources": len(texts) - len(corpus)} if len(texts) > len(corpus) else {}),  # not in the corpus
    }
    write_json(teacher_file, info)
    return {**info, **stats}
