"""Matryoshka training makes the first dimensions an embedding (M1 through every stage: ``test_more_students.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sentence_transformers import SentenceTransformer

from sentence_distill import assets
from sentence_distill.config.schema import DistillParams
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.models import open_teacher_cache
from sentence_distill.students.build import prune_layers
from sentence_distill.students.targets import in_axes, principal_axes, with_rotation
from sentence_distill.students.trainer import distill
from tests.unit.test_matryoshka import MINILM, unit


def test_matryoshka_training_makes_the_first_dimensions_an_embedding(
    finished_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same one-layer student trained the same steps on the same targets, with and without the Matryoshka
    loss: with it, its first 16 dimensions (normalized) are closer to the targets' first 16 on held-out sentences."""
    monkeypatch.chdir(finished_project)
    cache = open_teacher_cache()
    train_texts, heldout_texts = corpus_sentences("train"), corpus_sentences("heldout")
    mean, axes = principal_axes(cache.lookup(train_texts), 384)
    train_targets, heldout_targets = (
        in_axes(cache.lookup(train_texts), mean, axes),
        in_axes(cache.lookup(heldout_texts), mean, axes),
    )
    params = DistillParams(epochs=1, max_steps=16, batch_size=16, learning_rate=1e-3, eval_steps=16)
    cut_mse = {}
    for dims in ([], [16]):
        student = with_rotation(
            prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0]), mean, axes
        )
        trained, _ = distill(
            student,
            train_texts,
            train_targets,
            heldout_texts,
            heldout_targets,
            params,
            finished_project / ".work" / f"mrl{dims}",
            finished_project / f"curves{dims}",
            matryoshka_dims=dims,
        )
        cut = trained.encode(heldout_texts, truncate_dim=16, normalize_embeddings=True)
        cut_mse[str(dims)] = float(((cut - unit(heldout_targets[:, :16])) ** 2).sum(1).mean())
    assert cut_mse["[16]"] < 0.9 * cut_mse["[]"], cut_mse
