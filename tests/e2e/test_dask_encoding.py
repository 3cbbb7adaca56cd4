"""The teacher's encoding on a local Dask cluster (``teacher.dask_workers``): two worker processes, each loading
the teacher once, fill the embedding cache with the embeddings one process computes, and the cluster, with the
Prefect API the stage starts for its workers, listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.dask_encoding import dask_fill, dask_runner, prefect_api_for_workers
from sentence_distill.config.schema import TeacherParams
from sentence_distill.models import embed_corpus, load_model, model_folder, open_teacher_cache
from sentence_distill.teacher import embed_teacher
from tests.unit.test_embedding_cache import BATCH, MODEL, REPO, child_env, cosines, make_sentences

# The teacher stage on Dask with params from argv[1]; prints what embed_teacher returns.
TEACHER_SCRIPT = """
import json, sys
from pathlib import Path
from flows.dask_encoding import dask_fill
from sentence_distill.config.schema import TeacherParams
from sentence_distill.teacher import embed_teacher

args = json.loads(sys.argv[1])
params = TeacherParams(**args["params"])
info = embed_teacher(params, teacher_file=Path(args["teacher_file"]), cache_root=Path(args["root"]),
                     prepared_dir=Path(args["prepared"]), fill_elsewhere=dask_fill(params))
print(json.dumps(info))
"""


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return make_sentences(400)


@pytest.fixture(scope="module")
def reference(model, sentences) -> np.ndarray:
    return model.encode(sentences, batch_size=BATCH, convert_to_numpy=True)


def test_dask_two_workers_match_a_single_process(model, sentences, reference, tmp_path):
    texts = sentences[:320]
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    pq.write_table(pa.table({"sentence": texts, "split": ["train"] * len(texts)}), prepared / "corpus.parquet")
    teacher_file, root = tmp_path / "teacher.json", tmp_path / "embeddings"
    params = {"model": MODEL, "batch_size": BATCH, "shard_rows": 32, "dask_workers": 2}
    args = {"params": params, "teacher_file": str(teacher_file), "root": str(root), "prepared": str(prepared)}
    run = subprocess.run(
        [sys.executable, "-c", TEACHER_SCRIPT, json.dumps(args)], cwd=REPO, env=child_env(tmp_path),
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads(run.stdout.splitlines()[-1])
    assert (info["encoded"], info["shards_written"]) == (len(texts), 10)
    assert info["dask_workers_used"] == 2 and info["teacher_loads"] == 2, "each worker loads the teacher once"

    distributed = open_teacher_cache(teacher_file, root).lookup(texts)
    assert cosines(distributed, reference[: len(texts)]).min() >= 0.9999
    single = embed_corpus(model, model_folder(model, MODEL), texts, cache_root=tmp_path / "single", batch_size=BATCH)[0]
    assert cosines(distributed, single.lookup(texts)).min() >= 0.9999

    named = teacher_file.read_bytes()
    teacher = TeacherParams(**params)
    again = embed_teacher(teacher, teacher_file=teacher_file, cache_root=root, prepared_dir=prepared, fill_elsewhere=dask_fill(teacher))
    assert (again["encoded"], again["dask_workers_used"]) == (0, 0), "nothing missing: no cluster is started"
    assert teacher_file.read_bytes() == named, "a rerun with nothing to encode changes nothing downstream stages read"


def listening_addresses(process) -> set[str]:
    """The addresses the process and its children accept connections on (TCP LISTEN sockets)."""
    import psutil

    addresses = set()
    for proc in [process, *process.children(recursive=True)]:
        try:
            connections = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        addresses |= {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
    return addresses


def test_local_dask_cluster_listens_on_localhost_only(tmp_path, monkeypatch):
    """The cluster and the Prefect API the stage starts for its workers, as ``fill_on_dask`` starts them."""
    import psutil

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    runner = dask_runner(TeacherParams(model=MODEL, dask_workers=2))
    with prefect_api_for_workers(), runner:
        client = runner.client  # the cluster starts with its client
        client.wait_for_workers(2, timeout=120)
        addresses = listening_addresses(psutil.Process())
        dashboard = client.dashboard_link
    assert addresses == {"127.0.0.1"}, f"listening beyond localhost: {addresses}"
    assert dashboard.startswith("http://127.0.0.1:")
