"""Building a student before any training: the teacher with some of its layers kept, another model as it
comes, or a static table of the teacher's vocabulary (model2vec's distillation)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path

import torch
from filelock import FileLock
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

from sentence_distill import assets
from sentence_distill.config.schema import StudentSpec
from sentence_distill.fileio import atomic_dir
from sentence_distill.models import load_model
from sentence_distill.paths import STATIC_TABLES_DIR

log = logging.getLogger(__name__)

STATIC_DISTILLATION = {"pca_dims": None, "quantize_to": "float32"}  # the teacher's dimension, float32 weights


def kept_layers(spec: StudentSpec, teacher_layers: int) -> list[int]:
    """Indices of the teacher layers a pruned student keeps, in order."""
    if spec.layers is not None:
        return list(spec.layers)
    count = spec.num_layers or teacher_layers
    if spec.strategy == "first":
        return list(range(count))
    if spec.strategy == "last":
        return list(range(teacher_layers - count, teacher_layers))
    return sorted({round(i * (teacher_layers - 1) / max(count - 1, 1)) for i in range(count)}) if count > 1 else [0]


def layer_stack(encoder: torch.nn.Module, num_layers: int) -> tuple[torch.nn.Module, str]:
    """The (parent, attribute) holding the encoder's transformer layers, found by shape not by name.

    BERT, RoBERTa and MPNet keep them in ``encoder.layer``, DistilBERT in ``transformer.layer``;
    searching for the one ModuleList of ``num_hidden_layers`` blocks works for all of them.
    """
    candidates = [
        (parent, attr)
        for _, parent in encoder.named_modules()
        for attr, child in parent.named_children()
        if isinstance(child, torch.nn.ModuleList) and len(child) == num_layers
    ]
    if len(candidates) != 1:
        raise ValueError(f"cannot find the layer stack of {type(encoder).__name__}: {len(candidates)} candidates")
    return candidates[0]


def prune_layers(model: SentenceTransformer, keep: list[int]) -> SentenceTransformer:
    """Keep only the listed transformer layers, and record the count in the config so a reload agrees."""
    encoder = model[0].auto_model
    parent, attr = layer_stack(encoder, encoder.config.num_hidden_layers)
    layers = getattr(parent, attr)
    setattr(parent, attr, torch.nn.ModuleList([layers[i] for i in keep]))
    encoder.config.num_hidden_layers = len(keep)
    return model


def static_table(teacher_ref: str, teacher_fingerprint: str) -> Path:
    """model2vec's distillation of the teacher (every vocabulary token embedded by it), made once per teacher's
    files (the embedding cache's fingerprint of them), model2vec version and options: a plain and a refined
    static student share it, and a teacher of mpnet's size takes minutes to distil."""
    key = {"teacher": teacher_fingerprint, "model2vec": importlib.metadata.version("model2vec"), **STATIC_DISTILLATION}
    folder = STATIC_TABLES_DIR / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):  # two static students at once (--jobs 2): one distils, the other waits
        if folder.is_dir():
            log.info("static table of %s from %s", teacher_ref, folder)
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
            table = StaticEmbedding.from_distillation(
                assets.resolve_model(teacher_ref), device=device, **STATIC_DISTILLATION
            )
            with atomic_dir(folder) as tmp:
                table.save(str(tmp))
    return folder


def static_student(teacher_ref: str, teacher_fingerprint: str) -> SentenceTransformer:
    """The distilled table, mean-pooled, then ``Normalize`` as the teacher's own embeddings are."""
    table = StaticEmbedding.load(str(static_table(teacher_ref, teacher_fingerprint)))
    return SentenceTransformer(modules=[table, Normalize()])  # sentence-transformers' default device, as load_model


def build_student(spec: StudentSpec, teacher_ref: str, teacher_fingerprint: str) -> tuple[SentenceTransformer, dict]:
    """The untrained student, and what it is made of (its source model, layer count, kept layers or static)."""
    if spec.static:
        return static_student(teacher_ref, teacher_fingerprint), {"source": teacher_ref, "layers": 0, "static": True}
    if spec.model is not None:
        model = load_model(spec.model)
        return model, {"source": spec.model, "layers": model[0].auto_model.config.num_hidden_layers}
    model = load_model(teacher_ref)
    teacher_layers = model[0].auto_model.config.num_hidden_layers
    keep = kept_layers(spec, teacher_layers)
    prune_layers(model, keep)
    return model, {"source": teacher_ref, "layers": len(keep), "kept_layers": keep}
