"""Content-addressed Parquet cache of sentence embeddings, one folder per model fingerprint.

Layout: ``<root>/<fingerprint>/shard-<uuid>-<rows>.parquet`` with columns ``key`` (16-byte hash of
the exact text), ``text`` and ``embedding`` (fixed-size list of float32 or float16). A shard is
written under a temporary name and renamed only when complete, so readers and concurrent writers
never see half a shard; a damaged shard is moved to ``quarantine/`` and its rows re-encoded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.fileio import atomic_path, write_json

log = logging.getLogger(__name__)

IGNORED_MODEL_FILES = {"README.md", ".gitattributes"}
IGNORED_MODEL_DIRS = {"onnx", "openvino", ".cache"}


class CacheError(RuntimeError):
    """The cache cannot answer: missing rows or a damaged shard."""


def text_keys(texts: Sequence[str]) -> pa.FixedSizeBinaryArray:
    digests = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:16] for t in texts]
    return pa.array(digests, type=pa.binary(16))


def model_fingerprint(
    model_dir: Path, *, max_seq_length: int, precision: str, prompt: str | None = None, output: str = "model"
) -> str:
    """Hash of what changes the vectors: model file contents (not their location), length, prompt, precision.

    ``output`` names which module's output is cached when it is not the whole model's.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).rglob("*")):
        rel = path.relative_to(model_dir)
        if path.is_dir() or rel.name in IGNORED_MODEL_FILES or rel.parts[0] in IGNORED_MODEL_DIRS:
            continue
        digest.update(str(rel).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps({"max_seq_length": max_seq_length, "precision": precision, "prompt": prompt, "output": output}).encode())
    return digest.hexdigest()[:20]


@dataclass
class FillStats:
    requested: int
    cached: int
    encoded: int
    shards_written: int
    quarantined: int


class EmbeddingCache:
    def __init__(self, root: Path, fingerprint: str, dimension: int, precision: str = "float32") -> None:
        self.folder = Path(root) / fingerprint
        self.dimension = dimension
        self.value_type = pa.float16() if precision == "float16" else pa.float32()
        self.schema = pa.schema(
            [("key", pa.binary(16)), ("text", pa.string()), ("embedding", pa.list_(self.value_type, dimension))]
        )

    def shard_paths(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.parquet"))

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.folder / "quarantine" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        log.warning("embedding cache: damaged shard %s (%s); moved to %s, its rows will be re-encoded", path, reason, target)

    def _read(self, path: Path, columns: list[str]) -> pa.Table:
        expected_rows = int(path.stem.rsplit("-", 1)[-1])
        table = pq.read_table(path, columns=columns, page_checksum_verification=True)
        if table.num_rows != expected_rows:
            raise CacheError(f"{expected_rows} rows expected, {table.num_rows} found")
        return table

    def _valid_tables(self, columns: list[str]) -> tuple[list[pa.Table], int]:
        tables, quarantined = [], 0
        for path in self.shard_paths():
            try:
                tables.append(self._read(path, columns))
            except (OSError, ValueError, pa.ArrowException, CacheError) as exc:
                self._quarantine(path, f"{type(exc).__name__}: {exc}")
                quarantined += 1
        return tables, quarantined

    def write_shard(self, texts: Sequence[str], embeddings: np.ndarray) -> Path:
        flat = pa.array(np.ascontiguousarray(embeddings).reshape(-1), type=self.value_type)
        table = pa.table(
            {
                "key": text_keys(texts),
                "text": pa.array(texts, type=pa.string()),
                "embedding": pa.FixedSizeListArray.from_arrays(flat, self.dimension),
            },
            schema=self.schema,
        )
        final = self.folder / f"shard-{uuid.uuid4().hex}-{len(texts)}.parquet"
        with atomic_path(final) as tmp:
            pq.write_table(table, tmp, write_page_checksum=True)
        return final

    def fill(self, texts: Sequence[str], encode, shard_rows: int) -> FillStats:
        """Encode the texts the cache lacks, longest first, one complete shard per ``shard_rows`` texts.

        ``encode(list[str]) -> np.ndarray`` is called once per shard; nothing cached is encoded again.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.folder / "meta.json", {"dimension": self.dimension, "dtype": str(self.value_type)})
        unique = list(dict.fromkeys(texts))
        tables, quarantined = self._valid_tables(["key"])
        cached_keys = pa.concat_arrays([t["key"].combine_chunks() for t in tables]) if tables else text_keys([])
        present = pc.is_in(text_keys(unique), value_set=cached_keys).to_numpy(zero_copy_only=False)
        missing = sorted((t for t, hit in zip(unique, present) if not hit), key=len, reverse=True)
        shards = 0
        for start in range(0, len(missing), shard_rows):
            chunk = missing[start : start + shard_rows]
            self.write_shard(chunk, encode(chunk))
            shards += 1
        return FillStats(len(unique), len(unique) - len(missing), len(missing), shards, quarantined)

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in order, as a float32 array; every text must be cached."""
        tables = []
        for path in self.shard_paths():
            try:
                tables.append(self._read(path, ["key", "embedding"]))
            except (OSError, ValueError, pa.ArrowException, CacheError) as exc:
                raise CacheError(
                    f"embedding cache shard {path} is damaged ({exc}); rerun the embedding stage to re-encode it"
                ) from None
        if not tables:
            raise CacheError(f"embedding cache {self.folder} is empty")
        table = pa.concat_tables(tables).combine_chunks()
        rows = pc.index_in(text_keys(texts), value_set=table["key"])
        if rows.null_count:
            raise CacheError(f"{rows.null_count} of {len(texts)} sentences are not in the embedding cache {self.folder}")
        vectors = table["embedding"].take(rows).combine_chunks()
        return vectors.flatten().to_numpy().reshape(len(texts), self.dimension).astype(np.float32, copy=False)
