"""Matryoshka students (``matryoshka_dims``): trained with ``MatryoshkaLoss`` around the MSE loss against teacher
targets in their principal axes, so that the first k output dimensions are an embedding on their own; each k is
a row (``NAME-mrlK``) beside the student's PCA to k."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sentence_transformers import SentenceTransformer
from sklearn.decomposition import PCA

from sentence_distill import assets
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.models import open_teacher_cache
from sentence_distill.config.params import DistillParams
from tasks.student import distill, in_axes, principal_axes, prune_layers, with_rotation
from tests.project import run

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_targets_in_principal_axes_cut_to_the_teachers_pca() -> None:
    """The first k coordinates of the targets are the teacher's centred k-dimension PCA (the same cosines), and
    the full targets keep the centred teacher's cosines: a rotation, not a loss."""
    rng = np.random.default_rng(0)
    teacher = unit(rng.normal(size=(400, 24)) @ rng.normal(size=(24, 24)) + 0.5).astype(np.float32)
    train, heldout = teacher[:300], teacher[300:]
    mean, axes = principal_axes(train, 24)
    targets, heldout_targets = in_axes(train, mean, axes), in_axes(heldout, mean, axes)
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1, rtol=1e-5)
    pca, cut = unit(PCA(n_components=8, svd_solver="full").fit(train).transform(heldout)), unit(heldout_targets[:, :8])
    np.testing.assert_allclose(cut @ cut.T, pca @ pca.T, atol=1e-4)  # the same cosines: axes up to their signs
    few = in_axes(train[:10], *principal_axes(train[:10], 24))  # fewer sentences than dimensions: still a rotation
    np.testing.assert_allclose(few @ few.T, unit(train[:10] - train[:10].mean(0)) @ unit(train[:10] - train[:10].mean(0)).T, atol=1e-4)
    centred = unit(heldout - train.mean(0))
    np.testing.assert_allclose(heldout_targets @ heldout_targets.T, centred @ centred.T, atol=1e-4)


def test_a_matryoshka_student_starts_at_the_rotated_targets() -> None:
    """The rotation layer: a student keeping the teacher's layers outputs, before any training, its own embeddings
    in the targets' axes, so it starts as close to them as a plain student to the plain targets."""
    teacher = SentenceTransformer(assets.resolve_model(MINILM), device="cpu")
    sentences = [f"Sentence {i} about the {w} market." for i, w in enumerate(["stock", "car", "film", "music"] * 100)]
    embeddings = teacher.encode(sentences)
    mean, axes = principal_axes(embeddings, 384)
    rotated = with_rotation(teacher, mean, axes)
    assert [type(m).__name__ for m in rotated] == ["Transformer", "Pooling", "Normalize", "Dense", "Normalize"]
    np.testing.assert_allclose(rotated.encode(sentences[:16]), in_axes(embeddings[:16], mean, axes), atol=1e-4)


def test_matryoshka_training_makes_the_first_dimensions_an_embedding(
    finished_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same one-layer student trained the same steps on the same targets, with and without the Matryoshka
    loss: with it, its first 16 dimensions (normalized) are closer to the targets' first 16 on held-out sentences."""
    monkeypatch.chdir(finished_project)
    cache = open_teacher_cache()
    train_texts, heldout_texts = corpus_sentences("train"), corpus_sentences("heldout")
    mean, axes = principal_axes(cache.lookup(train_texts), 384)
    train_targets, heldout_targets = in_axes(cache.lookup(train_texts), mean, axes), in_axes(cache.lookup(heldout_texts), mean, axes)
    params = DistillParams(epochs=1, max_steps=16, batch_size=16, learning_rate=1e-3, eval_steps=16)
    cut_mse = {}
    for dims in ([], [16]):
        student = with_rotation(prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0]), mean, axes)
        trained, _ = distill(student, train_texts, train_targets, heldout_texts, heldout_targets, params,
                             finished_project / ".work" / f"mrl{dims}", finished_project / f"curves{dims}", matryoshka_dims=dims)
        cut = trained.encode(heldout_texts, truncate_dim=16, normalize_embeddings=True)
        cut_mse[str(dims)] = float(((cut - unit(heldout_targets[:, :16])) ** 2).sum(1).mean())
    assert cut_mse["[16]"] < 0.9 * cut_mse["[]"], cut_mse


def test_a_matryoshka_dimension_must_be_below_the_students(tiny_project: Path) -> None:
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["students"]["L1"]["matryoshka_dims"] = [64, 384]
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["python", "-m", "sentence_distill.config.params"], tiny_project, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "students.L1.matryoshka_dims: 384 is not below the embedding size 384 of student 'L1'" in result.stderr


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
    assert "M1-mrl16-emb-binary" in variants and "mse_to_teacher_x100" not in variants["M1"]  # other axes than the teacher's
    report = (project / "reports" / "report.md").read_text()
    assert "## Matryoshka cuts against PCA" in report and "| M1 | 32 | M1-mrl32 |" in report and "| M1-pca32 |" in report
    rows = {r["model"]: r for r in json.loads((project / "reports" / "models.json").read_text())}
    assert rows["M1-mrl16"]["speedup"] == rows["M1"]["speedup"]  # a cut runs as its model
    comparison = json.loads((project / "metrics" / "summary.json").read_text())["matryoshka_against_pca"]
    assert [(c["dimension"], c["pca"]) for c in comparison] == [(32, "M1-pca32"), (16, None)]
    card = (project / "release" / "M1" / "README.md").read_text()
    assert "truncate_dim=k" in card and "first 16 dimensions (M1-mrl16)" in card
