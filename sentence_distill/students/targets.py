"""What a student learns to reproduce: the teacher's embeddings as they are, projected to a smaller student's
dimension (PCA), or, for a Matryoshka student, turned into the teacher's principal axes."""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Normalize
from sklearn.decomposition import PCA


def project_targets(train: np.ndarray, others: list[np.ndarray], dimension: int, seed: int) -> list[np.ndarray]:
    """Project teacher targets to the student's size with PCA, as the reference's bias-free Dense on the teacher."""
    pca = PCA(n_components=dimension, random_state=seed).fit(train)
    return [x @ pca.components_.T.astype(np.float32) for x in [train, *others]]


def principal_axes(train: np.ndarray, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the teacher's training embeddings and their first ``dimension`` principal axes (columns):
    a Matryoshka student's targets are the teacher's embeddings in these axes, so that their first k
    coordinates are the teacher's own k-dimension PCA (its coordinates as they come would keep k arbitrary
    ones). Centred, as the pipeline's PCA models are.

    The eigenvectors of the scatter matrix by decreasing variance: a whole basis even with fewer
    sentences than dimensions, where a PCA has fewer components.
    """
    mean = train.mean(axis=0, dtype=np.float64)
    centred = train - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred)
    return mean, vectors[:, np.argsort(variances)[::-1][:dimension]]


def in_axes(vectors: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``vectors`` centred, in the coordinates of ``axes``, unit length (float32)."""
    rotated = (vectors - mean) @ axes
    return (rotated / np.linalg.norm(rotated, axis=1, keepdims=True)).astype(np.float32)


def with_rotation(student: SentenceTransformer, mean: np.ndarray, axes: np.ndarray) -> SentenceTransformer:
    """A Matryoshka student: its own modules, then a ``Dense`` that starts as the targets' centring and rotation,
    then ``Normalize``. A student keeping the teacher's layers starts out close to the rotated targets, as a plain
    student to the plain ones; without the layer its last transformer layer would have to learn the rotation.
    A student of another dimension, whose outputs are not the teacher's, starts from the identity."""
    dimension = student.get_embedding_dimension()
    if axes.shape[0] == dimension:
        weight = torch.tensor(axes.T, dtype=torch.float32)
        bias = -weight @ torch.tensor(mean, dtype=torch.float32)
    else:
        weight, bias = torch.eye(dimension), torch.zeros(dimension)
    dense = Dense(
        dimension, dimension, bias=True, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias
    )
    modules = list(student) if isinstance(list(student)[-1], Normalize) else [*student, Normalize()]
    return SentenceTransformer(modules=[*modules, dense, Normalize()], device=str(student.device))
