"""The teacher embedding cache with the real all-MiniLM-L6-v2 and real Parquet shards.

Filled in this process; other processes filling it (a second writer, a killed one, a Dask cluster's workers):
``tests/e2e/test_embedding_cache_processes.py``. Every comparison is against plain ``SentenceTransformer.encode``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.dask_encoding import dask_runner
from sentence_distill.config.schema import TeacherParams
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.embedding_cache import CacheError, EmbeddingCache
from sentence_distill.models import cache_for, encode_texts, load_model, model_folder
from sentence_distill.teacher import DASK_ADDRESS_ENV, embed_teacher, encodes_on_dask

REPO = Path(__file__).resolve().parents[2]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH = 16
WORDS = (
    "the a market report council minister team season film music company shares rose fell sharply after "
    "talks with union leaders over pay and pensions while fans waited outside stadium in london on monday"
).split()


def make_sentences(count: int, seed: int = 0) -> list[str]:
    """Distinct sentences of 3 to 30 words, so batches and shards see varied lengths."""
    rng = np.random.default_rng(seed)
    sentences = []
    for number in range(count):
        words = rng.choice(WORDS, size=int(rng.integers(3, 31)))
        sentences.append(f"{' '.join(words).capitalize()} ({number}).")
    return sentences


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return make_sentences(400)


@pytest.fixture(scope="module")
def reference(model, sentences) -> np.ndarray:
    return model.encode(sentences, batch_size=BATCH, convert_to_numpy=True)


class CountingEncoder:
    """The real model's encode, remembering every text it was asked to encode."""

    def __init__(self, model) -> None:
        self.model = model
        self.texts: list[str] = []

    def __call__(self, chunk: list[str]) -> np.ndarray:
        self.texts.extend(chunk)
        return encode_texts(self.model, chunk, BATCH)


def new_cache(model, root: Path) -> EmbeddingCache:
    return cache_for(model, model_folder(model, MODEL), root)


def shard_rows_on_disk(cache: EmbeddingCache) -> int:
    return sum(int(path.stem.rsplit("-", 1)[-1]) for path in cache.shard_paths())


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_incremental_fill_encodes_only_new_sentences(model, sentences, reference, tmp_path):
    cache = new_cache(model, tmp_path)
    first = CountingEncoder(model)
    stats = cache.fill(sentences[:250], first, shard_rows=64)
    assert sorted(first.texts) == sorted(sentences[:250])
    assert (stats.cached, stats.encoded, stats.shards_written) == (0, 250, 4)

    second = CountingEncoder(model)
    stats = cache.fill(sentences + sentences[:10], second, shard_rows=64)  # 150 new, 10 repeated
    assert sorted(second.texts) == sorted(sentences[250:])
    assert (stats.requested, stats.duplicates, stats.cached, stats.encoded) == (410, 10, 250, 150)
    lengths = [len(text) for text in second.texts]
    assert lengths == sorted(lengths, reverse=True), "missing sentences are encoded longest first"

    np.testing.assert_allclose(cache.lookup(sentences[::-1]), reference[::-1], atol=1e-5)
    third = CountingEncoder(model)
    assert cache.fill(sentences, third, shard_rows=64).encoded == 0 and third.texts == []


def test_bad_input_is_counted_or_refused(model, sentences, tmp_path, caplog):
    cache = new_cache(model, tmp_path)
    encoder = CountingEncoder(model)
    empty = cache.fill([], encoder, shard_rows=8)
    assert (empty.requested, empty.encoded, empty.shards_written) == (0, 0, 0) and encoder.texts == []
    assert cache.lookup([]).shape == (0, 384)
    with pytest.raises(CacheError, match=r"1 of 1 sentences are not in the embedding cache"):
        cache.lookup([sentences[0]])

    long_line = " ".join(sentences) * 3
    assert len(long_line) > 100_000
    texts = [sentences[0], "", "   \t", sentences[1], sentences[0], long_line]
    with caplog.at_level(logging.WARNING, logger="sentence_distill.embedding_cache"):
        stats = cache.fill(texts, encoder, shard_rows=8)
    assert (stats.requested, stats.duplicates, stats.blank_skipped, stats.encoded) == (6, 1, 2, 3)
    assert sorted(encoder.texts) == sorted([sentences[0], sentences[1], long_line])
    assert "skipped 2 empty or whitespace-only texts" in caplog.text
    np.testing.assert_allclose(
        cache.lookup([long_line, sentences[1]]), model.encode([long_line, sentences[1]], batch_size=BATCH), atol=1e-5
    )
    with pytest.raises(CacheError, match=r"1 of 2 sentences .*1 of them are empty or whitespace-only"):
        cache.lookup([sentences[0], "   \t"])
    with pytest.raises(ValueError, match=r"shard_rows must be positive, got 0"):
        cache.fill(sentences[:2], encoder, shard_rows=0)


def test_corpus_problems_name_the_file_and_column(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"corpus.parquet not found; run the prepare stage"):
        corpus_sentences(prepared_dir=tmp_path)
    pq.write_table(pa.table({"text": ["A sentence."]}), tmp_path / "corpus.parquet")
    with pytest.raises(ValueError, match=r"has no column sentence \(columns: text\)"):
        corpus_sentences(prepared_dir=tmp_path)
    empty = pa.array([], pa.string())
    pq.write_table(pa.table({"sentence": empty, "split": empty}), tmp_path / "corpus.parquet")
    with pytest.raises(ValueError, match=r"has no sentences; nothing to encode"):
        embed_teacher(TeacherParams(model=MODEL), tmp_path / "teacher.json", cache_root=tmp_path, prepared_dir=tmp_path)
    assert not (tmp_path / "teacher.json").exists()


def test_damaged_shards_are_refused_then_quarantined_and_re_encoded(model, sentences, reference, tmp_path, caplog):
    texts, expected = sentences[:200], reference[:200]
    cache = new_cache(model, tmp_path)
    cache.fill(texts, CountingEncoder(model), shard_rows=50)
    truncated, flipped, renamed, _ = cache.shard_paths()
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 8])
    flipped.write_bytes(bytes(data))
    renamed.write_bytes(
        renamed.read_bytes().replace(b"embedding", b"embeddinG")
    )  # footer only: no page checksum covers it

    with pytest.raises(CacheError, match=r"embedding cache shard .*shard-.*\.parquet is damaged") as refused:
        cache.lookup(texts)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__, "no pyarrow traceback attached"

    encoder = CountingEncoder(model)
    with caplog.at_level(logging.WARNING, logger="sentence_distill.embedding_cache"):
        stats = cache.fill(texts, encoder, shard_rows=50)
    assert stats.quarantined == 3 and stats.encoded == 150 and len(encoder.texts) == 150
    for damaged in (truncated, flipped, renamed):
        assert str(damaged) in caplog.text
        assert (cache.folder / "quarantine" / damaged.name).is_file() and not damaged.exists()
    np.testing.assert_allclose(cache.lookup(texts), expected, atol=1e-5)


def test_duplicate_keys_across_shards_are_tolerated(model, sentences, reference, tmp_path):
    cache = new_cache(model, tmp_path)
    cache.folder.mkdir(parents=True)
    cache.write_shard(sentences[:50], reference[:50])
    cache.write_shard(sentences[25:75], reference[25:75])  # what two writers racing without the lock would leave
    np.testing.assert_allclose(cache.lookup(sentences[:75]), reference[:75], atol=0)
    encoder = CountingEncoder(model)
    assert cache.fill(sentences[:75], encoder, shard_rows=50).cached == 75 and encoder.texts == []


def test_dask_address_comes_from_the_environment_first(monkeypatch):
    assert not encodes_on_dask(TeacherParams(model=MODEL))
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.1:8786")
    assert encodes_on_dask(TeacherParams(model=MODEL))
    runner = dask_runner(TeacherParams(model=MODEL, dask_address="tcp://elsewhere:8786"))
    assert runner.address == "tcp://10.0.0.1:8786"
