"""The report's first section: the model the selection rule picked (``metrics/selected.json``) and why, or what
no model met and the nearest one. The Prefect run's ``distill-selected`` artifact shows the same lines."""

from __future__ import annotations

from sentence_distill.records.selection import Candidate, Rule, Selection
from sentence_distill.report.rows import ranked_name
from sentence_distill.report.selection import LIMITS, part_text, rule_parts

LIMIT_NAMES = {
    "max_latency_p95_ms": "latency",
    "max_size_mb": "size",
    "max_bytes_per_embedding": "bytes per embedding",
    "backends": "backend",
}


def score_text(c: Candidate, rank_on: str) -> str:
    """The score ranked on (x100) and, when it is not a share already, the share of the teacher's it keeps."""
    share = "" if c.score == c.kept else f" ({100 * c.kept:.2f}% of the teacher's)"
    return f"{ranked_name(rank_on, in_words=True)} **{100 * c.score:.2f}**{share}"


def figures_text(c: Candidate) -> str:
    size = "size unknown" if c.size_mb is None else f"**{c.size_mb:.1f} MB** on disk"
    s = c.speedup
    return (
        f"**{s.median:.2f}x** the teacher's speed [{s.q1:.2f}-{s.q3:.2f}], {size}, **{c.bytes_per_embedding} bytes** "
        f"per embedding ({c.dimension} dimensions), latency p95 {c.latency_p95_ms:.1f} ms"
    )


def rule_text(rule: Rule) -> str:
    """The rule in words: the floor, each limit set, the limits left open, the objective."""
    parts = rule_parts(rule)
    open_limits = [LIMIT_NAMES[p] for p in (*LIMITS, "backends") if p not in parts]
    objective = (
        "the fastest (within the speed-up's measured spread, the higher score)"
        if rule.objective == "fastest"
        else "the smallest on disk"
    )
    return "; ".join(
        [
            *(part_text(p, rule) for p in parts),
            *([f"no limit on {', '.join(open_limits)}"] if open_limits else []),
            objective,
        ]
    )


def runners_up_table(runners_up: list[Candidate], rank_on: str) -> list[str]:
    score = ranked_name(rank_on, in_words=True)
    lines = [
        f"| runner-up | backend | speed-up [spread] | {score} | of the teacher's | size MB | bytes/emb "
        "| latency p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in runners_up:
        size = "-" if c.size_mb is None else f"{c.size_mb:.1f}"
        lines.append(
            f"| {c.model} | {c.backend} | {c.speedup.median:.2f}x [{c.speedup.q1:.2f}-{c.speedup.q3:.2f}] "
            f"| {100 * c.score:.2f} | {100 * c.kept:.2f}% | {size} | {c.bytes_per_embedding} | {c.latency_p95_ms:.1f} |"
        )
    return lines


def rule_line(selection: Selection) -> str:
    return (
        f"Rule (`select` in params.yaml): {rule_text(selection.rule)}. {selection.meeting} of {selection.candidates} "
        "models meet it (every student and its PCA, int8 and Matryoshka-cut models; not the teacher, not embedding "
        "precisions)."
    )


def chosen_lines(selection: Selection) -> list[str]:
    """The chosen model's figures and why it was chosen: the section's body, and the selected model's card's."""
    chosen = selection.chosen
    truncate = f", loaded with `truncate_dim={chosen.truncate_dim}`" if chosen.truncate_dim else ""
    return [
        f"**{chosen.model}** ({chosen.backend}{truncate}): {figures_text(chosen)}, "
        f"{score_text(chosen, selection.rule.rank_on)}. Shipped in `release/selected/` with its card and how to "
        "load it.",
        "",
        f"Why: {selection.why}. {rule_line(selection)}",
    ]


def answer_section(selection: Selection) -> list[str]:
    """The section's markdown lines."""
    rule, chosen = selection.rule, selection.chosen
    if chosen is not None:
        lines = [f"## Selected model: {chosen.model}", "", *chosen_lines(selection)]
        if selection.runners_up:
            lines += ["", *runners_up_table(selection.runners_up, rule.rank_on)]
        return lines
    lines = ["## Selected model: none meets the rule", "", f"No model is selected: {selection.why}.", ""]
    lines.append(rule_line(selection))
    nearest = selection.nearest
    if nearest is not None:
        lines += [
            "",
            f"Nearest (the least worst shortfall relative to its bound): **{nearest.model}** ({nearest.backend}), "
            f"{score_text(nearest, rule.rank_on)}, {figures_text(nearest)}; it misses "
            + ", ".join(part_text(p, rule) for p in nearest.misses)
            + ".",
        ]
    return [*lines, "", "`release/selected/` is not written: relax the rule, or keep the teacher."]
