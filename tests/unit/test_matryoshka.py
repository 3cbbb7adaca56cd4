"""Matryoshka students (``matryoshka_dims``): trained with ``MatryoshkaLoss`` around the MSE loss against teacher
targets in their principal axes, so that the first k output dimensions are an embedding on their own; each k is
a row (``NAME-mrlK``) beside the student's PCA to k. Training: ``tests/e2e/test_matryoshka.py``;
a run through every stage: ``tests/e2e/test_more_students.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from sentence_transformers import SentenceTransformer
from sklearn.decomposition import PCA

from sentence_distill import assets
from sentence_distill.students.targets import in_axes, principal_axes, with_rotation
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
    np.testing.assert_allclose(
        few @ few.T, unit(train[:10] - train[:10].mean(0)) @ unit(train[:10] - train[:10].mean(0)).T, atol=1e-4
    )
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


def test_a_matryoshka_dimension_must_be_below_the_students(tiny_project: Path) -> None:
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["students"]["L1"]["matryoshka_dims"] = [64, 384]
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["python", "-m", "tasks.validate"], tiny_project, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "students.L1.matryoshka_dims: 384 is not below the embedding size 384 of student 'L1'" in result.stderr
