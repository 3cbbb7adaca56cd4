"""Teacher embedding generation: encode the corpus once per teacher into the Parquet embedding cache.

Reads ``params.teacher`` and ``data/prepared/corpus.parquet``. Writes shards into
``data/embeddings/<teacher fingerprint>/`` (a persistent DVC output: sentences cached by an
earlier run are never encoded again) and ``data/teacher.json``, which names the fingerprint that
later stages read their targets from.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sentence_transformers import SentenceTransformer

from tasks import assets
from tasks.embedding_cache import EmbeddingCache, model_fingerprint
from tasks.fileio import write_json
from tasks.cli import configure_logging
from tasks.params import TeacherParams, load_or_exit
from tasks.prepare import PREPARED_DIR

log = logging.getLogger(__name__)

EMBEDDINGS_DIR = Path("data/embeddings")
TEACHER_FILE = Path("data/teacher.json")


def corpus_sentences(split: str | None = None, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    table = pq.read_table(prepared_dir / "corpus.parquet")
    if split is not None:
        table = table.filter(pc.equal(table["split"], split))
    return table["sentence"].to_pylist()


def load_model(ref: str, max_seq_length: int | None = None) -> SentenceTransformer:
    model = SentenceTransformer(assets.resolve_model(ref))
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def model_folder(model: SentenceTransformer, ref: str) -> Path:
    local = Path(assets.resolve_model(ref))
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(ref))


def embed_corpus(
    model: SentenceTransformer,
    model_dir: Path,
    texts: list[str],
    *,
    cache_root: Path = EMBEDDINGS_DIR,
    batch_size: int = 64,
    shard_rows: int = 4096,
    precision: str = "float32",
    output: str = "model",
) -> tuple[EmbeddingCache, dict]:
    """Make sure every text has an embedding in the cache; encode only the missing ones."""
    fingerprint = model_fingerprint(model_dir, max_seq_length=model.max_seq_length, precision=precision, output=output)
    cache = EmbeddingCache(cache_root, fingerprint, model.get_embedding_dimension(), precision)

    def encode(chunk: list[str]) -> np.ndarray:
        return model.encode(chunk, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=len(chunk) > batch_size)

    stats = cache.fill(texts, encode, shard_rows)
    log.info("embedding cache %s: %s", cache.folder, stats)
    return cache, {"fingerprint": fingerprint, **asdict(stats)}


def open_teacher_cache(teacher_file: Path = TEACHER_FILE, cache_root: Path = EMBEDDINGS_DIR) -> EmbeddingCache:
    info = json.loads(Path(teacher_file).read_text())
    return EmbeddingCache(cache_root, info["fingerprint"], info["dimension"], info["precision"])


def embed_teacher(params: TeacherParams, teacher_file: Path = TEACHER_FILE, cache_root: Path = EMBEDDINGS_DIR) -> dict:
    texts = corpus_sentences()
    if not texts:
        raise ValueError("prepare produced an empty corpus; nothing to encode")
    model = load_model(params.model, params.max_seq_length)
    _, stats = embed_corpus(
        model,
        model_folder(model, params.model),
        texts,
        cache_root=cache_root,
        batch_size=params.batch_size,
        shard_rows=params.shard_rows,
        precision=params.precision,
    )
    info = {
        "model": params.model,
        "dimension": model.get_embedding_dimension(),
        "precision": params.precision,
        "max_seq_length": model.max_seq_length,
        **stats,
    }
    write_json(teacher_file, info)
    return info


def main(argv: list[str] | None = None) -> int:
    params = load_or_exit()
    embed_teacher(params.teacher)
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
