"""Teacher embedding generation: encode the corpus once per teacher into the Parquet embedding cache.

Reads ``params.teacher`` (the model ``teacher.model`` names; a local one lies under ``inputs/models/``),
``data/prepared/corpus.parquet`` and, with parallel data, the source side of ``data/prepared/parallel.parquet``
(a parallel student's targets). Writes shards into ``data/embeddings/<teacher fingerprint>/`` (a persistent DVC
output: sentences cached by an earlier run are never encoded again) and ``data/teacher.json``, which names the
fingerprint that later stages read their targets from; ``metrics/teacher_embeddings.json`` says how many sentences
this run found in the cache and how many it encoded.

The missing sentences are encoded in this process, or, when ``teacher.dask_workers`` or ``teacher.dask_address``
(or the ``DISTILL_DASK_ADDRESS`` environment variable) asks for it, on a Dask cluster (``flows/dask_encoding.py``).
"""

from __future__ import annotations

from dataclasses import fields

from sentence_distill.cli import stage_main
from sentence_distill.config.load import load_or_exit
from sentence_distill.embedding_cache import FillStats
from sentence_distill.fileio import write_json
from sentence_distill.paths import TEACHER_FILL_FILE
from sentence_distill.teacher import embed_teacher, encodes_on_dask


def main(argv: list[str] | None = None) -> int:
    params = load_or_exit(check_inputs=False)  # the validate stage, upstream, has checked the inputs the params name
    fill_elsewhere = None
    if encodes_on_dask(params.teacher):
        from flows.dask_encoding import dask_fill  # Prefect and Dask are imported only by a run that asks for them

        fill_elsewhere = dask_fill(params.teacher)
    summary = embed_teacher(params.teacher, fill_elsewhere=fill_elsewhere)
    write_json(TEACHER_FILL_FILE, {key: summary[key] for key in ("fingerprint", *(f.name for f in fields(FillStats)))})
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
