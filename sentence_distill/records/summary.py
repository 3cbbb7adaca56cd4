"""The report's files: ``metrics/summary.json`` and the chart rows ``reports/models.json`` and ``embeddings.json``.

Written by the report stage, read by the tests and by anything that shows a run's findings. Figures
called ``stsb`` are STSb test Spearman x100; a ``*_kept`` share is a fraction of the teacher's figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sentence_distill.fileio import write_json
from sentence_distill.records.json_record import JsonRecord, omitted_when_none

P = TypeVar("P", "ModelPoint", "EmbeddingPoint")


@dataclass(frozen=True, kw_only=True)
class ComparisonRow(JsonRecord):
    """One of our fp32 models beside the reference's figures for what it is (``None``: the reference has none)."""

    model: str
    kind: str  # teacher, teacher_copy, pruned, untrained, teacher_pca, option1, static
    what: str
    layers: int
    dimension: int
    reference_stsb: float | None
    reference_stsb_kept: float | None
    reference_speedup: float | None
    stsb: float
    stsb_test_kept: float
    speedup: float
    speedup_q1: float
    speedup_q3: float
    device: str
    classification_kept: float | None = omitted_when_none()
    clustering_kept: float | None = omitted_when_none()
    retrieval_kept: float | None = omitted_when_none()
    families_kept_mean: float | None = omitted_when_none()


@dataclass(frozen=True)
class PrunedCurve(JsonRecord):
    """The STSb share a pruned student would keep at an option-1 student's speed-up, on the line between two."""

    between: list[str]
    stsb_test_kept: float
    option1_lead: float


@dataclass(frozen=True)
class Option1Finding(JsonRecord):
    """The reference's claim (pruning beats a smaller model of its own) on one option-1 student."""

    student: str
    closest_pruned: list[str]
    same_speed: bool
    verdict: str  # holds, does not hold, trade-off, tie, mixed, no pruned student
    pruned_curve: PrunedCurve | None


@dataclass(frozen=True)
class ReferenceComparison(JsonRecord):
    source: str
    reference_teacher: str
    reference_speed_device: str
    teacher: str
    teacher_layers: int
    teacher_dimension: int
    students_matched: bool  # our teacher has the reference teacher's shape
    rows: list[ComparisonRow]
    option1: list[Option1Finding]


@dataclass(frozen=True)
class MatryoshkaComparison(JsonRecord):
    """A Matryoshka student's cut to ``dimension`` beside the PCA to that dimension of the same student."""

    student: str
    dimension: int
    matryoshka: str
    matryoshka_stsb: float
    matryoshka_families_kept_mean: float | None
    pca: str | None
    pca_stsb: float | None
    pca_families_kept_mean: float | None
    stsb_lead: float | None  # the cut's STSb minus the PCA's


@dataclass(frozen=True, kw_only=True)
class Summary(JsonRecord):
    """``metrics/summary.json``: the fronts, the best student, the fastest model within one point, the checks."""

    models: int
    embeddings: int
    pareto_front: list[str]
    storage_front: list[str]
    rank_on: str
    best_student: str | None
    fastest_within_one_point: str | None
    sanity_warnings: list[str]
    matryoshka_against_pca: list[MatryoshkaComparison] | None = omitted_when_none()
    translation_accuracy: dict[str, float] | None = omitted_when_none()
    own_tasks_kept: dict[str, dict[str, float | None]] | None = omitted_when_none()  # model -> task (and own) -> share
    reference_comparison: ReferenceComparison | None = omitted_when_none()


@dataclass(frozen=True)
class ModelPoint(JsonRecord):
    """A row of ``reports/models.json``: a model on the quality against speed-up chart."""

    model: str
    speedup: float
    stsb: float
    families_kept_mean: float | None  # in % of the teacher's
    pareto: bool


@dataclass(frozen=True)
class EmbeddingPoint(JsonRecord):
    """A row of ``reports/embeddings.json``: an embedding on the quality against bytes per embedding chart."""

    model: str
    bytes_per_embedding: int
    stsb: float
    families_kept_mean: float | None
    pareto: bool


def write_points(path: Path, points: list[ModelPoint] | list[EmbeddingPoint]) -> None:
    write_json(path, [p.to_dict() for p in points])


def read_points(path: Path, point: type[P]) -> list[P]:
    """The rows of a chart's file, ``point`` (``ModelPoint`` or ``EmbeddingPoint``) each."""
    return [point.from_dict(row) for row in json.loads(Path(path).read_text())]
