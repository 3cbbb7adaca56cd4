"""The report's rows: every variant of the run, its quality (``metrics/eval``) joined with its speed
(``metrics/benchmark.json``), and what is read off them: the Pareto fronts, the best student, the
fastest model within one point of the teacher, and the sanity check on layer counts.

Speed-ups are medians over the benchmark's rounds with their quartiles as the spread; two models
whose spreads overlap are not told apart (neither is "faster").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from sentence_distill.config.load import load_params
from sentence_distill.config.schema import OWN_TASKS_MEAN, Params
from sentence_distill.paths import BENCHMARK_FILE, EVAL_DIR, TEACHER, eval_file
from sentence_distill.records.benchmark import BenchmarkFile, ModelSpeed
from sentence_distill.records.evaluation import EvaluationFile, VariantMetrics

EMBEDDING_MARK = "-emb-"
ONE_POINT = 0.01  # one point of STSb Spearman x100, or of the mean kept share in %
QUALITY = {  # select.rank_on -> the VariantMetrics field that ranks models, its name on the charts (x100), in words
    "stsb": ("stsb_test_spearman", "STSb test Spearman x100", "STSb test Spearman"),
    "average": (
        "families_kept_mean",
        "mean kept share of the four task families, %",
        "mean of the four task families' kept shares",
    ),
}


def ranked_figure(metrics: VariantMetrics, rank_on: str) -> float | None:
    """The figure ``rank_on`` (``select.rank_on``) ranks a variant on: ``stsb``, ``average``, ``own`` (the mean of
    the own tasks' kept shares) or an own task's name (its headline figure); None when the variant has none."""
    if rank_on in QUALITY:
        return getattr(metrics, QUALITY[rank_on][0])
    if rank_on == OWN_TASKS_MEAN:
        return metrics.own_tasks_kept_mean
    task = (metrics.own_tasks or {}).get(rank_on)
    return None if task is None else task.figures[task.headline]


def ranked_name(rank_on: str, *, in_words: bool = False) -> str:
    """What ``rank_on`` is called: on the charts' axis (its unit said), or in a sentence."""
    if rank_on in QUALITY:
        return QUALITY[rank_on][2 if in_words else 1]
    if rank_on == OWN_TASKS_MEAN:
        return "mean of your own tasks' kept shares" if in_words else "mean kept share of your own tasks, %"
    return f"your task {rank_on}'s headline figure" if in_words else f"{rank_on} headline figure x100"


@dataclass(frozen=True)
class Row:
    """A model (``kind`` model, with the benchmark's figures) or an embedding precision of one (``kind``
    embedding, label ``<model>-emb-<precision>``, no speed of its own)."""

    model: str
    metrics: VariantMetrics
    stsb_test_kept: float  # STSb test over the teacher's
    quality: float  # the figure ``select.rank_on`` ranks on
    kind: str
    base: str  # the model an embedding precision is of (a model: itself)
    precision: str
    speed: ModelSpeed | None = None  # a model's (a Matryoshka cut: the model it runs as)
    fp32_model: str | None = None  # a model's fp32 model (an fp32 model: itself)

    @property
    def speedup(self) -> float:
        return self.speed.speedup_vs_teacher.median

    @property
    def speedup_q1(self) -> float:
        return self.speed.speedup_vs_teacher.q1

    @property
    def speedup_q3(self) -> float:
        return self.speed.speedup_vs_teacher.q3

    def table_fields(self) -> dict[str, Any]:
        """The row as one flat table row: the figures of its evaluation, then its speed's (the Prefect UI's table)."""
        fields = {
            "model": self.model,
            **dict(sorted(self.metrics.to_dict().items())),
            "stsb_test_kept": self.stsb_test_kept,
            "quality": self.quality,
            "kind": self.kind,
            "base": self.base,
            "precision": self.precision,
        }
        if self.speed is not None:
            fields.update(
                sentences_per_second=self.speed.sentences_per_second.median,
                speedup=self.speedup,
                speedup_q1=self.speedup_q1,
                speedup_q3=self.speedup_q3,
                speedup_vs_fp32=self.speed.speedup_vs_fp32.median,
                fp32_model=self.fp32_model,
                latency_p50_ms=self.speed.latency_ms.p50,
                latency_p95_ms=self.speed.latency_ms.p95,
                device=self.speed.device,
            )
        return fields


def collect_rows(
    params: Params | None = None, eval_dir: Path = EVAL_DIR, benchmark_file: Path = BENCHMARK_FILE
) -> list[Row]:
    """Every variant of the students and PCA dimensions in params, its quality joined with its speed.

    A Matryoshka student's cut to k dimensions (``<student>-mrl<k>``) is a model row with the speed of
    the model it cuts (its ``runs_as``): the cut is a slice of that model's output.
    """
    params = params or load_params(check_inputs=False)
    files = [eval_dir / f"{TEACHER}.json"] + [
        eval_file(n, d, eval_dir) for n in params.students for d in [None, *params.pca_dims_for(n)]
    ]
    for file in [*files, benchmark_file]:
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: run the pipeline (dvc repro) before the report")
    speeds = BenchmarkFile.read(benchmark_file).models
    teacher_score = EvaluationFile.read(files[0]).variants[TEACHER].stsb_test_spearman
    rows = []
    for file in files:
        for label, metrics in EvaluationFile.read(file).variants.items():
            quality = ranked_figure(metrics, params.select.rank_on)
            if quality is None:
                figure = ranked_name(params.select.rank_on)
                raise KeyError(f"{file} has no {figure} for {label}: rerun the evaluate stages (dvc repro)")
            kept = metrics.stsb_test_spearman / teacher_score
            if EMBEDDING_MARK in label:
                base, precision = label.split(EMBEDDING_MARK)[0], label.split(EMBEDDING_MARK)[1]
                rows.append(Row(label, metrics, kept, quality, kind="embedding", base=base, precision=precision))
                continue
            timed = metrics.runs_as or label  # a Matryoshka cut runs as its model: that model's speed
            if timed not in speeds:
                raise KeyError(f"{benchmark_file} has no figures for {timed}: rerun the benchmark stage (dvc repro)")
            rows.append(
                Row(
                    label,
                    metrics,
                    kept,
                    quality,
                    kind="model",
                    base=label,
                    precision="float32",
                    speed=speeds[timed],
                    fp32_model=metrics.fp32_model or speeds[timed].fp32_model,
                )
            )
    return rows


def own_tasks_kept(rows: list[Row]) -> dict[str, dict[str, float | None]]:
    """Each row's share of the teacher's headline figure on each own task (``evaluate.tasks``), and their mean
    (``own``): what ``metrics/summary.json`` holds of them."""
    return {
        r.model: {
            **{name: task.kept for name, task in (r.metrics.own_tasks or {}).items()},
            OWN_TASKS_MEAN: r.metrics.own_tasks_kept_mean,
        }
        for r in rows
    }


def faster(a: Row, b: Row) -> bool:
    """``a`` is faster than ``b`` beyond the measured spread: their quartile ranges do not overlap."""
    return a.speedup_q1 > b.speedup_q3


def model_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.kind == "model"]


def embedding_rows(rows: list[Row]) -> list[Row]:
    """Every embedding a user could store: each fp32 model's float32 output and its quantized precisions."""
    return [r for r in rows if r.kind == "embedding" or (r.kind == "model" and r.fp32_model == r.model)]


def beats(a: Row, b: Row, quality: Callable[[Row], float] = attrgetter("quality")) -> bool:
    """``a`` is at least as good as ``b`` in ``quality``, not slower, and better on one of them.

    Speed counts as better only beyond the spread, so a model whose speed-up is inside another's
    spread is beaten by it on quality alone.
    """
    at_least = quality(a) >= quality(b) and not faster(b, a)
    return at_least and (quality(a) > quality(b) or faster(a, b))


def pareto_front(rows: list[Row]) -> set[str]:
    """Models that no other model beats (``beats``) on quality and speed."""
    return {r.model for r in rows if not any(beats(o, r) for o in rows if o is not r)}


def storage_front(rows: list[Row]) -> set[str]:
    """Embeddings that no other embedding beats in quality at no more bytes per embedding."""

    def beats_in_storage(o: Row, r: Row) -> bool:
        o_bytes, r_bytes = o.metrics.bytes_per_embedding, r.metrics.bytes_per_embedding
        at_least = o.quality >= r.quality and o_bytes <= r_bytes
        return at_least and (o.quality, -o_bytes) != (r.quality, -r_bytes)

    return {r.model for r in rows if not any(beats_in_storage(o, r) for o in rows if o is not r)}


def best_student(rows: list[Row]) -> Row | None:
    """The model of the highest quality that is not the teacher (embedding precisions are not models)."""
    students = [r for r in model_rows(rows) if r.model != TEACHER]
    return max(students, key=attrgetter("quality"), default=None)


def fastest_within_one_point(rows: list[Row]) -> Row | None:
    """The fastest model other than the teacher whose quality is at most one point below the teacher's."""
    teacher = next(r for r in rows if r.model == TEACHER)
    close = [r for r in model_rows(rows) if r.model != TEACHER and teacher.quality - r.quality <= ONE_POINT + 1e-9]
    return max(close, key=attrgetter("speedup"), default=None)


def sanity_warnings(rows: list[Row], benchmark: BenchmarkFile) -> list[str]:
    """A model with fewer layers of the same architecture must not be slower than one with more."""
    by_label = {r.model: r for r in model_rows(rows)}
    shapes = {
        label: m.architecture
        for label, m in benchmark.models.items()
        if m.architecture is not None and label in by_label
    }
    warnings = []
    for small, small_shape in shapes.items():
        for large, large_shape in shapes.items():
            same_kind = (small_shape.model_type, small_shape.hidden_size) == (
                large_shape.model_type,
                large_shape.hidden_size,
            )
            if same_kind and small_shape.layers < large_shape.layers and faster(by_label[large], by_label[small]):
                warnings.append(
                    f"{small} ({small_shape.layers} layers) measured slower than {large} ({large_shape.layers} layers) "
                    f"beyond the spread: {by_label[small].speedup:.2f}x against {by_label[large].speedup:.2f}x"
                )
    return warnings
