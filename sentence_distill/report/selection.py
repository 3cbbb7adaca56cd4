"""The selection rule (``select:`` in params): of the run's models, the one to ship.

Candidates are the model rows but the teacher (the model being distilled): every student and its PCA, int8 and
Matryoshka-cut models. A Matryoshka cut is deployable as it is measured: the folder of the model it cuts, loaded
with ``truncate_dim=k`` (its speed is that model's). Embedding precisions (``-emb-int8``, ``-emb-binary``) are
not candidates: they are a storage step on a model's output, applied by the application that stores the vectors,
not a model the release can ship; the report's embeddings table and the chosen model's card show them.

A candidate meets the rule when it keeps ``select.floor`` of the teacher's ``select.rank_on`` figure and every
constraint that is set. Among those, ``fastest`` takes the highest median speed-up over the teacher; models whose
quartile range overlaps that one's are not told apart from it by the measurement, so among them the higher score
wins (then the higher median). ``smallest`` takes the fewest bytes on disk (then the higher score, then the
faster). When none meets the rule, ``unmet`` names each part of it that no candidate meets alone, and the nearest
candidate is the one whose worst relative shortfall is least: for the floor ``(floor - kept) / floor``, for a
limit ``(value - limit) / limit``, among the candidates of an allowed backend (a backend has no distance).
"""

from __future__ import annotations

import math

from sentence_distill.config.schema import SelectParams
from sentence_distill.paths import TEACHER
from sentence_distill.records.selection import Candidate, Rule, Selection
from sentence_distill.report.rows import Row, faster, model_rows, ranked_name

RUNNERS_UP = 3
LIMITS = ("max_latency_p95_ms", "max_size_mb", "max_bytes_per_embedding")  # constraints with an upper bound


def backend_of(row: Row) -> str:
    """``fp32``, or the int8 backend: what the label adds to its fp32 model's (``L3-pca128-onnx-int8``)."""
    return "fp32" if row.fp32_model == row.model else row.model.removeprefix(f"{row.fp32_model}-")


def limit_value(row: Row, limit: str) -> float | None:
    """The row's figure a limit bounds (``None``: not known)."""
    if limit == "max_latency_p95_ms":
        return row.speed.latency_ms.p95
    if limit == "max_size_mb":
        return None if row.metrics.disk_bytes is None else row.metrics.disk_bytes / 1e6
    return row.metrics.bytes_per_embedding


def rule_parts(rule: Rule) -> list[str]:
    """The parts of the rule that are set: the floor always, each constraint that is not null."""
    return ["floor", *(limit for limit in LIMITS if getattr(rule, limit) is not None)] + (
        ["backends"] if rule.backends is not None else []
    )


def part_text(part: str, rule: Rule) -> str:
    """A part of the rule in words."""
    if part == "floor":
        return f"the floor ({100 * rule.floor:g}% of the teacher's {ranked_name(rule.rank_on, in_words=True)})"
    if part == "backends":
        return f"the backends ({', '.join(rule.backends)})"
    bound = getattr(rule, part)
    return {
        "max_latency_p95_ms": f"latency p95 at most {bound:g} ms",
        "max_size_mb": f"at most {bound:g} MB on disk",
        "max_bytes_per_embedding": f"at most {bound} bytes per embedding",
    }[part]


def shortfalls(row: Row, kept: float, rule: Rule) -> dict[str, float]:
    """Each set part of the rule, and how far the row falls short of it relative to the bound (0: met)."""
    found = {}
    for part in rule_parts(rule):
        if part == "floor":
            found[part] = max(0.0, (rule.floor - kept) / rule.floor)
        elif part == "backends":
            found[part] = 0.0 if backend_of(row) in rule.backends else math.inf
        else:
            value, bound = limit_value(row, part), getattr(rule, part)
            found[part] = math.inf if value is None else max(0.0, (value - bound) / bound)
    return found


def candidate(row: Row, teacher_quality: float, rule: Rule) -> Candidate:
    kept = row.quality / teacher_quality
    return Candidate(
        model=row.model,
        runs_as=row.metrics.runs_as or row.model,
        backend=backend_of(row),
        dimension=row.metrics.dimension,
        score=row.quality,
        kept=kept,
        speedup=row.speed.speedup_vs_teacher,
        latency_p95_ms=row.speed.latency_ms.p95,
        size_mb=limit_value(row, "max_size_mb"),
        bytes_per_embedding=row.metrics.bytes_per_embedding,
        misses=[part for part, short in shortfalls(row, kept, rule).items() if short > 0],
        truncate_dim=row.metrics.dimension if row.metrics.runs_as else None,
    )


def objective_order(rows: list[Row], objective: str) -> list[Row]:
    """The rows best first by the objective alone (ties within the spread are ``choose``'s)."""
    if objective == "fastest":
        return sorted(rows, key=lambda r: (-r.speedup, -r.quality, r.model))
    return sorted(rows, key=lambda r: (limit_value(r, "max_size_mb") or math.inf, -r.quality, -r.speedup, r.model))


def choose(meeting: list[Row], objective: str, quality_name: str) -> tuple[Row, str]:
    """The chosen row among those meeting the rule, and why it was chosen."""
    ordered = objective_order(meeting, objective)
    best = ordered[0]
    of = f"of the {len(meeting)} models that meet the rule"
    if objective == "smallest":
        return best, f"the smallest on disk {of}"
    tied = [r for r in ordered if not faster(best, r)]  # inside the fastest's spread: not told apart from it
    chosen = max(tied, key=lambda r: (r.quality, r.speedup))
    if chosen is best:
        others = f", {len(tied) - 1} more within its spread score lower" if len(tied) > 1 else ""
        return chosen, f"the fastest {of}{others}"
    others = [r.model for r in tied if r is not best]
    overlapping = (
        f"the speed-up spread of {others[0]} overlaps it"
        if len(others) == 1
        else f"the speed-up spreads of {', '.join(others[:-1])} and {others[-1]} overlap it"
    )
    return chosen, (
        f"{best.model} has the highest median speed-up {of} ({best.speedup:.2f}x [{best.speedup_q1:.2f}-"
        f"{best.speedup_q3:.2f}]), but {overlapping}: the measurement does not tell them apart, so the highest "
        f"{quality_name} among them is chosen"
    )


def rule_of(select: SelectParams) -> Rule:
    c = select.constraints
    return Rule(
        rank_on=select.rank_on,
        floor=select.floor,
        objective=select.objective,
        max_latency_p95_ms=c.max_latency_p95_ms,
        max_size_mb=c.max_size_mb,
        max_bytes_per_embedding=c.max_bytes_per_embedding,
        backends=None if c.backends is None else list(c.backends),
    )


def select_model(rows: list[Row], select: SelectParams) -> Selection:
    """Apply the rule to the report's rows (``collect_rows``, ranked on ``select.rank_on``)."""
    rule, quality_name = rule_of(select), ranked_name(select.rank_on, in_words=True)
    teacher = next(r for r in rows if r.model == TEACHER)
    pool = [r for r in model_rows(rows) if r.model != TEACHER]
    figures = {r.model: candidate(r, teacher.quality, rule) for r in pool}
    meeting = [r for r in pool if not figures[r.model].misses]
    if meeting:
        chosen, why = choose(meeting, rule.objective, quality_name)
        rest = [r for r in objective_order(meeting, rule.objective) if r is not chosen]
        return Selection(
            rule=rule,
            candidates=len(pool),
            meeting=len(meeting),
            chosen=figures[chosen.model],
            why=why,
            runners_up=[figures[r.model] for r in rest[:RUNNERS_UP]],
            unmet=[],
        )
    unmet = [part for part in rule_parts(rule) if all(part in figures[r.model].misses for r in pool)]
    allowed = [r for r in pool if "backends" not in figures[r.model].misses] or pool
    order = {r.model: i for i, r in enumerate(objective_order(allowed, rule.objective))}

    def worst(r: Row) -> tuple[float, int]:
        short = shortfalls(r, figures[r.model].kept, rule)
        return max(v for part, v in short.items() if part != "backends"), order[r.model]

    nearest = min(allowed, key=worst, default=None)
    if not pool:
        why = "the run has no model but the teacher"
    elif unmet:
        why = "no model meets " + " nor ".join(part_text(part, rule) for part in unmet)
    else:
        why = "each part of the rule is met by some model, but no model meets all of them"
    return Selection(
        rule=rule,
        candidates=len(pool),
        meeting=0,
        chosen=None,
        why=why,
        runners_up=[],
        unmet=unmet,
        nearest=figures[nearest.model] if nearest else None,
    )
