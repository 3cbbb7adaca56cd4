"""Trade-off report: quality from the evaluate stages, speed from the benchmark stage, in one table.

Reads ``metrics/eval/<name>.json`` of the teacher and of each student and PCA dimension in params,
and ``metrics/benchmark.json``. Two trade-offs, two charts:

- model compression (fewer layers, int8 runtimes) buys speed: quality against speed-up over the teacher,
  ``reports/models.png`` / ``reports/models.json``;
- embedding compression (PCA dimensions, int8/uint8/binary embeddings) buys storage and search cost,
  not encoding speed: quality against bytes per embedding, ``reports/embeddings.png`` / ``.json``.

Quality is STSb test Spearman, or with ``report.rank_on: average`` the mean of the four task
families' shares of the teacher's figure (STSb, classification, clustering, retrieval); the tables
show every family either way.

Speed-ups are medians over the benchmark's rounds with their quartiles as the spread; two models
whose spreads overlap are not told apart (neither is "faster"). Writes ``reports/report.md`` and
``metrics/summary.json`` (Pareto fronts, the best student, the fastest model within one point of
the teacher, and sanity warnings).

With ``report.compare_with_reference: true`` the report ends with a section setting our fp32 models
beside the published figures of sentence-transformers' distillation example
(``sentence_distill/report/reference_figures.py``), each matched by what it is, and ``metrics/summary.json`` holds the
same rows under ``reference_comparison``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

from sentence_distill.report import reference_figures as reference
from sentence_distill.cli import configure_logging
from sentence_distill.fileio import atomic_path, write_json
from sentence_distill.config.params import Params, load_params
from sentence_distill.paths import BENCHMARK_FILE, EVAL_DIR, FP32, TEACHER, eval_file, truncated_label, variant_label

log = logging.getLogger(__name__)

REPORT_DIR = Path("reports")
SUMMARY_FILE = Path("metrics/summary.json")
EMBEDDING_MARK = "-emb-"
ONE_POINT = 0.01  # one point of STSb Spearman x100, or of the mean kept share in %
QUALITY = {  # report.rank_on -> the figure that ranks models, and its name on the charts (x100)
    "stsb": ("stsb_test_spearman", "STSb test Spearman x100"),
    "average": ("families_kept_mean", "mean kept share of the four task families, %"),
}
FAMILY_COLUMNS = (("classification_kept", "classif."), ("clustering_kept", "cluster"), ("retrieval_kept", "retrieval"),
                  ("families_kept_mean", "4-family mean"))


def collect_rows(params: Params | None = None, eval_dir: Path = EVAL_DIR, benchmark_file: Path = BENCHMARK_FILE) -> list[dict]:
    """Every variant of the students and PCA dimensions in params, its quality joined with its speed.

    A row is a model (``kind: model``, with the benchmark's figures) or an embedding precision of
    one (``kind: embedding``, label ``<model>-emb-<precision>``, no speed of its own). A Matryoshka
    student's cut to k dimensions (``<student>-mrl<k>``) is a model row with the speed of the model it
    cuts (its ``runs_as``): the cut is a slice of that model's output.
    """
    params = params or load_params()
    quality_key = QUALITY[params.report.rank_on][0]
    files = [eval_dir / f"{TEACHER}.json"] + [eval_file(n, d, eval_dir) for n in params.students for d in [None, *params.pca_dims_for(n)]]
    for file in [*files, benchmark_file]:
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: run the pipeline (dvc repro) before the report")
    speeds = json.loads(benchmark_file.read_text())["models"]
    teacher_score = json.loads(files[0].read_text())["variants"][TEACHER]["stsb_test_spearman"]
    rows = []
    for file in files:
        for label, metrics in json.loads(file.read_text())["variants"].items():
            if quality_key not in metrics:
                raise KeyError(f"{file} has no {quality_key} for {label}: rerun the evaluate stages (dvc repro)")
            row = {"model": label, **metrics, "stsb_test_kept": metrics["stsb_test_spearman"] / teacher_score,
                   "quality": metrics[quality_key]}
            if EMBEDDING_MARK in label:
                row.update(kind="embedding", base=label.split(EMBEDDING_MARK)[0], precision=label.split(EMBEDDING_MARK)[1])
            else:
                timed = metrics.get("runs_as", label)  # a Matryoshka cut runs as its model: that model's speed
                if timed not in speeds:
                    raise KeyError(f"{benchmark_file} has no figures for {timed}: rerun the benchmark stage (dvc repro)")
                row.update(kind="model", base=label, precision="float32",
                           **{**speed_fields(speeds[timed]), "fp32_model": metrics.get("fp32_model", speeds[timed]["fp32_model"])})
            rows.append(row)
    return rows


def speed_fields(bench: dict) -> dict:
    return {
        "sentences_per_second": bench["sentences_per_second"]["median"],
        "speedup": bench["speedup_vs_teacher"]["median"],
        "speedup_q1": bench["speedup_vs_teacher"]["q1"],
        "speedup_q3": bench["speedup_vs_teacher"]["q3"],
        "speedup_vs_fp32": bench["speedup_vs_fp32"]["median"],
        "fp32_model": bench["fp32_model"],
        "latency_p50_ms": bench["latency_ms"]["p50"],
        "latency_p95_ms": bench["latency_ms"]["p95"],
        "device": bench["device"],
    }


def faster(a: dict, b: dict) -> bool:
    """``a`` is faster than ``b`` beyond the measured spread: their quartile ranges do not overlap."""
    return a["speedup_q1"] > b["speedup_q3"]


def model_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["kind"] == "model"]


def embedding_rows(rows: list[dict]) -> list[dict]:
    """Every embedding a user could store: each fp32 model's float32 output and its quantized precisions."""
    return [r for r in rows if r["kind"] == "embedding" or (r["kind"] == "model" and r["fp32_model"] == r["model"])]


def beats(a: dict, b: dict, quality: str = "quality") -> bool:
    """``a`` is at least as good as ``b`` in ``quality``, not slower, and better on one of them.

    Speed counts as better only beyond the spread, so a model whose speed-up is inside another's
    spread is beaten by it on quality alone.
    """
    at_least = a[quality] >= b[quality] and not faster(b, a)
    return at_least and (a[quality] > b[quality] or faster(a, b))


def pareto_front(rows: list[dict]) -> set[str]:
    """Models that no other model beats (``beats``) on quality and speed."""
    return {r["model"] for r in rows if not any(beats(o, r) for o in rows if o is not r)}


def storage_front(rows: list[dict]) -> set[str]:
    """Embeddings that no other embedding beats in quality at no more bytes per embedding."""

    def beats_in_storage(o: dict, r: dict) -> bool:
        at_least = o["quality"] >= r["quality"] and o["bytes_per_embedding"] <= r["bytes_per_embedding"]
        return at_least and (o["quality"], -o["bytes_per_embedding"]) != (r["quality"], -r["bytes_per_embedding"])

    return {r["model"] for r in rows if not any(beats_in_storage(o, r) for o in rows if o is not r)}


def best_student(rows: list[dict]) -> dict | None:
    """The model of the highest quality that is not the teacher (embedding precisions are not models)."""
    students = [r for r in model_rows(rows) if r["model"] != TEACHER]
    return max(students, key=lambda r: r["quality"], default=None)


def fastest_within_one_point(rows: list[dict]) -> dict | None:
    """The fastest model other than the teacher whose quality is at most one point below the teacher's."""
    teacher = next(r for r in rows if r["model"] == TEACHER)
    close = [
        r for r in model_rows(rows)
        if r["model"] != TEACHER and teacher["quality"] - r["quality"] <= ONE_POINT + 1e-9
    ]
    return max(close, key=lambda r: r["speedup"], default=None)


def sanity_warnings(rows: list[dict], benchmark: dict) -> list[str]:
    """A model with fewer layers of the same architecture must not be slower than one with more."""
    by_label = {r["model"]: r for r in model_rows(rows)}
    shapes = {label: m["architecture"] for label, m in benchmark["models"].items() if "architecture" in m and label in by_label}
    warnings = []
    for small, small_shape in shapes.items():
        for large, large_shape in shapes.items():
            same_kind = {k: v for k, v in small_shape.items() if k != "layers"} == {k: v for k, v in large_shape.items() if k != "layers"}
            if same_kind and small_shape["layers"] < large_shape["layers"] and faster(by_label[large], by_label[small]):
                warnings.append(
                    f"{small} ({small_shape['layers']} layers) measured slower than {large} ({large_shape['layers']} layers) "
                    f"beyond the spread: {by_label[small]['speedup']:.2f}x against {by_label[large]['speedup']:.2f}x"
                )
    return warnings


def speedup_text(r: dict) -> str:
    return f"{r['speedup']:.2f}x [{r['speedup_q1']:.2f}-{r['speedup_q3']:.2f}]"


def family_cells(r: dict) -> str:
    """Each other family's kept share and the four families' mean, in % of the teacher's figure."""
    return " | ".join(f"{100 * r[key]:.1f}%" if key in r else "-" for key, _ in FAMILY_COLUMNS)


FAMILY_HEADER = " | ".join(name for _, name in FAMILY_COLUMNS)


def models_table(rows: list[dict], front: set[str]) -> str:
    lines = [
        f"| model | dim | STSb test | vs teacher | {FAMILY_HEADER} | sentences/s | speed-up [spread] | vs own fp32 "
        "| latency p50 / p95 ms | size MB | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        size = f"{r['disk_bytes'] / 1e6:.1f}" if "disk_bytes" in r else "-"
        own = "-" if r["fp32_model"] == r["model"] else f"{r['speedup_vs_fp32']:.2f}x"
        lines.append(
            f"| {r['model']}{' *' if r['model'] in front else ''} | {r['dimension']} | {100 * r['stsb_test_spearman']:.2f} "
            f"| {100 * (r['stsb_test_kept'] - 1):+.2f}% | {family_cells(r)} | {r['sentences_per_second']:.0f} | {speedup_text(r)} | {own} "
            f"| {r['latency_p50_ms']:.1f} / {r['latency_p95_ms']:.1f} | {size} | {r['device']} |"
        )
    return "\n".join(lines)


def embeddings_table(rows: list[dict], front: set[str]) -> str:
    lines = [f"| embedding | dim | precision | bytes/emb | STSb test | vs teacher | {FAMILY_HEADER} |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["bytes_per_embedding"], -r["quality"])):
        lines.append(
            f"| {r['model']}{' *' if r['model'] in front else ''} | {r['dimension']} | {r['precision']} | {r['bytes_per_embedding']} "
            f"| {100 * r['stsb_test_spearman']:.2f} | {100 * (r['stsb_test_kept'] - 1):+.2f}% | {family_cells(r)} |"
        )
    return "\n".join(lines)


KIND_ORDER = {"teacher": 0, "teacher_copy": 1, "pruned": 1, "untrained": 1, "teacher_pca": 2, "option1": 3, "static": 4}


def reference_comparison(rows: list[dict], params: Params, benchmark: dict) -> dict:
    """Our fp32 models beside the reference's figures (``sentence_distill/report/reference_figures.py``), each matched by what it is.

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
    models = {r["model"]: r for r in model_rows(rows)}

    def layers(label: str) -> int:
        shape = benchmark["models"].get(label, {}).get("architecture")
        if shape is None:
            raise KeyError(f"metrics/benchmark.json has no architecture for {label}: rerun the benchmark stage (dvc repro)")
        return shape["layers"]

    teacher_layers, teacher_dim = layers(TEACHER), models[TEACHER]["dimension"]
    same_shape = (teacher_layers, teacher_dim) == (reference.TEACHER_LAYERS, reference.TEACHER_DIMENSION)
    ref_teacher = reference.LAYERS[reference.TEACHER_LAYERS].stsb, 1.0
    found = [comparison_row(models[TEACHER], "teacher", "teacher", teacher_layers, *ref_teacher)]
    for name, spec in params.students.items():
        count = layers(name)
        if spec.static:
            found.append(comparison_row(models[name], "static", "static embeddings of the teacher's vocabulary, "
                                        + ("refined" if spec.train else "not refined"), count))
        elif spec.model is not None:
            trained = "distilled" if spec.train else "not trained"
            found.append(comparison_row(models[name], "option1", f"option 1: {spec.model}, {trained}", count))
        elif spec.train:
            matched = same_shape and count < teacher_layers and count in reference.LAYERS
            ref = (reference.LAYERS[count].stsb, reference.speedup(count)) if matched else ()
            found.append(comparison_row(models[name], "pruned", f"{count} of the teacher's layers, distilled", count, *ref))
        elif count == teacher_layers:
            found.append(comparison_row(models[name], "teacher_copy", "the teacher's layers, not trained", count,
                                        *(ref_teacher if same_shape else ())))
            for dim in params.pca_dims_for(name):
                ref = (reference.PCA_STSB[dim],) if same_shape and dim in reference.PCA_STSB else ()
                found.append(comparison_row(models[variant_label(name, FP32, dim)], "teacher_pca",
                                            f"the teacher + PCA {teacher_dim}->{dim}", count, *ref))
        else:
            found.append(comparison_row(models[name], "untrained", f"{count} of the teacher's layers, not trained", count))
    found.sort(key=lambda r: (KIND_ORDER[r["kind"]], -r["layers"], -r["dimension"]))
    return {
        "source": reference.URL,
        "reference_teacher": reference.TEACHER_MODEL,
        "reference_speed_device": reference.SPEED_DEVICE,
        "teacher": params.teacher.model,
        "teacher_layers": teacher_layers,
        "teacher_dimension": teacher_dim,
        "students_matched": same_shape,
        "rows": found,
        "option1": [option1_finding(o, [r for r in found if r["kind"] == "pruned"]) for o in found if o["kind"] == "option1"],
    }


def comparison_row(r: dict, kind: str, what: str, layers: int, reference_stsb: float | None = None,
                   reference_speedup: float | None = None) -> dict:
    """One row of the comparison: the reference's STSb (x100) and speed-up, if matched, and ours from ``r``."""
    return {
        "model": r["model"], "kind": kind, "what": what, "layers": layers, "dimension": r["dimension"],
        "reference_stsb": reference_stsb,
        "reference_stsb_kept": None if reference_stsb is None else reference.kept(reference_stsb),
        "reference_speedup": reference_speedup,
        "stsb": 100 * r["stsb_test_spearman"], "stsb_test_kept": r["stsb_test_kept"],
        **{key: r[key] for key in ("speedup", "speedup_q1", "speedup_q3", "device")},
        **{key: r[key] for key, _ in FAMILY_COLUMNS if key in r},
    }


def option1_finding(option1: dict, pruned: list[dict]) -> dict:
    """The reference's claim (option 2, pruned, beats option 1) on our figures: the option-1 student against the
    pruned students whose speed-up spreads overlap its own, or else the one nearest in median speed-up."""
    same_speed = [p for p in pruned if not faster(p, option1) and not faster(option1, p)]
    closest = same_speed or sorted(pruned, key=lambda p: abs(math.log(p["speedup"] / option1["speedup"])))[:1]
    verdicts = {claim_verdict(p, option1) for p in closest}
    return {
        "student": option1["model"], "closest_pruned": [p["model"] for p in closest], "same_speed": bool(same_speed),
        "verdict": (verdicts.pop() if len(verdicts) == 1 else "mixed") if closest else "no pruned student",
        "pruned_curve": pruned_curve_at(option1, pruned),
    }


def pruned_curve_at(option1: dict, pruned: list[dict]) -> dict | None:
    """Where a trade-off leaves the claim open: the STSb share a pruned student would keep at the option-1
    student's median speed-up, on the straight line (in log speed-up, as the charts draw it) between the pruned
    students nearest in median speed-up below and above it; None when no pruned student is on each side."""
    slower = [p for p in pruned if p["speedup"] <= option1["speedup"]]
    quicker = [p for p in pruned if p["speedup"] > option1["speedup"]]
    if not slower or not quicker:
        return None
    low, high = max(slower, key=lambda p: p["speedup"]), min(quicker, key=lambda p: p["speedup"])
    share = math.log(option1["speedup"] / low["speedup"]) / math.log(high["speedup"] / low["speedup"])
    kept = low["stsb_test_kept"] + share * (high["stsb_test_kept"] - low["stsb_test_kept"])
    return {"between": [low["model"], high["model"]], "stsb_test_kept": kept, "option1_lead": option1["stsb_test_kept"] - kept}


def claim_verdict(pruned: dict, option1: dict) -> str:
    """``holds`` when the pruned student is at least as good on STSb and speed and better on one of them,
    ``does not hold`` when the option-1 student is, ``tie`` or ``trade-off`` otherwise."""
    if beats(pruned, option1, "stsb_test_kept"):
        return "holds"
    if beats(option1, pruned, "stsb_test_kept"):
        return "does not hold"
    return "tie" if pruned["stsb_test_kept"] == option1["stsb_test_kept"] else "trade-off"


VERDICT_TEXT = {
    "holds": "The claim holds here: the pruned student is at least as good on STSb and on speed, and better on one",
    "does not hold": "The claim does not hold here: the option-1 student is at least as good on STSb and on speed, and better on one",
    "trade-off": "Neither is better on both STSb and speed: a trade-off, which alone does not answer the claim",
    "tie": "Equal on STSb and not told apart on speed",
    "mixed": "The answer differs between those pruned students",
}


def curve_text(option1: dict, curve: dict) -> str:
    """The option-1 student against the pruned students' curve at its speed (``pruned_curve_at``), in words."""
    lead = 100 * curve["option1_lead"]
    side, answer = ("above", "does not hold") if lead > 0 else ("below", "holds")
    low, high = curve["between"]
    return (f"On the pruned students' curve (a straight line in log speed-up between {low} and {high}), a pruned student "
            f"at {option1['model']}'s {option1['speedup']:.2f}x would keep {100 * curve['stsb_test_kept']:.2f}%: "
            f"{option1['model']} lies {abs(lead):.2f} points {side} it, so on that curve the claim {answer} here.")


def kept_text(r: dict) -> str:
    return f"{r['model']} keeps {100 * r['stsb_test_kept']:.2f}% of our teacher's STSb at {speedup_text(r)}"


def reference_section(comparison: dict, benchmark: dict) -> list[str]:
    """The report's section "Side by side with the reference": what is matched to what, the table, the claim."""
    env = benchmark["environment"]
    machine = env.get("gpu") if env["device"] == "cuda" else env["cpu"]
    lines = [
        "## Side by side with the reference", "",
        f"The reference is [sentence-transformers' distillation example]({comparison['source']}): teacher "
        f"{comparison['reference_teacher']} ({reference.TEACHER_LAYERS} layers, {reference.TEACHER_DIMENSION}-d), students "
        f"keeping some of its layers, and PCA of its embeddings. Ours: teacher {comparison['teacher']} "
        f"({comparison['teacher_layers']} layers, {comparison['teacher_dimension']}-d). Each of our fp32 models is matched "
        "by what it is: the teacher to its teacher; a student keeping n of the teacher's layers (n as the benchmark found "
        "it in the model), distilled, to its n-layer student; the teacher's layers not trained, and their PCA models, to "
        "its teacher and its PCA rows; a student with its own model (the reference's option 1), or a static one, to nothing. STSb test "
        "Spearman x100, each change against its own teacher. The reference's speed-ups are its sentences/s on a "
        f"{reference.SPEED_DEVICE} over its teacher's {reference.LAYERS[reference.TEACHER_LAYERS].sentences_per_second}; "
        f"ours are this benchmark's, on {env['device']} ({machine}): the speed columns compare the shapes of the two "
        "curves, not the machines.",
    ]
    if not comparison["students_matched"]:
        lines[-1] += (f" Our teacher has {comparison['teacher_layers']} layers and {comparison['teacher_dimension']} dimensions, "
                      f"the reference's {reference.TEACHER_LAYERS} and {reference.TEACHER_DIMENSION}: only the teachers are matched.")
    lines += [
        "",
        f"| model | what | layers | dim | reference STSb | vs its teacher | our STSb | vs our teacher "
        f"| reference speed-up ({reference.SPEED_DEVICE}) | our speed-up [spread] | device | {FAMILY_HEADER} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comparison["rows"]:
        ref_stsb, ref_kept, ref_speed = r["reference_stsb"], r["reference_stsb_kept"], r["reference_speedup"]
        lines.append(
            f"| {r['model']} | {r['what']} | {r['layers']} | {r['dimension']} | {'-' if ref_stsb is None else f'{ref_stsb:.2f}'} "
            f"| {'-' if ref_kept is None else f'{100 * (ref_kept - 1):+.2f}%'} | {r['stsb']:.2f} | {100 * (r['stsb_test_kept'] - 1):+.2f}% "
            f"| {'-' if ref_speed is None else f'{ref_speed:.2f}x'} | {speedup_text(r)} | {r['device']} | {family_cells(r)} |"
        )
    claim = f'Option 1 against option 2 (the reference: "{reference.CLAIM}")'
    if not comparison["option1"]:
        return [*lines, "", f"- {claim}: no student with its own `model:` in this run, so the claim is not tested here."]
    by_label = {r["model"]: r for r in comparison["rows"]}
    lines.append("")
    for finding in comparison["option1"]:
        option1 = by_label[finding["student"]]
        text = f"- {claim}: {kept_text(option1)}"
        if finding["closest_pruned"]:
            which = "spreads overlap" if finding["same_speed"] else "the nearest median, outside the spread"
            many = len(finding["closest_pruned"]) > 1
            text += (f"; the pruned student{'s' if many else ''} closest in speed ({which}): "
                     + ", ".join(kept_text(by_label[p]) for p in finding["closest_pruned"]) + f". {VERDICT_TEXT[finding['verdict']]}.")
            if finding["verdict"] == "trade-off" and finding["pruned_curve"]:
                text += " " + curve_text(option1, finding["pruned_curve"])
        else:
            text += "; no distilled pruned student in this run to set it against."
        lines.append(text)
    return lines


def matryoshka_against_pca(rows: list[dict], params: Params) -> list[dict]:
    """Each Matryoshka student's cut to k dimensions beside the PCA to k of the same student (when ``pca.dims``
    has k): STSb test (x100) and the four families' mean kept share, and the cut's lead over the PCA."""
    by_label = {r["model"]: r for r in model_rows(rows)}
    found = []
    for name, spec in params.students.items():
        for dim in spec.matryoshka_dims:
            cut = by_label[truncated_label(name, FP32, dim)]
            pca = by_label.get(variant_label(name, FP32, dim))
            found.append({
                "student": name, "dimension": dim, "matryoshka": cut["model"], "matryoshka_stsb": 100 * cut["stsb_test_spearman"],
                "matryoshka_families_kept_mean": cut.get("families_kept_mean"),
                "pca": pca["model"] if pca else None, "pca_stsb": 100 * pca["stsb_test_spearman"] if pca else None,
                "pca_families_kept_mean": pca.get("families_kept_mean") if pca else None,
                "stsb_lead": 100 * (cut["stsb_test_spearman"] - pca["stsb_test_spearman"]) if pca else None,
            })
    return found


def matryoshka_section(found: list[dict]) -> list[str]:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    lines = [
        "## Matryoshka cuts against PCA", "",
        "A Matryoshka student (`matryoshka_dims`) is trained so that its first k output dimensions are an embedding on "
        "their own: its row `-mrl<k>` is its output cut to k and normalized, at its own speed. Beside it, the PCA to k "
        "dimensions of the same student (when `pca.dims` has k). Lead: the cut's STSb minus the PCA's, in points.", "",
        "| student | dim | cut | STSb | 4-family mean | PCA | STSb | 4-family mean | lead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in found:
        pca_stsb = "-" if f["pca_stsb"] is None else f"{f['pca_stsb']:.2f}"
        lead = "-" if f["stsb_lead"] is None else f"{f['stsb_lead']:+.2f}"
        lines.append(
            f"| {f['student']} | {f['dimension']} | {f['matryoshka']} | {f['matryoshka_stsb']:.2f} "
            f"| {share(f['matryoshka_families_kept_mean'])} | {f['pca'] or '-'} | {pca_stsb} "
            f"| {share(f['pca_families_kept_mean'])} | {lead} |"
        )
    return lines


def translation_section(models: list[dict]) -> list[str]:
    """Translation retrieval of the held-out parallel pairs by every model that has it (``prepare.parallel``)."""
    lines = [
        "## Translation retrieval (parallel data)", "",
        "The held-out pairs of `prepare.parallel`: accuracy of finding a source's own translation among all of them "
        "(and the reverse), and the mean squared difference of a source's and its translation's unit embeddings (x100). "
        "Not a share of the teacher's: a student trained on the pairs (`parallel: true`) is meant to beat it.", "",
        "| model | source to target | target to source | mean | source-target MSE x100 |", "|---|---|---|---|---|",
    ]
    for r in models:
        lines.append(
            f"| {r['model']} | {100 * r['translation_accuracy_source_to_target']:.1f}% "
            f"| {100 * r['translation_accuracy_target_to_source']:.1f}% | {100 * r['translation_accuracy']:.1f}% "
            f"| {r['translation_mse_x100']:.4f} |"
        )
    return lines


def plot(points: list[tuple[float, float, str, bool]], xlabel: str, ylabel: str, title: str, path: Path) -> list:
    """A log-x scatter with its front joined by a line and every point labelled; returns the labels' boxes.

    Labels are placed bottom-up and each one moves up until it overlaps none placed before, with a
    leader line back to its point once moved, so no two labels overlap.
    """
    import matplotlib  # here, not at the top: the flow reads the rows without paying for matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for x, y, _, on_front in points:
        ax.scatter(x, y, color="tab:red" if on_front else "tab:blue", s=18, zorder=3)
    line = sorted((x, y) for x, y, _, on_front in points if on_front)
    ax.plot([x for x, _ in line], [y for _, y in line], color="tab:red", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left")
    xs, ys = [x for x, _, _, _ in points], [y for _, y, _, _ in points]
    ax.set_xlim(min(xs) / 1.3, max(xs) * 2.5)  # room for the labels of the rightmost points
    ax.set_ylim(min(ys) - 1, max(ys) + 0.15 * (max(ys) - min(ys)) + 2)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    placed = []
    for x, y, label, _ in sorted(points, key=lambda p: (p[1], p[0])):
        text = ax.annotate(label, (x, y), xytext=(4, 2), textcoords="offset points", fontsize=7, annotation_clip=False)
        lift = 2
        box = text.get_window_extent(renderer)
        while any(box.overlaps(other) for other in placed):
            lift += 2
            text.xyann = (4, lift)
            box = text.get_window_extent(renderer)
        if lift > 2:
            ax.annotate("", (x, y), xytext=(4, lift), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5}, annotation_clip=False)
        placed.append(box)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return placed


def method_text(benchmark: dict) -> str:
    method, env = benchmark["method"], benchmark["environment"]
    return (
        f"Speed: `metrics/benchmark.json`, every model timed in one process in {method['rounds']} interleaved rounds "
        f"(order shuffled each round) on {method['sentences']} sentences (half STSb test, half held-out corpus) at batch "
        f"{method['batch_size']}, and {method['latency_queries']} single sentences per round for latency; "
        f"{env['threads']} threads for torch, ONNX Runtime and OpenVINO alike; device {env['device']}; "
        f"{env['cpu']} ({env['cores']} cores), commit {str(env['git_commit'])[:7]}. A speed-up is the median over rounds "
        "of the teacher's time over the model's time in the same round; [q1-q3] is its spread, and two models whose "
        "spreads overlap are not told apart."
    )


def build_report(report_dir: Path = REPORT_DIR, eval_dir: Path = EVAL_DIR, benchmark_file: Path = BENCHMARK_FILE,
                 summary_file: Path = SUMMARY_FILE, params: Params | None = None) -> str:
    params = params or load_params()
    rows = collect_rows(params, eval_dir=eval_dir, benchmark_file=benchmark_file)
    quality_name = QUALITY[params.report.rank_on][1]
    benchmark = json.loads(benchmark_file.read_text())
    models, embeddings = model_rows(rows), embedding_rows(rows)
    model_front, storage = pareto_front(models), storage_front(embeddings)
    best, fastest, warnings = best_student(rows), fastest_within_one_point(rows), sanity_warnings(rows, benchmark)
    lines = [
        "# Distillation trade-offs", "",
        "STSb test Spearman (cosine) x100. The other task families (few-shot topic classification accuracy of the "
        "evaluation BBC articles, their k-means V-measure, nDCG@10 of STSb test paraphrase retrieval) and their mean "
        "with STSb are shares of the teacher's figure. " + method_text(benchmark), "",
        "## Model compression: quality against speed", "", f"`*` marks the Pareto front ({quality_name} against speed-up).", "",
        models_table(models, model_front), "",
        "## Embedding compression: quality against bytes per embedding", "",
        "PCA and embedding precisions change what is stored and searched, not how fast a model encodes. "
        f"`*` marks the front of {quality_name} against bytes per embedding.", "",
        embeddings_table(embeddings, storage), "",
        "## Summary", "",
        f"- Best student (highest {quality_name} of any model but the teacher): {best['model'] if best else '-'}"
        + (f", STSb {100 * best['stsb_test_spearman']:.2f} ({100 * best['stsb_test_kept']:.2f}% of the teacher)" if best else "")
        + (f", four families {100 * best['families_kept_mean']:.2f}% of the teacher" if best and "families_kept_mean" in best else ""),
        f"- Fastest model within one point of the teacher: {fastest['model'] if fastest else 'none'}"
        + (f", {speedup_text(fastest)} at {quality_name} {100 * fastest['quality']:.2f}" if fastest else ""),
    ]
    lines += [f"- Sanity: {w}" for w in warnings] or ["- Sanity: no model with fewer layers measured slower than one with more."]
    static = [name for name, spec in params.students.items() if spec.static]
    if static and params.quantize.backends:
        lines.append(f"- No int8 models of {', '.join(static)}: a static-embedding model has no matrix multiplication to "
                     "quantize; its embedding precisions apply as to every model.")
    not_quantized = [name for name, spec in params.students.items() if not spec.static and not spec.quantize]
    if not_quantized and params.quantize.backends:
        lines.append(f"- No int8 models of {', '.join(not_quantized)}: their `quantize` is false (`params.yaml`).")
    no_pca = [name for name, spec in params.students.items() if not spec.pca]
    if no_pca and params.pca.dims:
        lines.append(f"- No PCA models of {', '.join(no_pca)}: their `pca` is false (`params.yaml`).")
    matryoshka = matryoshka_against_pca(rows, params)
    if matryoshka:
        lines += ["", *matryoshka_section(matryoshka)]
    translated = [r for r in models if "translation_accuracy" in r]
    if translated:
        lines += ["", *translation_section(translated)]
    comparison = reference_comparison(rows, params, benchmark) if params.report.compare_with_reference else None
    if comparison is not None:
        lines += ["", *reference_section(comparison, benchmark)]
    text = "\n".join(lines) + "\n"
    with atomic_path(report_dir / "report.md") as tmp:
        tmp.write_text(text)
    write_json(report_dir / "models.json", [
        {"model": r["model"], "speedup": r["speedup"], "stsb": 100 * r["stsb_test_spearman"],
         "families_kept_mean": 100 * r["families_kept_mean"] if "families_kept_mean" in r else None, "pareto": r["model"] in model_front}
        for r in models
    ])
    write_json(report_dir / "embeddings.json", [
        {"model": r["model"], "bytes_per_embedding": r["bytes_per_embedding"], "stsb": 100 * r["stsb_test_spearman"],
         "families_kept_mean": 100 * r["families_kept_mean"] if "families_kept_mean" in r else None, "pareto": r["model"] in storage}
        for r in embeddings
    ])
    plot([(r["speedup"], 100 * r["quality"], r["model"], r["model"] in model_front) for r in models],
         "speed-up over the teacher (log scale; benchmark stage)", quality_name, "Model compression", report_dir / "models.png")
    plot([(r["bytes_per_embedding"], 100 * r["quality"], r["model"], r["model"] in storage) for r in embeddings],
         "bytes per embedding (log scale)", quality_name, "Embedding compression", report_dir / "embeddings.png")
    summary = {
        "models": len(models),
        "embeddings": len(embeddings),
        "pareto_front": sorted(model_front),
        "storage_front": sorted(storage),
        "rank_on": params.report.rank_on,
        "best_student": best["model"] if best else None,
        "fastest_within_one_point": fastest["model"] if fastest else None,
        "sanity_warnings": warnings,
    }
    if matryoshka:
        summary["matryoshka_against_pca"] = matryoshka
    if translated:
        summary["translation_accuracy"] = {r["model"]: r["translation_accuracy"] for r in translated}
    if comparison is not None:
        summary["reference_comparison"] = comparison
    write_json(summary_file, summary)
    log.info("report written to %s", report_dir / "report.md")
    return text


def main(argv: list[str] | None = None) -> int:
    print(build_report())
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
