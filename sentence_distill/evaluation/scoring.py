"""How a variant is scored: STSb on embeddings computed beforehand (each text is embedded once per variant and
shared by every family that reads it), and the model's size."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors import safe_open
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

from sentence_distill.paths import QUANTIZATION_FILE


class PrecomputedSimilarityEvaluator(EmbeddingSimilarityEvaluator):
    """STSb scored on embeddings computed beforehand (``embeddings`` maps each sentence to its vector)."""

    def __init__(self, *args, embeddings: Mapping[str, np.ndarray], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.embeddings = embeddings

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return np.stack([self.embeddings[s] for s in sentences])


def parameter_count(folder: Path) -> int:
    total = 0
    for file in folder.rglob("*.safetensors"):
        with safe_open(str(file), framework="pt") as weights:
            total += sum(int(np.prod(weights.get_slice(k).get_shape())) for k in weights.keys())
    return total


def disk_bytes(folder: Path) -> int:
    """Bytes of the files the variant's backend loads (the ONNX file replaces the torch weights)."""
    onnx = (folder / QUANTIZATION_FILE).is_file()
    skipped = {"README.md"} | ({"model.safetensors"} if onnx else set())
    files = [f for f in folder.rglob("*") if f.is_file() and f.relative_to(folder).as_posix() not in skipped]
    if not onnx:
        files = [f for f in files if f.relative_to(folder).parts[0] != "onnx"]
    return sum(f.stat().st_size for f in files)
