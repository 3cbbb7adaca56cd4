"""Content-addressed Parquet cache of sentence embeddings, one folder per model fingerprint.

Layout: ``<root>/<fingerprint>/shard-<uuid>-<rows>.parquet`` with columns ``key`` (16-byte hash of
the exact text), ``text`` and ``embedding`` (fixed-size list of float32 or float16). A shard is
written under a temporary name and renamed only when complete, so readers and concurrent writers
never see half a shard. Every read checks the page checksums, the schema and the row count in the
file name; ``fill`` moves a damaged shard to ``quarantine/`` and encodes its rows again, ``lookup``
refuses to answer from it. One ``fill`` at a time holds the folder's lock, so two processes filling
the same cache never encode the same sentences twice; a killed fill leaves only complete shards.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from sentence_distill.fileio import atomic_path, write_json
from sentence_distill.integrity import purge_damaged_objects
from sentence_distill.paths import QUANTIZATION_FILE

log = logging.getLogger(__name__)

IGNORED_MODEL_FILES = {"README.md", ".gitattributes"}
IGNORED_MODEL_DIRS = {"onnx", "openvino", ".cache"}
PRECISIONS = {"float32": pa.float32(), "float16": pa.float16()}

Encode = Callable[[list[str]], np.ndarray]
WriteShards = Callable[[list[list[str]]], None]


class CacheError(RuntimeError):
    """The cache cannot answer: missing rows or a damaged shard."""


def text_keys(texts: Sequence[str]) -> pa.FixedSizeBinaryArray:
    digests = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:16] for t in texts]
    return pa.array(digests, type=pa.binary(16))


def is_blank(text: str | None) -> bool:
    return not text or text.isspace()


def describe(schema: pa.Schema) -> str:
    try:
        return ", ".join(f"{field.name}: {field.type}" for field in schema)
    except UnicodeDecodeError:  # a damaged footer (it has no checksum): still a damaged shard, not a crash
        return "names that are not UTF-8"


def model_fingerprint(
    model_dir: Path, *, max_seq_length: int, precision: str, prompt: str | None = None, output: str = "model"
) -> str:
    """Hash of what changes the vectors: model file contents (not their location), length, prompt, precision.

    Exported copies in ``onnx/`` and ``openvino/`` are left out, except the int8 weights that an int8
    variant's ``quantization.json`` names: those are what it runs. ``output`` names which module's
    output is cached when it is not the whole model's.
    """
    quantization = Path(model_dir) / QUANTIZATION_FILE
    int8_files = set(json.loads(quantization.read_text()).get("files", [])) if quantization.is_file() else set()
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir).rglob("*")):
        rel = path.relative_to(model_dir)
        ignored = rel.name in IGNORED_MODEL_FILES or rel.parts[0] in IGNORED_MODEL_DIRS
        if path.is_dir() or (ignored and rel.as_posix() not in int8_files):
            continue
        digest.update(str(rel).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(
        json.dumps(
            {"max_seq_length": max_seq_length, "precision": precision, "prompt": prompt, "output": output}
        ).encode()
    )
    return digest.hexdigest()[:20]


@dataclass
class FillStats:
    """What one ``fill`` did. ``requested`` counts every text given; the rest break it down."""

    requested: int
    duplicates: int  # repeats of a text given earlier in the same call
    blank_skipped: int  # empty or whitespace-only texts: never cached, ``lookup`` rejects them
    cached: int
    encoded: int
    shards_written: int
    quarantined: int


class EmbeddingCache:
    def __init__(self, root: Path, fingerprint: str, dimension: int, precision: str = "float32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        self.fingerprint = fingerprint
        self.folder = Path(root) / fingerprint
        self.dimension = dimension
        self.value_type = PRECISIONS[precision]
        self.schema = pa.schema(
            [("key", pa.binary(16)), ("text", pa.string()), ("embedding", pa.list_(self.value_type, dimension))]
        )

    def shard_paths(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.parquet"))

    def _read(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        """The shard's ``columns``; CacheError if it fails its page checksums, schema or row count.

        A shard that vanished since it was listed (a concurrent fill quarantined it) raises FileNotFoundError.
        """
        try:
            expected_rows = int(path.stem.rsplit("-", 1)[-1])
            table = pq.read_table(path, columns=columns, page_checksum_verification=True)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise CacheError(f"{type(exc).__name__}: {exc}") from None
        expected_schema = pa.schema([self.schema.field(name) for name in columns or self.schema.names])
        if not table.schema.equals(expected_schema):
            raise CacheError(f"columns ({describe(table.schema)}) are not the cache's ({describe(expected_schema)})")
        if table.num_rows != expected_rows:
            raise CacheError(f"{expected_rows} rows expected from its name, {table.num_rows} found")
        return table

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.folder / "quarantine" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        log.warning(
            "embedding cache: damaged shard %s (%s); moved to %s, its rows will be re-encoded", path, reason, target
        )
        # Re-encoded, the shard is byte for byte the one first written: DVC must not find its damaged object.
        purge_damaged_objects(target, recorded_as=path)

    def _verified_keys(self, paths: list[Path], columns: list[str] | None) -> tuple[list[pa.Array], int]:
        """Keys of the readable shards among ``paths``, one shard in memory at a time; damaged ones are quarantined."""
        keys, quarantined = [], 0
        for path in paths:
            try:
                keys.append(self._read(path, columns)["key"].combine_chunks())
            except CacheError as exc:
                self._quarantine(path, str(exc))
                quarantined += 1
        return keys, quarantined

    @contextlib.contextmanager
    def _fill_lock(self) -> Iterator[None]:
        """Exclusive for one fill at a time; the kernel releases it when its process dies, even by SIGKILL."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".fill.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("embedding cache %s: another process is filling it; waiting for it to finish", self.folder)
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def write_shard(self, texts: Sequence[str], embeddings: np.ndarray) -> Path:
        if embeddings.shape != (len(texts), self.dimension):
            raise ValueError(
                f"embeddings of shape {embeddings.shape} for {len(texts)} texts of dimension {self.dimension}"
            )
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

    def fill(self, texts: Sequence[str], encode: Encode, shard_rows: int) -> FillStats:
        """Encode in this process the texts the cache lacks, one complete shard per ``shard_rows`` texts.

        ``encode(list[str]) -> np.ndarray`` is called once per shard; nothing cached is encoded again.
        """

        def encode_here(chunks: list[list[str]]) -> None:
            total = sum(map(len, chunks))
            with tqdm(total=total, unit="sentence", desc=f"encoding into {self.folder}", disable=not total) as bar:
                for number, chunk in enumerate(chunks, 1):
                    self.write_shard(chunk, encode(chunk))
                    bar.update(len(chunk))
                    log.info("embedding cache %s: shard %d of %d written", self.folder.name, number, len(chunks))

        return self.fill_with(texts, encode_here, shard_rows)

    def fill_with(self, texts: Sequence[str], write_shards: WriteShards, shard_rows: int) -> FillStats:
        """Find the texts the cache lacks and have ``write_shards`` write one shard per chunk of them.

        Chunks come longest text first, so each batch pads little. Holds the folder's lock throughout,
        so ``write_shards`` may hand the chunks to other processes that call ``write_shard``. Raises
        CacheError if a text is still missing afterwards: the cache is never left incomplete silently.
        """
        if shard_rows <= 0:
            raise ValueError(f"shard_rows must be positive, got {shard_rows}")
        with self._fill_lock():
            for stale in self.folder.glob(".*.tmp"):  # left by a killed writer; no writer runs without the lock
                stale.unlink(missing_ok=True)
            write_json(self.folder / "meta.json", {"dimension": self.dimension, "dtype": str(self.value_type)})
            unique = list(dict.fromkeys(texts))
            wanted = [t for t in unique if not is_blank(t)]
            before = self.shard_paths()
            keys, quarantined = self._verified_keys(before, None)
            wanted_keys = text_keys(wanted)
            present = self._present(wanted_keys, keys)
            missing = sorted(compress(wanted, ~present), key=len, reverse=True)
            write_shards([missing[start : start + shard_rows] for start in range(0, len(missing), shard_rows)])
            new_shards = sorted(set(self.shard_paths()) - set(before))
            new_keys, damaged = self._verified_keys(new_shards, ["key"])
            still_missing = int((~self._present(wanted_keys, keys + new_keys)).sum())
            if damaged or still_missing:
                raise CacheError(
                    f"embedding cache {self.folder}: {still_missing} of {len(wanted)} sentences still missing and "
                    f"{damaged} damaged shards after encoding; if the encoding ran on other machines, they must "
                    "write to this same folder"
                )
        stats = FillStats(
            requested=len(texts),
            duplicates=len(texts) - len(unique),
            blank_skipped=len(unique) - len(wanted),
            cached=len(wanted) - len(missing),
            encoded=len(missing),
            shards_written=len(new_shards),
            quarantined=quarantined,
        )
        if stats.blank_skipped:
            log.warning(
                "embedding cache %s: skipped %d empty or whitespace-only texts", self.folder, stats.blank_skipped
            )
        return stats

    @staticmethod
    def _present(wanted_keys: pa.Array, cached_keys: list[pa.Array]) -> np.ndarray:
        if not cached_keys:
            return np.zeros(len(wanted_keys), dtype=bool)
        value_set = pa.concat_arrays(cached_keys)
        return pc.is_in(wanted_keys, value_set=value_set).to_numpy(zero_copy_only=False)

    def lookup(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in order, as a float32 array; every text must be cached.

        Reads one shard at a time into the preallocated result; a key found in several shards (two
        fills that raced without the lock) is taken from the first.
        """
        keys = text_keys(texts)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        found = np.zeros(len(texts), dtype=bool)
        for path in self.shard_paths():
            try:
                table = self._read(path, ["key", "embedding"])
            except FileNotFoundError:
                continue
            except CacheError as exc:
                raise CacheError(
                    f"embedding cache shard {path} is damaged ({exc}); rerun the embedding stage to re-encode it"
                ) from None
            rows = pc.index_in(keys, value_set=table["key"].combine_chunks()).fill_null(-1).to_numpy()
            take = (rows >= 0) & ~found
            if take.any():
                shard_vectors = table["embedding"].combine_chunks().flatten().to_numpy().reshape(-1, self.dimension)
                vectors[take] = shard_vectors[rows[take]]
                found |= take
        if not found.all():
            self._raise_missing(texts, found)
        return vectors

    def _raise_missing(self, texts: Sequence[str], found: np.ndarray) -> None:
        missing = np.flatnonzero(~found)
        blank = sum(is_blank(texts[i]) for i in missing)
        note = f"; {blank} of them are empty or whitespace-only, which are never cached" if blank else ""
        raise CacheError(
            f"{len(missing)} of {len(texts)} sentences are not in the embedding cache {self.folder} "
            f"(first: #{missing[0]} {texts[missing[0]][:80]!r}){note}"
        )
