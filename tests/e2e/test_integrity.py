"""A damaged output of a finished tiny run is found and rebuilt, never handed back by DVC's cache.

The workspace's outputs are hard links into DVC's cache, so bytes changed on disk change the cache object too, and
DVC never reads an object again. Damage is done as a disk does it: in place, the file's mode kept (DVC's own check
skips read-only objects), on the run's hard links (the copy the fixture makes breaks them: ``dvc checkout --relink``
makes them again).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from sentence_transformers import SentenceTransformer

from sentence_distill.embedding_cache import EmbeddingCache
from tests.project import run


def damage(path: Path, change: Callable[[Path], None]) -> None:
    """``change`` the file in place, its hard links with it, and leave its mode as it was."""
    mode = stat.S_IMODE(path.stat().st_mode)
    os.chmod(path, mode | stat.S_IWUSR)
    change(path)
    os.chmod(path, mode)


def flip(offset: int, count: int = 1) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with open(path, "r+b") as handle:
            handle.seek(offset)
            data = handle.read(count)
            handle.seek(offset)
            handle.write(bytes(byte ^ 0xFF for byte in data))

    return change


def in_embedding_pages(shard: Path) -> int:
    """An offset inside the shard's embedding column pages (checksummed), not in its footer."""
    column = pq.ParquetFile(shard).metadata.row_group(0).column(2)
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    return start + column.total_compressed_size // 2


def relinked(project: Path) -> Path:
    run(["dvc", "checkout", "--relink"], project)
    return project


def assert_whole(project: Path) -> None:
    assert "up to date" in run(["dvc", "status"], project).stdout
    result = run(["python", "-m", "flows.verify"], project)
    assert "verify: all whole" in result.stdout, result.stdout


def test_damaged_shards_are_re_encoded_and_stored_anew(finished_project: Path) -> None:
    project = relinked(finished_project)
    teacher = json.loads((project / "data/teacher.json").read_text())
    cache = EmbeddingCache(
        project / "data/embeddings", teacher["fingerprint"], teacher["dimension"], teacher["precision"]
    )
    shards = cache.shard_paths()
    texts = [text for shard in shards for text in pq.read_table(shard, columns=["text"])["text"].to_pylist()]
    original = cache.lookup(texts)
    flipped, truncated = shards[0], shards[1]
    assert flipped.stat().st_nlink == truncated.stat().st_nlink == 2, "the shards are not hard links of cache objects"
    damage(flipped, flip(in_embedding_pages(flipped)))
    damage(truncated, lambda path: os.truncate(path, path.stat().st_size - 100))

    result = run(["dvc", "repro"], project, timeout=1800)

    assert "Running stage 'teacher_embeddings'" in result.stdout
    assert result.stderr.count("damaged shard") == 2 and result.stderr.count("no longer holds what its name says") == 2
    for shard in cache.shard_paths():
        pq.read_table(shard, page_checksum_verification=True)
    np.testing.assert_array_equal(cache.lookup(texts), original)
    assert_whole(project)


def test_damaged_student_weights_compute_nothing_and_are_rebuilt(finished_project: Path) -> None:
    project = relinked(finished_project)
    student = project / "models/L1/student"
    weights = student / "model.safetensors"
    sentences = ["A damaged model must not answer.", "The rebuilt one answers as the first did."]
    original = SentenceTransformer(str(student), device="cpu").encode(sentences)
    student_caches = sorted(path.name for path in (project / "data/student_embeddings/L1").iterdir())
    damage(weights, flip(weights.stat().st_size - 4096, 64))  # in the tensors: the file still loads

    # The next stage that loads it names it, and computes nothing: no cache of a new fingerprint.
    stage = run(["python", "-m", "tasks.student_embeddings", "L1"], project, check=False)
    assert stage.returncode == 2 and "Traceback" not in stage.stderr, stage.stderr
    assert "models/L1/student/model.safetensors" in stage.stderr and "`dvc repro`" in stage.stderr
    assert sorted(path.name for path in (project / "data/student_embeddings/L1").iterdir()) == student_caches
    # verify names the PCA model that shares the weights (one inode, one cache object) and the stages to rerun.
    check = run(["python", "-m", "flows.verify"], project, check=False)
    assert check.returncode == 2 and "models/L1/pca/32/model.safetensors (stage pca@L1-32)" in check.stdout, (
        check.stdout
    )
    assert "student@L1" in check.stdout.splitlines()[-1]

    run(["dvc", "repro"], project, timeout=1800)

    rebuilt = SentenceTransformer(str(student), device="cpu").encode(sentences)
    np.testing.assert_array_equal(rebuilt, original)
    assert_whole(project)
