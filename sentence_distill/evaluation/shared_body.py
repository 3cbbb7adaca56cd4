"""The outputs of a model's body, computed once and shared by every model built on it.

A student and its PCA models share the body (every module before PCA and ``Normalize``): the student's
evaluation runs it once on each list of texts (the evaluation sentences, the check sentences, the
calibration sentences) and stores the outputs; each PCA model applies only its own remaining modules to
them. A PCA model's own encode of the check sentences proves the shared path scores what it computes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from sentence_distill.embedding_cache import CacheError, EmbeddingCache, model_fingerprint
from sentence_distill.fileio import write_json
from sentence_distill.models import encode_texts, without_normalize

log = logging.getLogger(__name__)

EVALUATION_BODY = "evaluation-body"
CHECK_BODY = "check-body"
CALIBRATION_BODY = "calibration-body"
OWN_TASKS_BODY = "own-tasks-body"
BODY_FILE = "body.json"  # beside a student's stored outputs: what its PCA models' evaluation needs to read them
EVALUATE_FIRST = "evaluate the student first (python -m tasks.evaluate NAME)"
SHARED_BODY_MIN_COSINE = 0.999


class BodyStore:
    """Where the outputs of one model's body are kept (``data/evaluation_bodies/<student>/<group>``), one
    Parquet embedding cache per list of texts, keyed by the body's files (hashed once), the list and the
    batch size: the last two decide which texts share a batch, and so the last bits of each output."""

    def __init__(self, root: Path, model_dir: Path, *, modules: int, dimension: int, max_seq_length: int | None):
        self.root = Path(root)
        self.modules, self.dimension, self.max_seq_length = modules, dimension, max_seq_length
        self.fingerprint = model_fingerprint(
            model_dir, max_seq_length=max_seq_length, precision="float32", output="evaluation-body"
        )

    @classmethod
    def for_model(cls, model: SentenceTransformer, root: Path, model_dir: Path) -> BodyStore:
        """The store of ``model``'s body, whose files are in ``model_dir``."""
        body = without_normalize(model)
        return cls(
            root,
            model_dir,
            modules=len(body),
            dimension=body.get_embedding_dimension(),
            max_seq_length=body.max_seq_length,
        )

    @classmethod
    def read(cls, root: Path, model_dir: Path) -> BodyStore:
        """The store a student's evaluation described (``write``), without loading the student."""
        try:
            return cls(root, model_dir, **json.loads((Path(root) / BODY_FILE).read_text()))
        except FileNotFoundError:
            raise CacheError(f"{Path(root) / BODY_FILE} not found; {EVALUATE_FIRST}") from None

    def write(self) -> None:
        """Write what ``read`` needs: the body's module count, output dimension and maximum sequence length."""
        description = {"modules": self.modules, "dimension": self.dimension, "max_seq_length": self.max_seq_length}
        write_json(self.root / BODY_FILE, description)

    def cache(self, output: str, sentences: list[str], batch_size: int) -> EmbeddingCache:
        key = json.dumps([self.fingerprint, output, batch_size, sentences])
        return EmbeddingCache(self.root, hashlib.sha256(key.encode()).hexdigest()[:20], self.dimension)


class SharedBody:
    """The outputs of a model's body (every module before PCA and ``Normalize``) for a fixed sentence set.

    A student and its PCA models share the body: it runs once, and each PCA model applies only its
    own remaining modules (``Dense``, ``Normalize``) to the stored outputs. With a ``store`` the outputs
    live in its cache for ``output``, so the evaluation of each PCA dimension reads what the student's
    evaluation wrote (``stored``). ``as_listed``: the texts are encoded as one list in the given order,
    as the model's own encode of that list would batch them (else as the cache fills, longest text
    first). Dynamic int8 outputs depend a little on which sentences share a batch (activation scales
    cover the batch's padding), so a check against a variant's own ``encode`` must use a body encoded
    with the same sentences and batch size, not one of another list.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        sentences: list[str],
        batch_size: int,
        *,
        store: BodyStore | None = None,
        output: str = EVALUATION_BODY,
        as_listed: bool = False,
    ) -> None:
        encoder = without_normalize(model)
        self.length = len(encoder)
        self.sentences = list(dict.fromkeys(sentences))
        if store is None:
            outputs = encode_texts(encoder, self.sentences, batch_size)
        else:
            cache = store.cache(output, self.sentences, batch_size)
            if as_listed:
                write_shards = self._encoder_of_all(encoder, cache, batch_size)
                stats = cache.fill_with(self.sentences, write_shards, shard_rows=max(1, len(self.sentences)))
            else:
                stats = cache.fill(self.sentences, lambda chunk: encode_texts(encoder, chunk, batch_size), 4096)
            log.info("embedding cache %s: %s", cache.folder, stats)
            outputs = cache.lookup(self.sentences)
        self.outputs = torch.from_numpy(np.asarray(outputs, dtype=np.float32))

    def _encoder_of_all(self, encoder: SentenceTransformer, cache: EmbeddingCache, batch_size: int):
        """A shard writer that encodes the whole list when any text is missing, so every text shares its batch
        with the same texts as in a fresh encode of the list."""

        def write_shards(chunks: list[list[str]]) -> None:
            if chunks:
                encoded = dict(zip(self.sentences, encode_texts(encoder, self.sentences, batch_size), strict=True))
                for chunk in chunks:
                    cache.write_shard(chunk, np.stack([encoded[text] for text in chunk]))

        return write_shards

    @classmethod
    def stored(cls, store: BodyStore, sentences: list[str], batch_size: int, output: str) -> SharedBody:
        """The outputs of ``sentences`` that the student's evaluation kept in ``store``, read without loading the
        student; CacheError if they are not there."""
        body = object.__new__(cls)
        body.length = store.modules
        body.sentences = list(dict.fromkeys(sentences))
        try:
            body.outputs = torch.from_numpy(store.cache(output, body.sentences, batch_size).lookup(body.sentences))
        except CacheError as exc:
            raise CacheError(f"{exc}; {EVALUATE_FIRST}") from None
        return body

    def stacked(self, model: SentenceTransformer) -> np.ndarray:
        """``model``'s embeddings of the sentences, in order: its own modules after the body."""
        features = {"sentence_embedding": self.outputs.to(model.device)}
        with torch.no_grad():
            for module in list(model)[self.length :]:
                features = module(features)
        return features["sentence_embedding"].float().cpu().numpy()

    def embeddings(self, model: SentenceTransformer) -> dict[str, np.ndarray]:
        return dict(zip(self.sentences, self.stacked(model), strict=True))

    def normalized(self, model: SentenceTransformer, batch_size: int, dims: list[int | None]) -> dict:
        """For each ``k`` of ``dims``, what ``model.encode(self.sentences, batch_size=batch_size,
        normalize_embeddings=True, truncate_dim=k)`` returns, bit for bit, with the body run once for all.

        The body's outputs must come from an encode of this same list with this batch size (``as_listed``).
        sentence-transformers' encode puts the longest texts first (argsort of minus the length) and cuts
        that order into batches; the modules after the body run here on those same batches, so every matrix
        product sees the same rows in the same places as in the model's own encode.
        """
        order = np.argsort([-len(text) for text in self.sentences])
        results: dict[int | None, np.ndarray] = {}
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = {"sentence_embedding": self.outputs[torch.from_numpy(rows)].to(model.device)}
                for module in list(model)[self.length :]:
                    features = module(features)
                for k in dims:
                    vectors = torch.nn.functional.normalize(features["sentence_embedding"][..., :k], p=2, dim=1)
                    width = vectors.shape[1]
                    results.setdefault(k, np.empty((len(order), width), dtype=np.float32))[rows] = vectors.cpu().numpy()
        return results


def check_shared_body(label: str, own: np.ndarray, shared: np.ndarray) -> None:
    """Fail when a variant's own encode differs from the shared-body path on the same batches."""
    cosine = (own * shared).sum(1) / (np.linalg.norm(own, axis=1) * np.linalg.norm(shared, axis=1))
    if cosine.min() < SHARED_BODY_MIN_COSINE:
        raise RuntimeError(
            f"{label}: its own encode and the shared body disagree (min cosine {cosine.min():.4f}); "
            "the model's modules after the body are not what evaluation assumes"
        )
