"""Embedding precisions: a model's float32 embeddings stored as int8, uint8 or binary, and what each keeps.

Ranges of int8/uint8 come from embeddings of the training corpus, never the test set. Scores are
cosine similarities of the quantized integer vectors; binary vectors are unpacked to +-1, where cosine
is a monotone function of the Hamming distance.
"""

from __future__ import annotations

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.util.quantization import quantize_embeddings

from sentence_distill.config.schema import EvaluateParams
from sentence_distill.evaluation.inputs import EvaluationInputs
from sentence_distill.evaluation.scoring import PrecomputedSimilarityEvaluator
from sentence_distill.records.evaluation import VariantMetrics

BITS_PER_VALUE = {"int8": 8, "uint8": 8, "binary": 1, "ubinary": 1}


class CalibratedSimilarityEvaluator(PrecomputedSimilarityEvaluator):
    """STSb on quantized embeddings whose int8/uint8 ranges come from corpus embeddings, never the test set.

    Scores are cosine similarities of the quantized integer vectors; binary vectors are unpacked to
    +-1, where cosine is a monotone function of the Hamming distance.
    """

    def __init__(self, *args, precision: str, calibration_embeddings: np.ndarray, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.quantized_precision = precision
        self.calibration_embeddings = calibration_embeddings

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return quantized(super().embed_inputs(model, sentences), self.quantized_precision, self.calibration_embeddings)


def quantized(vectors: np.ndarray, precision: str, calibration: np.ndarray) -> np.ndarray:
    """``vectors`` quantized to ``precision`` (ranges from ``calibration``), as floats for cosine and
    scikit-learn; binary vectors unpacked to +-1."""
    values = quantize_embeddings(vectors, precision=precision, calibration_embeddings=calibration)
    if precision in ("binary", "ubinary"):
        return np.unpackbits(values.view(np.uint8), axis=1).astype(np.float32) * 2 - 1
    return values.astype(np.float32)


def embedding_quantization(
    model: SentenceTransformer,
    base: VariantMetrics,
    embeddings: dict,
    calibration: np.ndarray,
    inputs: EvaluationInputs,
    params: EvaluateParams,
) -> dict[str, VariantMetrics]:
    """STSb kept and bytes per embedding for each embedding precision, its ranges set by ``calibration`` (the
    model's unit-length embeddings of ``inputs.calibration``, training sentences, cut as ``embeddings`` are)."""
    unit = {s: v / np.linalg.norm(v) for s, v in embeddings.items()}
    results = {}
    for precision in params.embedding_precisions:
        score = inputs.stsb_test_spearman(
            model,
            unit,
            params.batch_size,
            CalibratedSimilarityEvaluator,
            precision=precision,
            calibration_embeddings=calibration,
        )
        texts = list(unit)
        vectors = dict(zip(texts, quantized(np.stack([unit[t] for t in texts]), precision, calibration), strict=True))
        results[precision] = VariantMetrics(
            dimension=base.dimension,
            disk_bytes=base.disk_bytes,
            parameters=base.parameters,
            bytes_per_embedding=base.dimension * BITS_PER_VALUE[precision] // 8,
            stsb_test_spearman=score,
            stsb_test_kept_vs_float32=score / base.stsb_test_spearman,
            **inputs.families(vectors, params).metrics_fields(),
        )
    return results
