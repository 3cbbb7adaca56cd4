"""Integrity checks on a small real DVC project: one stage writes a model folder (hard links into DVC's cache, as the
pipeline's ``cache.type``), a metrics file DVC keeps no copy of, and a file is ``dvc add``-ed. Files are damaged the
way a disk does it (bytes changed in place: a hard-linked cache object changes with its file), never mocked."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from dvc.repo import Repo

from flows.verify import main as verify_main
from flows.verify import tracked_outputs, verify
from sentence_distill.embedding_cache import EmbeddingCache
from sentence_distill.integrity import (
    DamagedOutputError,
    cache_dir,
    check_model_files,
    file_md5,
    listing_md5,
    lock_outputs,
    object_path,
    purge_damaged_objects,
    recorded_files,
    same_file,
)

WRITER = """
import json, pathlib
out = pathlib.Path("models/tiny")
out.mkdir(parents=True, exist_ok=True)
(out / "weights.bin").write_bytes(bytes(range(256)) * 16)
(out / "config.txt").write_bytes(b"line one\\r\\nline two\\r\\n")  # DVC 3 hashes raw bytes: CRLF kept
pathlib.Path("metrics.json").write_text(json.dumps({"score": 1}))
"""
WEIGHTS = "models/tiny/weights.bin"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("integrity") / "project"
    root.mkdir()
    (root / "write.py").write_text(WRITER)
    (root / "inputs.bin").write_bytes(os.urandom(3000))
    (root / "dvc.yaml").write_text(
        f"stages:\n  make:\n    cmd: {sys.executable} write.py\n    deps: [write.py]\n    outs: [models/tiny]\n"
        "    metrics:\n      - metrics.json:\n          cache: false\n"
    )
    with Repo.init(str(root), no_scm=True) as repo:
        with repo.config.edit() as config:
            config["cache"]["type"] = "hardlink"
    with contextlib.chdir(root), Repo(str(root)) as repo:  # DVC takes paths relative to the working directory
        repo.add("inputs.bin")
        repo.reproduce()
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """The test's own copy; ``cp -a`` keeps the hard links between the workspace and the cache."""
    target = tmp_path / "project"
    subprocess.run(["cp", "-a", str(built), str(target)], check=True)
    return target


def flip_byte(path: Path, offset: int = 100) -> None:
    with open(path, "r+b") as handle:  # in place: a hard link's other name (the cache object) changes too
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def in_embedding_pages(shard: Path) -> int:
    """An offset inside the shard's embedding column pages (checksummed), not in its footer."""
    column = pq.ParquetFile(shard).metadata.row_group(0).column(2)
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    return start + column.total_compressed_size - 8


def whole(root: Path):
    with Repo(str(root)) as repo:
        return verify(root, tracked_outputs(repo))


def test_hashes_and_cache_layout_are_dvcs(project: Path) -> None:
    outputs = {out.path: out for out in lock_outputs(project)}
    assert set(outputs) == {"models/tiny", "metrics.json"} and outputs["models/tiny"].is_dir
    cache = cache_dir(project)
    assert cache == project / ".dvc" / "cache"
    files = recorded_files(outputs["models/tiny"], cache)
    assert sorted(f.path for f in files) == ["models/tiny/config.txt", WEIGHTS]
    for recorded in files:
        assert file_md5(project / recorded.path) == recorded.md5
        assert same_file(project / recorded.path, object_path(cache, recorded.md5))  # hardlink: one inode
    config = next(f for f in files if f.path.endswith("config.txt"))
    assert config.md5 == hashlib.md5(b"line one\r\nline two\r\n").hexdigest()  # raw bytes, not dos2unix
    entries = [{"md5": f.md5, "relpath": f.path.removeprefix("models/tiny/")} for f in files]
    assert listing_md5(entries) + ".dir" == outputs["models/tiny"].md5


def test_a_damaged_model_file_is_named_and_removed_with_its_cache_object(project: Path) -> None:
    cache = cache_dir(project)
    recorded = file_md5(project / WEIGHTS)
    obj = object_path(cache, recorded)
    flip_byte(project / WEIGHTS)
    with pytest.raises(DamagedOutputError) as raised:
        check_model_files(project / "models/tiny")
    message = str(raised.value)
    assert WEIGHTS in message and "stage make" in message and "`dvc repro`" in message and "make verify" in message
    assert not obj.exists() and not (project / WEIGHTS).exists()  # no rebuild can be linked back to the damage
    with contextlib.chdir(project), Repo(str(project)) as repo:
        assert "make" in repo.status()
        repo.reproduce()
    assert file_md5(project / WEIGHTS) == recorded and file_md5(obj) == recorded
    check_model_files(project / "models/tiny")
    assert whole(project).whole


def test_a_model_changed_outside_dvc_is_named_and_kept(project: Path) -> None:
    weights = project / WEIGHTS
    obj = object_path(cache_dir(project), file_md5(weights))
    weights.unlink()
    weights.write_bytes(b"written by a stage run by hand")  # a new file: the cache object is not touched
    with pytest.raises(DamagedOutputError, match=r"dvc checkout --relink models/tiny"):
        check_model_files(project / "models/tiny")
    assert weights.read_bytes() == b"written by a stage run by hand" and obj.exists()


def test_no_check_without_a_record(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "hub-model"
    elsewhere.mkdir()
    (elsewhere / "weights.bin").write_bytes(b"anything")
    check_model_files(elsewhere)  # not in a DVC project
    inputs = project / "inputs" / "model"
    inputs.mkdir(parents=True)
    (inputs / "weights.bin").write_bytes(b"anything")
    check_model_files(inputs)  # in the project, not an output
    (project / "dvc.lock").unlink()  # as while the stage that writes it is still running
    flip_byte(project / WEIGHTS)
    check_model_files(project / "models/tiny")


def test_purge_finds_the_object_by_inode_and_by_recorded_hash(project: Path) -> None:
    cache = cache_dir(project)
    weights, config = project / WEIGHTS, project / "models/tiny/config.txt"
    weights_obj, config_obj = object_path(cache, file_md5(weights)), object_path(cache, file_md5(config))
    assert purge_damaged_objects(weights) == []  # whole: nothing goes
    quarantine = project / "models/tiny/quarantine"
    quarantine.mkdir()
    # A hard link damaged, then moved aside: found by its inode (its recorded path is no longer its path).
    flip_byte(weights)
    weights.replace(quarantine / "weights.bin")
    assert purge_damaged_objects(quarantine / "weights.bin") == [weights_obj]
    # A copy (as DVC makes of a persistent output before its stage runs) whose cache object was damaged with it:
    # found by the hash dvc.lock records for the path it had.
    shutil.copyfile(config, quarantine / "config.txt")
    config.unlink()
    flip_byte(config_obj, offset=3)
    assert purge_damaged_objects(quarantine / "config.txt", recorded_as=config) == [config_obj]
    assert not weights_obj.exists() and not config_obj.exists()


def test_verify_names_and_removes_what_is_damaged(project: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(project)
    assert verify_main([]) == 0
    assert "verify: all whole" in capsys.readouterr().out
    cache = cache_dir(project)
    added_obj = object_path(cache, file_md5(project / "inputs.bin"))
    flip_byte(project / WEIGHTS)
    flip_byte(project / "inputs.bin")  # a `dvc add`-ed file, hard-linked as well
    (project / "metrics.json").write_text(json.dumps({"score": 2}))  # DVC keeps no copy of it
    assert verify_main([]) == 2
    out = capsys.readouterr().out
    assert f"{WEIGHTS} (stage make): damaged" in out and "inputs.bin (stage inputs.bin.dvc): damaged" in out
    assert "metrics.json (stage make, not in DVC's cache)" in out and "`dvc repro -f -s make`" in out
    assert "`dvc repro` reruns the stages that wrote them (make)" in out and "`dvc pull inputs.bin.dvc`" in out
    assert not added_obj.exists() and not (project / WEIGHTS).exists()
    with contextlib.chdir(project), Repo(str(project)) as repo:
        repo.reproduce(force=True, single_item=True, targets=["make"])
    assert whole(project).problems == ["inputs.bin (stage inputs.bin.dvc): missing"]  # its only copy was damaged


def test_verify_restores_a_damaged_object_from_a_whole_copy(project: Path) -> None:
    with Repo(str(project)) as repo, repo.config.edit() as config:
        config["cache"]["type"] = "copy"
    with contextlib.chdir(project), Repo(str(project)) as repo:
        repo.checkout(relink=True, force=True)  # the workspace files become copies
    cache = cache_dir(project)
    obj = object_path(cache, file_md5(project / WEIGHTS))
    assert not same_file(project / WEIGHTS, obj)
    flip_byte(obj)
    listing = object_path(cache, next(out.md5 for out in lock_outputs(project) if out.is_dir))
    listing.write_bytes(listing.read_bytes().replace(b'"relpath"', b'"relpath" '))  # still JSON, not its name
    report = whole(project)
    assert report.whole and set(report.restored) == {obj, listing}, report.summary()
    assert file_md5(obj) == file_md5(project / WEIGHTS) and whole(project).removed == []


FILLER = """
import numpy as np
from sentence_distill.embedding_cache import EmbeddingCache

def encode(chunk):
    return np.array([[len(t), t.count("1"), t.count("2"), 1.0] for t in chunk], dtype=np.float32)

EmbeddingCache("cache", "fingerprint", 4).fill([f"sentence number {i}" for i in range(40)], encode, shard_rows=10)
"""


def test_a_re_encoded_shard_is_stored_anew_not_linked_to_its_damaged_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedding cache's stage in small: a persistent output of deterministic shards. A damaged shard is
    re-encoded byte for byte as it was first written, so without the purge DVC would link it back to the damage."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "fill.py").write_text(FILLER)
    (root / "dvc.yaml").write_text(
        f"stages:\n  fill:\n    cmd: {sys.executable} fill.py\n    deps: [fill.py]\n"
        "    outs:\n      - cache:\n          persist: true\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    monkeypatch.chdir(root)
    with Repo.init(str(root), no_scm=True) as repo, repo.config.edit() as config:
        config["cache"]["type"] = "hardlink"
    with Repo(str(root)) as repo:
        repo.reproduce()
    cache = EmbeddingCache(root / "cache", "fingerprint", 4)
    texts = [f"sentence number {i}" for i in range(40)]
    expected = cache.lookup(texts)
    flipped, truncated = cache.shard_paths()[:2]
    flip_byte(flipped, offset=in_embedding_pages(flipped))
    os.truncate(truncated, truncated.stat().st_size - 50)
    with Repo(str(root)) as repo:
        repo.reproduce()
    assert len(list((cache.folder / "quarantine").iterdir())) == 2
    np.testing.assert_array_equal(cache.lookup(texts), expected)  # every page checksum verified on the way
    with Repo(str(root)) as repo:
        assert repo.status() == {}
        assert verify(root, tracked_outputs(repo)).whole


def test_a_shard_with_a_damaged_footer_is_quarantined(tmp_path: Path) -> None:
    """The footer has no checksum: a damaged column name must still read as a damaged shard, not crash the fill."""
    cache = EmbeddingCache(tmp_path, "fingerprint", 4)
    texts = [f"sentence number {i}" for i in range(10)]
    shard = cache.write_shard(texts, np.ones((10, 4), dtype=np.float32))
    flip_byte(shard, offset=shard.read_bytes().index(b"\x18\x03key") + 2)  # the "k" of the schema's column name
    stats = cache.fill(texts, lambda chunk: np.ones((len(chunk), 4), dtype=np.float32), shard_rows=10)
    assert stats.quarantined == 1 and stats.encoded == 10


def test_a_scheduled_run_asked_to_verify_stops_before_the_push(project: Path) -> None:
    """The scheduled run's verify task (``python -m flows.serve --verify``) fails on damage, and the flow runs it
    before ``dvc push``: a damaged object never reaches the remote."""
    from flows.serve import verify_outputs

    flip_byte(project / WEIGHTS)
    with pytest.raises(DamagedOutputError, match=r"models/tiny/weights.bin \(stage make\): damaged"):
        verify_outputs.fn(project)
