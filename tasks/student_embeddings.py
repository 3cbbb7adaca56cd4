"""Stage ``student_embeddings@NAME``: the student's own embeddings of ``pca.fit_sentences`` training
sentences, taken before ``Normalize``, cached in Parquet like the teacher's in
``data/student_embeddings/<name>`` (a persistent output, keyed by the student's fingerprint: nothing
is encoded twice; ``current.json`` names the fingerprint of this run, the one ``make gc`` keeps, and what it was
computed from besides the student's files, so the PCA stages find the cache without loading the model).
Every PCA dimension's stage fits on this cache.

    python -m tasks.student_embeddings NAME
"""

from __future__ import annotations

import logging

from sentence_distill.cli import run_for_student, stage_main
from sentence_distill.config.schema import Params
from sentence_distill.embedding_cache import EmbeddingCache
from sentence_distill.models import embed_corpus
from sentence_distill.paths import student_dir, student_embeddings_dir
from sentence_distill.students.body import BODY_OUTPUT, PRECISION, fit_sentences, record_body_cache, student_body

log = logging.getLogger(__name__)


def embed_student(name: str, params: Params) -> EmbeddingCache | None:
    """Cache the student's body outputs for the fitting sentences."""
    if not params.pca_dims_for(name):
        student_embeddings_dir(name).mkdir(parents=True, exist_ok=True)
        log.info("student %s has no PCA (students.%s.pca is false): nothing to encode", name, name)
        return None
    _, body = student_body(name)
    cache, stats = embed_corpus(
        body,
        student_dir(name),
        fit_sentences(params),
        cache_root=student_embeddings_dir(name),
        batch_size=params.pca.batch_size,
        precision=PRECISION,
        output=BODY_OUTPUT,
    )
    log.info("student %s embeddings for PCA: %s", name, stats)
    record_body_cache(name, cache, body.max_seq_length)
    return cache


def main(argv: list[str] | None = None) -> int:
    return run_for_student("student_embeddings", argv, student=embed_student)


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
