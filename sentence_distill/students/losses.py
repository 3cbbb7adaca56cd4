"""The training loss over the teacher's cached targets: sentence-transformers' ``MSELoss`` alone (``distill.loss``'s
default, as the reference trains), or a weighted sum of terms (``sentence_distill.config.recipe``).

- ``mse`` and ``cosine``: each embedding against its own target, sentence-transformers' ``MSELoss`` and
  ``EmbedDistillLoss`` (1 - cosine).
- ``relational``: the batch's structure rather than each point: the MSE between the student's in-batch cosine
  matrix and the targets' (similarity-preserving distillation). Blind to a rotation of the whole space.
- ``contrastive``: InfoNCE, each embedding's cosines to every target of the batch over a temperature, its own target
  the positive and the others negatives (DistilCSE): it learns to tell sentences apart, what retrieval asks of them.

Each term is computed per text column (a parallel student has two, both against the source's target) and averaged
over the columns, as sentence-transformers' distillation losses do. Inside ``MatryoshkaLoss`` the student's
embeddings come cut to k dimensions and normalized, the targets only cut: every term but ``mse`` compares cosines,
so the cut targets' lengths do not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss, MSELoss
from torch import Tensor, nn

from sentence_distill.config.recipe import DEFAULT_LOSS


def cosine_matrix(embeddings: Tensor) -> Tensor:
    unit = F.normalize(embeddings, dim=-1)
    return unit @ unit.T


def relational(student: Tensor, target: Tensor) -> Tensor:
    """MSE between the two batches' cosine matrices (every pair, the diagonal's equal ones included)."""
    return F.mse_loss(cosine_matrix(student), cosine_matrix(target))


def contrastive(student: Tensor, target: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of each embedding's cosines to the batch's targets, over ``temperature``, for its own target."""
    logits = F.normalize(student, dim=-1) @ F.normalize(target, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(student), device=student.device))


class DistillationLoss(nn.Module):
    """The weighted sum of ``weights``' terms (mse, cosine, relational, contrastive), in sentence-transformers'
    loss interface: ``forward(sentence_features, labels)``, the labels being the teacher's targets."""

    def __init__(self, model: SentenceTransformer, weights: Mapping[str, float], temperature: float = 0.05) -> None:
        super().__init__()
        self.model = model
        self.weights = dict(weights)
        self.temperature = temperature
        self.terms: dict[str, Callable[[list[Tensor], list[Tensor]], Tensor]] = {  # not submodules: no parameters
            "mse": MSELoss(model).compute_loss_from_embeddings,
            "cosine": EmbedDistillLoss(model, distance_metric="cosine").compute_loss_from_embeddings,
            "relational": partial(per_column, relational),
            "contrastive": partial(per_column, partial(contrastive, temperature=temperature)),
        }

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        embeddings = [self.model(features)["sentence_embedding"] for features in sentence_features]
        return self.from_embeddings(embeddings, labels)

    def from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss of the student's ``embeddings`` (one tensor per text column) against ``labels``, one target a
        row, which every column learns."""
        targets = [labels.to(device=e.device, dtype=e.dtype) for e in embeddings]
        weighted = [weight * self.terms[term](embeddings, targets) for term, weight in self.weights.items()]
        return torch.stack(weighted).sum()

    def get_config_dict(self) -> dict:
        return {"weights": self.weights, "temperature": self.temperature}


def per_column(term: Callable[[Tensor, Tensor], Tensor], embeddings: list[Tensor], targets: list[Tensor]) -> Tensor:
    return torch.stack([term(e, t) for e, t in zip(embeddings, targets, strict=True)]).mean()


def distillation_loss(model: SentenceTransformer, weights: Mapping[str, float], temperature: float) -> nn.Module:
    """``MSELoss`` itself for the default loss (the training, and every figure, exactly as before the other terms);
    otherwise the weighted sum."""
    if dict(weights) == DEFAULT_LOSS:
        return MSELoss(model)
    return DistillationLoss(model, weights, temperature)
