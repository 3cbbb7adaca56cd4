"""Teacher embedding generation: encode the corpus once per teacher into the Parquet embedding cache.

Reads ``params.teacher``, ``data/prepared/corpus.parquet`` and, with parallel data, the source side of
``data/prepared/parallel.parquet`` (a parallel student's targets). Writes shards into
``data/embeddings/<teacher fingerprint>/`` (a persistent DVC output: sentences cached by an
earlier run are never encoded again) and ``data/teacher.json``, which names the fingerprint that
later stages read their targets from; ``metrics/teacher_embeddings.json`` says how many sentences
this run found in the cache and how many it encoded.

The missing sentences are encoded in this process, or, when ``teacher.dask_workers`` or
``teacher.dask_address`` (or the ``DISTILL_DASK_ADDRESS`` environment variable) asks for it, as
Prefect tasks on a Dask cluster through ``prefect_dask.DaskTaskRunner``: one task per shard, each
writing its own shard into the cache, each worker loading the teacher once. The workers must see
the cache folder and the model folder at the same paths; with a cluster on other machines, set
``PREFECT_API_URL`` to a Prefect server they can reach.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

from sentence_transformers import SentenceTransformer

from sentence_distill.cli import configure_logging
from sentence_distill.data.corpus import corpus_sentences, parallel_pairs
from sentence_distill.embedding_cache import EmbeddingCache, FillStats
from sentence_distill.fileio import write_json
from sentence_distill.models import cache_for, embed_corpus, encode_texts, load_model, model_folder
from sentence_distill.config.params import TeacherParams, load_or_exit
from sentence_distill.paths import EMBEDDINGS_DIR, PREPARED_DIR, TEACHER_FILE, TEACHER_FILL_FILE

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

log = logging.getLogger(__name__)

DASK_ADDRESS_ENV = "DISTILL_DASK_ADDRESS"


@functools.lru_cache(maxsize=1)
def worker_model(model_dir: str, max_seq_length: int) -> SentenceTransformer:
    """This process's teacher: a Dask worker loads it for its first shard and reuses it for the next ones."""
    return load_model(model_dir, max_seq_length)


def encode_shard(cache: EmbeddingCache, texts: list[str], model_dir: str, max_seq_length: int, batch_size: int) -> dict:
    """One Dask task: encode one chunk with this worker's teacher and write it as one shard."""
    cache.write_shard(texts, encode_texts(worker_model(model_dir, max_seq_length), texts, batch_size))
    return {"worker": f"{socket.gethostname()}:{os.getpid()}", "model_loads": worker_model.cache_info().misses}


def dask_runner(params: TeacherParams) -> DaskTaskRunner | None:
    """Where to encode: a running scheduler (``DISTILL_DASK_ADDRESS``, else ``dask_address``), a new
    local cluster of ``dask_workers`` one-thread processes, or None for this process. The local
    cluster's scheduler, workers and dashboard listen on ``dask_host`` only (127.0.0.1 by default)."""
    address = os.environ.get(DASK_ADDRESS_ENV) or params.dask_address
    if not address and not params.dask_workers:
        return None
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": params.dask_workers,
            "threads_per_worker": 1,
            "host": params.dask_host,
            "dashboard_address": f"{params.dask_host}:0",
        }
    )


@contextlib.contextmanager
def prefect_api_for_workers() -> Iterator[None]:
    """Hand Dask workers this process's Prefect API: without an API URL each worker would start its own
    temporary Prefect server, tens of seconds each."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the temporary server Prefect starts for a flow run without one
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def fill_on_dask(
    cache: EmbeddingCache,
    texts: Sequence[str],
    runner: DaskTaskRunner,
    *,
    model_dir: Path,
    max_seq_length: int,
    batch_size: int,
    shard_rows: int,
) -> dict:
    """``EmbeddingCache.fill`` with one Prefect task per shard on the Dask cluster.

    The cluster starts only if a shard is missing. Returns the fill counts, how many worker
    processes took part and how often they loaded the teacher in total.
    """
    from prefect import task
    from prefect.cache_policies import NO_CACHE
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    shard_task = task(encode_shard, name="encode-shard", cache_policy=NO_CACHE)
    reports: list[dict] = []

    def encode_on_workers(chunks: list[list[str]]) -> None:
        if not chunks:
            return
        with prefect_api_for_workers(), runner:
            shared = {"cache": cache, "model_dir": str(model_dir), "max_seq_length": max_seq_length, "batch_size": batch_size}
            futures = [runner.submit(shard_task, {**shared, "texts": chunk}) for chunk in chunks]
            for number, future in enumerate(futures, 1):
                reports.append(future.result())
                worker = reports[-1]["worker"]
                log.info("embedding cache %s: shard %d of %d written by %s", cache.folder.name, number, len(chunks), worker)

    # Outside a flow run (the stage run on its own), Prefect would warn about every log line here and in the tasks.
    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        stats = cache.fill_with(texts, encode_on_workers, shard_rows)
        loads: dict[str, int] = {}  # per worker process: how often it has loaded a teacher (its highest report)
        for report in reports:
            loads[report["worker"]] = max(loads.get(report["worker"], 0), report["model_loads"])
        summary = {"fingerprint": cache.fingerprint, **asdict(stats)}
        summary.update(dask_workers_used=len(loads), teacher_loads=sum(loads.values()))
        log.info("embedding cache %s: %s", cache.folder, summary)
    return summary


def embed_teacher(
    params: TeacherParams,
    teacher_file: Path = TEACHER_FILE,
    cache_root: Path = EMBEDDINGS_DIR,
    prepared_dir: Path = PREPARED_DIR,
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
    runner = dask_runner(params)
    if runner is None:
        cache, stats = embed_corpus(
            model, model_dir, texts, cache_root=cache_root, batch_size=params.batch_size,
            shard_rows=params.shard_rows, precision=params.precision,
        )
    else:
        cache = cache_for(model, model_dir, cache_root, params.precision)
        stats = fill_on_dask(
            cache, texts, runner, model_dir=model_dir, max_seq_length=model.max_seq_length,
            batch_size=params.batch_size, shard_rows=params.shard_rows,
        )
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


def main(argv: list[str] | None = None) -> int:
    params = load_or_exit()
    summary = embed_teacher(params.teacher)
    write_json(TEACHER_FILL_FILE, {key: summary[key] for key in ("fingerprint", *(f.name for f in fields(FillStats)))})
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
