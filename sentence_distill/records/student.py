"""``metrics/students/<name>.json``: what the student stage built, and how its training went.

Written by the student stage, read by the release stage (a card's "how this model was made") and by
the student stage itself (a distributed run's launcher returns what its first worker wrote). The
training figures sit beside the others in the file; here they are one ``Training``, present only for a
trained student.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

from sentence_distill.records.json_record import JsonRecord, omitted_when_none


@dataclass(frozen=True, kw_only=True)
class Training(JsonRecord):
    train_seconds: float
    steps: int
    best_step: int
    selected_by: str  # the curve the best step was picked on
    best_stsb_dev_spearman: float
    best_parallel_dev_mse_x100: float | None = omitted_when_none()  # a parallel student's: what picks its best step
    resumed_from: str | None  # the checkpoint the run went on from
    epochs: float
    learning_rate: float
    processes: int
    precision: str = "fp32"  # distill.precision (records written before it trained in float32)


@dataclass(frozen=True, kw_only=True)
class StudentMetrics(JsonRecord):
    name: str
    source: str  # the teacher whose layers it keeps, or its own model
    layers: int
    kept_layers: list[int] | None = omitted_when_none()
    static: bool | None = omitted_when_none()  # true for a static-embedding table
    trained: bool
    parallel_pairs: int | None = omitted_when_none()  # trained on the parallel pairs: how many
    train_sentences: int | None = omitted_when_none()  # distill.train_sentences cut the training texts to this many
    targets_projected: str | None = omitted_when_none()  # the teacher's embeddings brought to the student's dimension
    matryoshka_dims: list[int] | None = omitted_when_none()
    training: Training | None = omitted_when_none()
    parameters: int

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        return out | out.pop("training", {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(Training)}
        training = {k: v for k, v in data.items() if k in names}
        rest = {k: v for k, v in data.items() if k not in names}
        return super().from_dict({**rest, "training": training or None})
