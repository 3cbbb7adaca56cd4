"""The outputs of a model's body, computed once and shared by every model built on it.

A student and its PCA models share the body (every module before PCA and ``Normalize``): the body
runs once on the evaluation sentences, and each model applies only its own remaining modules to the
stored outputs. A check on a few sentences proves the shared path scores what the model itself computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from sentence_distill.embedding_cache import CacheError
from sentence_distill.models import cache_for, embed_corpus, encode_texts, without_normalize

BODY_OUTPUT = "evaluation-body"
SHARED_BODY_MIN_COSINE = 0.999


class SharedBody:
    """The outputs of a model's body (every module before PCA and ``Normalize``) for a fixed sentence set.

    A student and its PCA models share the body: it runs once, and each PCA model applies only its
    own remaining modules (``Dense``, ``Normalize``) to the stored outputs. With ``cache_root`` the
    outputs live in a Parquet embedding cache keyed by the body's files (``model_dir``), so the
    evaluation of each PCA dimension reads what the student's evaluation wrote; ``fill=False``
    only reads it. Dynamic int8 outputs depend a little on which sentences share a batch
    (activation scales cover the batch's padding), so a check against a variant's own ``encode``
    must use a body encoded with the same sentences and batch size, not a cached one.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        sentences: list[str],
        batch_size: int,
        *,
        cache_root: Path | None = None,
        model_dir: Path | None = None,
        fill: bool = True,
    ) -> None:
        encoder = without_normalize(model)
        self.length = len(encoder)
        self.sentences = list(dict.fromkeys(sentences))
        if cache_root is None:
            outputs = encode_texts(encoder, self.sentences, batch_size)
        else:
            if fill:
                cache, _ = embed_corpus(
                    encoder, model_dir, self.sentences, cache_root=cache_root, batch_size=batch_size, output=BODY_OUTPUT
                )
            else:
                cache = cache_for(encoder, model_dir, cache_root, output=BODY_OUTPUT)
            try:
                outputs = cache.lookup(self.sentences)
            except CacheError as exc:
                raise CacheError(f"{exc}; evaluate the student first (python -m tasks.evaluate NAME)") from None
        self.outputs = torch.from_numpy(np.asarray(outputs, dtype=np.float32))

    def stacked(self, model: SentenceTransformer) -> np.ndarray:
        """``model``'s embeddings of the sentences, in order: its own modules after the body."""
        features = {"sentence_embedding": self.outputs.to(model.device)}
        with torch.no_grad():
            for module in list(model)[self.length :]:
                features = module(features)
        return features["sentence_embedding"].float().cpu().numpy()

    def embeddings(self, model: SentenceTransformer) -> dict[str, np.ndarray]:
        return dict(zip(self.sentences, self.stacked(model), strict=True))


def check_shared_body(label: str, own: np.ndarray, shared: np.ndarray) -> None:
    """Fail when a variant's own encode differs from the shared-body path on the same batches."""
    cosine = (own * shared).sum(1) / (np.linalg.norm(own, axis=1) * np.linalg.norm(shared, axis=1))
    if cosine.min() < SHARED_BODY_MIN_COSINE:
        raise RuntimeError(
            f"{label}: its own encode and the shared body disagree (min cosine {cosine.min():.4f}); "
            "the model's modules after the body are not what evaluation assumes"
        )
