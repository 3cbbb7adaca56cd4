"""The teacher embedding cache filled by other processes: two writers at once encode each sentence once, a writer
killed by SIGKILL leaves shards the next fill keeps, and a local Dask cluster's two workers (with the Prefect API
the stage starts for them) give one process's embeddings and listen on 127.0.0.1 only. Each process loads the
packaged all-MiniLM-L6-v2; every comparison is against ``encode`` in this process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.dask_encoding import dask_fill, dask_runner, prefect_api_for_workers
from sentence_distill.config.schema import TeacherParams
from sentence_distill.models import embed_corpus, load_model, model_folder, open_teacher_cache
from sentence_distill.teacher import DASK_ADDRESS_ENV, embed_teacher
from tests.project import TEST_ENV
from tests.unit.test_embedding_cache import (
    BATCH,
    MODEL,
    REPO,
    CountingEncoder,
    cosines,
    make_sentences,
    new_cache,
    shard_rows_on_disk,
)

# One fill in a child process: args as JSON in argv[1]; prints the fill's stats as JSON.
FILL_SCRIPT = """
import json, logging, sys, time
from pathlib import Path
from sentence_distill.models import embed_corpus, load_model, model_folder

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
args = json.loads(sys.argv[1])
texts = json.loads(Path(args["texts"]).read_text())
model = load_model(args["model"])
if args.get("ready"):  # start line: both writers have loaded the model, now fill at the same moment
    Path(args["ready"]).touch()
    while not Path(args["go"]).exists():
        time.sleep(0.01)
_, stats = embed_corpus(model, model_folder(model, args["model"]), texts, cache_root=Path(args["root"]),
                        batch_size=args["batch"], shard_rows=args["shard_rows"])
print(json.dumps(stats))
"""


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


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in TEST_ENV.items() if k != DASK_ADDRESS_ENV and not k.startswith("PREFECT_")}
    # Prefect's temporary server gets its own home here; on 2 busy cores it starts slowly.
    return env | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}


def start_fill(tmp_path: Path, texts_file: Path, root: Path, shard_rows: int, **extra: str) -> subprocess.Popen:
    args = {
        "model": MODEL,
        "texts": str(texts_file),
        "root": str(root),
        "batch": BATCH,
        "shard_rows": shard_rows,
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-c", FILL_SCRIPT, json.dumps(args)],
        cwd=REPO,
        env=child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def test_killed_fill_resumes_to_the_same_embeddings(model, sentences, reference, tmp_path):
    sentences, reference = sentences[:240], reference[:240]
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(sentences))
    root = tmp_path / "cache"
    cache = new_cache(model, root)
    child = start_fill(tmp_path, texts_file, root, shard_rows=8)
    try:
        wait_for(lambda: len(cache.shard_paths()) >= 4 or child.poll() is not None, 300, "the first shards")
        assert child.poll() is None, f"the fill ended before it could be killed: {child.communicate()[1][-2000:]}"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    present = shard_rows_on_disk(cache)
    assert 32 <= present < len(sentences)
    leftover = cache.folder / ".shard-killed-8.parquet.x1y2.tmp"  # what a kill in the middle of a write leaves
    leftover.write_bytes(b"PAR1")

    encoder = CountingEncoder(model)
    stats = cache.fill(sentences, encoder, shard_rows=8)
    assert stats.cached == present and len(encoder.texts) == len(sentences) - present
    assert not leftover.exists(), "a half-written shard of the killed run is left behind"
    np.testing.assert_allclose(cache.lookup(sentences), reference, atol=1e-5)


def test_two_processes_filling_at_once_encode_each_sentence_once(model, sentences, reference, tmp_path):
    sentences, reference = sentences[:240], reference[:240]
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(sentences[:180]))
    second.write_text(json.dumps(sentences[60:]))
    root, go = tmp_path / "cache", tmp_path / "go"
    children = [
        start_fill(tmp_path, texts, root, shard_rows=32, ready=str(tmp_path / f"ready-{n}"), go=str(go))
        for n, texts in enumerate((first, second))
    ]
    try:
        wait_for(lambda: all((tmp_path / f"ready-{n}").exists() for n in (0, 1)), 300, "both writers to load the model")
        go.touch()
        outputs = [child.communicate(timeout=300) for child in children]
    finally:
        for child in children:
            child.kill()
    assert [child.returncode for child in children] == [0, 0], [err[-2000:] for _, err in outputs]
    stats = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert sum(s["encoded"] for s in stats) == len(sentences), stats
    assert any("another process is filling it" in err for _, err in outputs), "the fills did not overlap"
    cache = new_cache(model, root)
    assert shard_rows_on_disk(cache) == len(sentences)
    np.testing.assert_allclose(cache.lookup(sentences), reference, atol=1e-5)


def test_dask_two_workers_match_a_single_process(model, sentences, reference, tmp_path):
    texts = sentences[:320]
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    pq.write_table(pa.table({"sentence": texts, "split": ["train"] * len(texts)}), prepared / "corpus.parquet")
    teacher_file, root = tmp_path / "teacher.json", tmp_path / "embeddings"
    params = {"model": MODEL, "batch_size": BATCH, "shard_rows": 32, "dask_workers": 2}
    args = {"params": params, "teacher_file": str(teacher_file), "root": str(root), "prepared": str(prepared)}
    run = subprocess.run(
        [sys.executable, "-c", TEACHER_SCRIPT, json.dumps(args)],
        cwd=REPO,
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
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
    again = embed_teacher(
        teacher, teacher_file=teacher_file, cache_root=root, prepared_dir=prepared, fill_elsewhere=dask_fill(teacher)
    )
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
