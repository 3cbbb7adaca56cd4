"""``metrics/eval/<name>.json``: the evaluate stage's figures of every variant of a student or PCA dimension.

Written by the evaluate stage (the teacher's file too), read by the report, the release stage, and the
evaluate stage itself for the teacher's figures (each family's share of the teacher's). A variant is a
model (``L3``, ``L3-onnx-int8``, ``L3-pca128``), an embedding precision of one (``L3-emb-binary``) or a
Matryoshka student's cut (``L3m-mrl64``); each has the fields its kind measures, the others ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Self

from sentence_distill.records.json_record import JsonRecord, omitted_when_none

SHOT_KEY = re.compile(r"classification_(accuracy|macro_f1)_(\d+)shot")


@dataclass(frozen=True)
class ShotScores:
    """Few-shot topic classification with ``n`` examples per topic: ``classification_accuracy_<n>shot`` and
    ``classification_macro_f1_<n>shot`` in the file."""

    accuracy: float
    macro_f1: float


@dataclass(frozen=True, kw_only=True)
class OwnTaskScores(JsonRecord):
    """One own task's figures of a variant (``evaluation/own_tasks.py``): ``headline`` names the figure its kept
    share of the teacher's is of."""

    kind: str
    headline: str
    figures: dict[str, float]
    kept: float | None = omitted_when_none()


@dataclass(frozen=True, kw_only=True)
class FamilyScores:
    """The task families beyond STSb, from one variant's vectors (``evaluation/task_families.py``); translation
    retrieval only with parallel data."""

    classification_shots: dict[int, ShotScores]
    classification_accuracy: float  # the mean over the shots
    clustering_v_measure: float
    retrieval_ndcg_at_10: float
    retrieval_mrr_at_10: float
    translation_accuracy_source_to_target: float | None = None
    translation_accuracy_target_to_source: float | None = None
    translation_accuracy: float | None = None
    translation_mse_x100: float | None = None
    own_tasks: dict[str, OwnTaskScores] | None = None  # evaluate.tasks, by name

    def metrics_fields(self) -> dict[str, Any]:
        """The scores as ``VariantMetrics`` keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class VariantMetrics(JsonRecord):
    """One variant's figures; every family's kept share is its figure over the teacher's."""

    dimension: int
    bytes_per_embedding: int
    stsb_test_spearman: float
    classification_shots: dict[int, ShotScores] = field(default_factory=dict)
    classification_accuracy: float | None = omitted_when_none()
    clustering_v_measure: float | None = omitted_when_none()
    retrieval_ndcg_at_10: float | None = omitted_when_none()
    retrieval_mrr_at_10: float | None = omitted_when_none()
    translation_accuracy_source_to_target: float | None = omitted_when_none()
    translation_accuracy_target_to_source: float | None = omitted_when_none()
    translation_accuracy: float | None = omitted_when_none()
    translation_mse_x100: float | None = omitted_when_none()
    own_tasks: dict[str, OwnTaskScores] | None = omitted_when_none()  # evaluate.tasks, by name
    mse_to_teacher_x100: float | None = (
        omitted_when_none()
    )  # on the held-out corpus slice, when the axes are the teacher's
    disk_bytes: int | None = omitted_when_none()  # a model's files (an embedding precision: its model's)
    parameters: int | None = omitted_when_none()
    stsb_test_kept_vs_float32: float | None = (
        omitted_when_none()
    )  # an embedding precision: STSb over its float32 embeddings'
    runs_as: str | None = omitted_when_none()  # a Matryoshka cut: the model whose output it cuts (its speed)
    fp32_model: str | None = omitted_when_none()  # a Matryoshka cut: the fp32 cut of its model
    stsb_test_kept: float | None = omitted_when_none()
    classification_kept: float | None = omitted_when_none()
    clustering_kept: float | None = omitted_when_none()
    retrieval_kept: float | None = omitted_when_none()
    families_kept_mean: float | None = (
        omitted_when_none()
    )  # the four shares' mean: what ``select.rank_on: average`` ranks on
    own_tasks_kept_mean: float | None = omitted_when_none()  # the own tasks' kept shares' mean: ``select.rank_on: own``

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for shot, scores in out.pop("classification_shots").items():
            out[f"classification_accuracy_{shot}shot"] = scores.accuracy
            out[f"classification_macro_f1_{shot}shot"] = scores.macro_f1
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        plain, by_shot = {}, {}
        for key, value in data.items():
            match = SHOT_KEY.fullmatch(key)
            if match:
                by_shot.setdefault(int(match.group(2)), {})[match.group(1)] = value
            else:
                plain[key] = value
        return super().from_dict(
            {**plain, "classification_shots": {n: ShotScores(**s) for n, s in sorted(by_shot.items())}}
        )


@dataclass(frozen=True)
class EvaluationFile(JsonRecord):
    """The file of one evaluate stage; a PCA dimension the student does not have says why in ``not_requested``."""

    variants: dict[str, VariantMetrics]
    not_requested: str | None = omitted_when_none()
