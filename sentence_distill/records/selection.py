"""``metrics/selected.json``: the one model the selection rule (``select:`` in params) picks, and why.

Written by the report stage (``report/selection.py``), read by the release stage (``release/selected/``) and by
the flow's artifact. A ``score`` is the ``select.rank_on`` figure as the evaluation writes it (STSb test Spearman
as a fraction, or a mean kept share); ``kept`` is that score over the teacher's, what ``select.floor`` bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentence_distill.records.benchmark import Spread
from sentence_distill.records.json_record import JsonRecord, omitted_when_none


@dataclass(frozen=True, kw_only=True)
class Rule(JsonRecord):
    """The rule as the params set it (``select``); a limit of ``None`` is no limit."""

    rank_on: str
    floor: float
    objective: str
    max_latency_p95_ms: float | None
    max_size_mb: float | None
    max_bytes_per_embedding: int | None
    backends: list[str] | None


@dataclass(frozen=True, kw_only=True)
class Candidate(JsonRecord):
    """A model that could be shipped, with every figure the rule looks at."""

    model: str
    runs_as: str  # the model folder it loads: a Matryoshka cut's is the model it cuts, any other model's itself
    backend: str  # fp32, onnx-int8, openvino-int8 or torch-int8
    dimension: int
    score: float
    kept: float
    speedup: Spread
    latency_p95_ms: float
    size_mb: float | None
    bytes_per_embedding: int
    misses: list[str]  # the parts of the rule it does not meet ("floor", "max_latency_p95_ms", ...)
    truncate_dim: int | None = omitted_when_none()  # a Matryoshka cut: load ``runs_as`` with this truncate_dim


@dataclass(frozen=True, kw_only=True)
class Selection(JsonRecord):
    """The chosen model and the next ones, or, when no model meets the rule, what nothing met and the nearest."""

    rule: Rule
    candidates: int  # the models the rule was applied to
    meeting: int  # those that meet it
    chosen: Candidate | None
    why: str
    runners_up: list[Candidate]  # the next ones by the objective (at most 3)
    unmet: list[str]  # the parts of the rule no candidate meets ([] when one is chosen)
    nearest: Candidate | None = omitted_when_none()  # when none meets the rule: the one closest to meeting it
