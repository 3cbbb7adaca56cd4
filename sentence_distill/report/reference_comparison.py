"""The report's section "Side by side with the reference": our fp32 models beside the published figures of
sentence-transformers' distillation example (``reference_figures.py``), each matched by what it is, and the
example's claim (option 2, pruning the teacher, beats option 1, a smaller model of its own) on our figures.

Written when ``report.compare_with_reference`` is true; ``metrics/summary.json`` holds the same rows under
``reference_comparison``.
"""

from __future__ import annotations

import math
from operator import attrgetter

from sentence_distill.config.schema import Params
from sentence_distill.paths import FP32, TEACHER, variant_label
from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.summary import ComparisonRow, Option1Finding, PrunedCurve, ReferenceComparison
from sentence_distill.report import reference_figures as reference
from sentence_distill.report.rows import Row, beats, faster, model_rows
from sentence_distill.report.tables import FAMILY_HEADER, family_cells, speedup_text

KIND_ORDER = {"teacher": 0, "teacher_copy": 1, "pruned": 1, "untrained": 1, "teacher_pca": 2, "option1": 3, "static": 4}


def reference_comparison(rows: list[Row], params: Params, benchmark: BenchmarkFile) -> ReferenceComparison:
    """Our fp32 models beside the reference's figures (``reference_figures.py``), each matched by what it is.

    | our model | ``kind`` | the reference's figures |
    |---|---|---|
    | the teacher | ``teacher`` | its teacher |
    | a student keeping n of the teacher's layers, distilled | ``pruned`` | its n-layer student, if it has one |
    | the teacher's layers, not trained (``train: false``) | ``teacher_copy`` | its teacher |
    | that copy's PCA models | ``teacher_pca`` | its PCA 768 -> d, if it has that d |
    | a student with its own ``model:`` (the reference's option 1) | ``option1`` | none |
    | a static-embedding student (``static: true``) | ``static`` | none |
    | a student keeping fewer layers, not trained | ``untrained`` | none |

    A model's layer count is the one the benchmark found in it (its ``architecture``). Students are
    matched only when our teacher has the reference teacher's shape (12 layers, 768-d); the teachers
    always. Each option-1 student is set against the pruned student(s) closest in speed.
    """
    models = {r.model: r for r in model_rows(rows)}

    def layers(label: str) -> int:
        speed = benchmark.models.get(label)
        if speed is None or speed.architecture is None:
            raise KeyError(
                f"metrics/benchmark.json has no architecture for {label}: rerun the benchmark stage (dvc repro)"
            )
        return speed.architecture.layers

    teacher_layers, teacher_dim = layers(TEACHER), models[TEACHER].metrics.dimension
    same_shape = (teacher_layers, teacher_dim) == (reference.TEACHER_LAYERS, reference.TEACHER_DIMENSION)
    ref_teacher = reference.LAYERS[reference.TEACHER_LAYERS].stsb, 1.0
    found = [comparison_row(models[TEACHER], "teacher", "teacher", teacher_layers, *ref_teacher)]
    for name, spec in params.students.items():
        count = layers(name)
        if spec.static:
            found.append(
                comparison_row(
                    models[name],
                    "static",
                    "static embeddings of the teacher's vocabulary, " + ("refined" if spec.train else "not refined"),
                    count,
                )
            )
        elif spec.model is not None:
            trained = "distilled" if spec.train else "not trained"
            found.append(comparison_row(models[name], "option1", f"option 1: {spec.model}, {trained}", count))
        elif spec.train:
            matched = same_shape and count < teacher_layers and count in reference.LAYERS
            ref = (reference.LAYERS[count].stsb, reference.speedup(count)) if matched else ()
            found.append(
                comparison_row(models[name], "pruned", f"{count} of the teacher's layers, distilled", count, *ref)
            )
        elif count == teacher_layers:
            found.append(
                comparison_row(
                    models[name],
                    "teacher_copy",
                    "the teacher's layers, not trained",
                    count,
                    *(ref_teacher if same_shape else ()),
                )
            )
            for dim in params.pca_dims_for(name):
                ref = (reference.PCA_STSB[dim],) if same_shape and dim in reference.PCA_STSB else ()
                found.append(
                    comparison_row(
                        models[variant_label(name, FP32, dim)],
                        "teacher_pca",
                        f"the teacher + PCA {teacher_dim}->{dim}",
                        count,
                        *ref,
                    )
                )
        else:
            found.append(
                comparison_row(models[name], "untrained", f"{count} of the teacher's layers, not trained", count)
            )
    found.sort(key=lambda r: (KIND_ORDER[r.kind], -r.layers, -r.dimension))
    return ReferenceComparison(
        source=reference.URL,
        reference_teacher=reference.TEACHER_MODEL,
        reference_speed_device=reference.SPEED_DEVICE,
        teacher=params.teacher.model,
        teacher_layers=teacher_layers,
        teacher_dimension=teacher_dim,
        students_matched=same_shape,
        rows=found,
        option1=[option1_finding(o, [r for r in found if r.kind == "pruned"]) for o in found if o.kind == "option1"],
    )


def comparison_row(
    r: Row,
    kind: str,
    what: str,
    layers: int,
    reference_stsb: float | None = None,
    reference_speedup: float | None = None,
) -> ComparisonRow:
    """One row of the comparison: the reference's STSb (x100) and speed-up, if matched, and ours from ``r``."""
    m = r.metrics
    return ComparisonRow(
        model=r.model,
        kind=kind,
        what=what,
        layers=layers,
        dimension=m.dimension,
        reference_stsb=reference_stsb,
        reference_stsb_kept=None if reference_stsb is None else reference.kept(reference_stsb),
        reference_speedup=reference_speedup,
        stsb=100 * m.stsb_test_spearman,
        stsb_test_kept=r.stsb_test_kept,
        speedup=r.speedup,
        speedup_q1=r.speedup_q1,
        speedup_q3=r.speedup_q3,
        device=r.speed.device,
        classification_kept=m.classification_kept,
        clustering_kept=m.clustering_kept,
        retrieval_kept=m.retrieval_kept,
        families_kept_mean=m.families_kept_mean,
    )


def option1_finding(option1: ComparisonRow, pruned: list[ComparisonRow]) -> Option1Finding:
    """The reference's claim (option 2, pruned, beats option 1) on our figures: the option-1 student against the
    pruned students whose speed-up spreads overlap its own, or else the one nearest in median speed-up."""
    same_speed = [p for p in pruned if not faster(p, option1) and not faster(option1, p)]
    closest = same_speed or sorted(pruned, key=lambda p: abs(math.log(p.speedup / option1.speedup)))[:1]
    verdicts = {claim_verdict(p, option1) for p in closest}
    return Option1Finding(
        student=option1.model,
        closest_pruned=[p.model for p in closest],
        same_speed=bool(same_speed),
        verdict=(verdicts.pop() if len(verdicts) == 1 else "mixed") if closest else "no pruned student",
        pruned_curve=pruned_curve_at(option1, pruned),
    )


def pruned_curve_at(option1: ComparisonRow, pruned: list[ComparisonRow]) -> PrunedCurve | None:
    """Where a trade-off leaves the claim open: the STSb share a pruned student would keep at the option-1
    student's median speed-up, on the straight line (in log speed-up, as the charts draw it) between the pruned
    students nearest in median speed-up below and above it; None when no pruned student is on each side."""
    slower = [p for p in pruned if p.speedup <= option1.speedup]
    quicker = [p for p in pruned if p.speedup > option1.speedup]
    if not slower or not quicker:
        return None
    low, high = max(slower, key=attrgetter("speedup")), min(quicker, key=attrgetter("speedup"))
    share = math.log(option1.speedup / low.speedup) / math.log(high.speedup / low.speedup)
    kept = low.stsb_test_kept + share * (high.stsb_test_kept - low.stsb_test_kept)
    return PrunedCurve(between=[low.model, high.model], stsb_test_kept=kept, option1_lead=option1.stsb_test_kept - kept)


def claim_verdict(pruned: ComparisonRow, option1: ComparisonRow) -> str:
    """``holds`` when the pruned student is at least as good on STSb and speed and better on one of them,
    ``does not hold`` when the option-1 student is, ``tie`` or ``trade-off`` otherwise."""
    stsb_kept = attrgetter("stsb_test_kept")
    if beats(pruned, option1, stsb_kept):
        return "holds"
    if beats(option1, pruned, stsb_kept):
        return "does not hold"
    return "tie" if pruned.stsb_test_kept == option1.stsb_test_kept else "trade-off"


VERDICT_TEXT = {
    "holds": "The claim holds here: the pruned student is at least as good on STSb and on speed, and better on one",
    "does not hold": (
        "The claim does not hold here: the option-1 student is at least as good on STSb and on speed, and better on one"
    ),
    "trade-off": "Neither is better on both STSb and speed: a trade-off, which alone does not answer the claim",
    "tie": "Equal on STSb and not told apart on speed",
    "mixed": "The answer differs between those pruned students",
}


def curve_text(option1: ComparisonRow, curve: PrunedCurve) -> str:
    """The option-1 student against the pruned students' curve at its speed (``pruned_curve_at``), in words."""
    lead = 100 * curve.option1_lead
    side, answer = ("above", "does not hold") if lead > 0 else ("below", "holds")
    low, high = curve.between
    return (
        f"On the pruned students' curve (a straight line in log speed-up between {low} and {high}), a pruned student "
        f"at {option1.model}'s {option1.speedup:.2f}x would keep {100 * curve.stsb_test_kept:.2f}%: "
        f"{option1.model} lies {abs(lead):.2f} points {side} it, so on that curve the claim {answer} here."
    )


def kept_text(r: ComparisonRow) -> str:
    return f"{r.model} keeps {100 * r.stsb_test_kept:.2f}% of our teacher's STSb at {speedup_text(r)}"


def reference_section(comparison: ReferenceComparison, benchmark: BenchmarkFile) -> list[str]:
    """The report's section "Side by side with the reference": what is matched to what, the table, the claim."""
    env = benchmark.environment
    machine = env.gpu if env.device == "cuda" else env.cpu
    lines = [
        "## Side by side with the reference",
        "",
        f"The reference is [sentence-transformers' distillation example]({comparison.source}): teacher "
        f"{comparison.reference_teacher} ({reference.TEACHER_LAYERS} layers, {reference.TEACHER_DIMENSION}-d), "
        f"students keeping some of its layers, and PCA of its embeddings. Ours: teacher {comparison.teacher} "
        f"({comparison.teacher_layers} layers, {comparison.teacher_dimension}-d). Each of our fp32 models is matched "
        "by what it is: the teacher to its teacher; a student keeping n of the teacher's layers (n as the benchmark "
        "found it in the model), distilled, to its n-layer student; the teacher's layers not trained, and their PCA "
        "models, to its teacher and its PCA rows; a student with its own model (the reference's option 1), or a static "
        "one, to nothing. STSb test Spearman x100, each change against its own teacher. The reference's speed-ups are "
        f"its sentences/s on a {reference.SPEED_DEVICE} over its teacher's "
        f"{reference.LAYERS[reference.TEACHER_LAYERS].sentences_per_second}; "
        f"ours are this benchmark's, on {env.device} ({machine}): the speed columns compare the shapes of the two "
        "curves, not the machines.",
    ]
    if not comparison.students_matched:
        lines[-1] += (
            f" Our teacher has {comparison.teacher_layers} layers and {comparison.teacher_dimension} dimensions, the "
            f"reference's {reference.TEACHER_LAYERS} and {reference.TEACHER_DIMENSION}: only the teachers are matched."
        )
    lines += [
        "",
        f"| model | what | layers | dim | reference STSb | vs its teacher | our STSb | vs our teacher "
        f"| reference speed-up ({reference.SPEED_DEVICE}) | our speed-up [spread] | device | {FAMILY_HEADER} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comparison.rows:
        ref_stsb = "-" if r.reference_stsb is None else f"{r.reference_stsb:.2f}"
        ref_kept = "-" if r.reference_stsb_kept is None else f"{100 * (r.reference_stsb_kept - 1):+.2f}%"
        ref_speed = "-" if r.reference_speedup is None else f"{r.reference_speedup:.2f}x"
        lines.append(
            f"| {r.model} | {r.what} | {r.layers} | {r.dimension} | {ref_stsb} | {ref_kept} | {r.stsb:.2f} "
            f"| {100 * (r.stsb_test_kept - 1):+.2f}% | {ref_speed} | {speedup_text(r)} | {r.device} "
            f"| {family_cells(r)} |"
        )
    claim = f'Option 1 against option 2 (the reference: "{reference.CLAIM}")'
    if not comparison.option1:
        return [
            *lines,
            "",
            f"- {claim}: no student with its own `model:` in this run, so the claim is not tested here.",
        ]
    by_label = {r.model: r for r in comparison.rows}
    lines.append("")
    for finding in comparison.option1:
        option1 = by_label[finding.student]
        text = f"- {claim}: {kept_text(option1)}"
        if finding.closest_pruned:
            which = "spreads overlap" if finding.same_speed else "the nearest median, outside the spread"
            many = len(finding.closest_pruned) > 1
            text += (
                f"; the pruned student{'s' if many else ''} closest in speed ({which}): "
                + ", ".join(kept_text(by_label[p]) for p in finding.closest_pruned)
                + f". {VERDICT_TEXT[finding.verdict]}."
            )
            if finding.verdict == "trade-off" and finding.pruned_curve:
                text += " " + curve_text(option1, finding.pruned_curve)
        else:
            text += "; no distilled pruned student in this run to set it against."
        lines.append(text)
    return lines
