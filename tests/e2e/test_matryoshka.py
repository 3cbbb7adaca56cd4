"""Matryoshka students trained: the first dimensions become an embedding, and a Matryoshka student through every
stage."""

from __future__ import annotations

import json
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


def test_a_matryoshka_student_goes_through_every_stage(more_students_run: Path) -> None:
    project = more_students_run
    summary = json.loads((project / "metrics" / "students" / "M1.json").read_text())
    assert summary["matryoshka_dims"] == [32, 16] and summary["steps"] == 8
    model = SentenceTransformer(str(project / "models" / "M1" / "student"), device="cpu", truncate_dim=16)
    assert model.encode(["A man is playing a guitar."]).shape == (1, 16)
    variants = json.loads((project / "metrics" / "eval" / "M1.json").read_text())["variants"]
    for backend in ("", "-onnx-int8", "-openvino-int8", "-torch-int8"):
        for k in (32, 16):
            cut = variants[f"M1-mrl{k}{backend}"]
            assert cut["dimension"] == k and cut["runs_as"] == f"M1{backend}" and cut["fp32_model"] == f"M1-mrl{k}"
            assert {"stsb_test_spearman", "classification_kept", "clustering_kept", "retrieval_kept"} <= set(cut)
    assert (
        "M1-mrl16-emb-binary" in variants and "mse_to_teacher_x100" not in variants["M1"]
    )  # other axes than the teacher's
    report = (project / "reports" / "report.md").read_text()
    assert (
        "## Matryoshka cuts against PCA" in report and "| M1 | 32 | M1-mrl32 |" in report and "| M1-pca32 |" in report
    )
    rows = {r["model"]: r for r in json.loads((project / "reports" / "models.json").read_text())}
    assert rows["M1-mrl16"]["speedup"] == rows["M1"]["speedup"]  # a cut runs as its model
    comparison = json.loads((project / "metrics" / "summary.json").read_text())["matryoshka_against_pca"]
    assert [(c["dimension"], c["pca"]) for c in comparison] == [(32, "M1-pca32"), (16, None)]
    card = (project / "release" / "M1" / "README.md").read_text()
    assert "truncate_dim=k" in card and "first 16 dimensions (M1-mrl16)" in card
