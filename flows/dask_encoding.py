"""The teacher's missing sentences encoded on a Dask cluster, as Prefect tasks through ``prefect_dask.DaskTaskRunner``.

The teacher stage uses this when ``teacher.dask_workers``, ``teacher.dask_address`` or the ``DISTILL_DASK_ADDRESS``
environment variable asks for it (``sentence_distill.teacher.encodes_on_dask``): one task per shard, each writing its
own shard into the embedding cache, each worker loading the teacher once. The workers must see the cache folder and
the model folder at the same paths; with a cluster on other machines, set ``PREFECT_API_URL`` to a Prefect server they
can reach. Prefect and Dask are imported inside the functions, as late as they are needed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from sentence_transformers import SentenceTransformer

from sentence_distill.config.schema import TeacherParams
from sentence_distill.embedding_cache import EmbeddingCache
from sentence_distill.models import encode_texts, load_model
from sentence_distill.teacher import FillElsewhere, dask_address

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def worker_model(model_dir: str, max_seq_length: int) -> SentenceTransformer:
    """This process's teacher: a Dask worker loads it for its first shard and reuses it for the next ones."""
    return load_model(model_dir, max_seq_length)


def encode_shard(cache: EmbeddingCache, texts: list[str], model_dir: str, max_seq_length: int, batch_size: int) -> dict:
    """One Dask task: encode one chunk with this worker's teacher and write it as one shard."""
    cache.write_shard(texts, encode_texts(worker_model(model_dir, max_seq_length), texts, batch_size))
    return {"worker": f"{socket.gethostname()}:{os.getpid()}", "model_loads": worker_model.cache_info().misses}


def dask_runner(params: TeacherParams) -> DaskTaskRunner:
    """Where to encode: a running scheduler (``DISTILL_DASK_ADDRESS``, else ``dask_address``), or a new
    local cluster of ``dask_workers`` one-thread processes. The local cluster's scheduler, workers and
    dashboard listen on ``dask_host`` only (127.0.0.1 by default)."""
    from prefect_dask import DaskTaskRunner

    address = dask_address(params)

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
            shared = {
                "cache": cache,
                "model_dir": str(model_dir),
                "max_seq_length": max_seq_length,
                "batch_size": batch_size,
            }
            futures = [runner.submit(shard_task, {**shared, "texts": chunk}) for chunk in chunks]
            for number, future in enumerate(futures, 1):
                reports.append(future.result())
                worker = reports[-1]["worker"]
                log.info(
                    "embedding cache %s: shard %d of %d written by %s", cache.folder.name, number, len(chunks), worker
                )

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


def dask_fill(params: TeacherParams) -> FillElsewhere:
    """``fill_on_dask`` on the cluster the params ask for (``dask_runner``), at their batch size and shard rows: what
    ``sentence_distill.teacher.embed_teacher`` calls to fill the cache elsewhere than in its own process."""
    runner = dask_runner(params)
    return functools.partial(fill_on_dask, runner=runner, batch_size=params.batch_size, shard_rows=params.shard_rows)
