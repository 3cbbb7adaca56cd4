"""The report's tables in markdown: models (quality against speed) and embeddings (quality against bytes),
and the paragraph saying how speed was measured."""

from __future__ import annotations

from collections.abc import Sequence

from sentence_distill.records.benchmark import INT8_DOT_PRODUCT_LEVELS, BenchmarkFile
from sentence_distill.report.rows import Row

FAMILY_COLUMNS = (
    ("classification_kept", "classif."),
    ("clustering_kept", "cluster"),
    ("retrieval_kept", "retrieval"),
    ("families_kept_mean", "4-family mean"),
)
FAMILY_HEADER = " | ".join(name for _, name in FAMILY_COLUMNS)


def speedup_text(r) -> str:
    """``r``'s speed-up and its spread; ``r`` a ``Row`` or a ``ComparisonRow``."""
    return f"{r.speedup:.2f}x [{r.speedup_q1:.2f}-{r.speedup_q3:.2f}]"


def family_cells(shares) -> str:
    """Each other family's kept share and the four families' mean, in % of the teacher's figure; ``shares`` a
    ``VariantMetrics`` or a ``ComparisonRow``."""
    values = (getattr(shares, key) for key, _ in FAMILY_COLUMNS)
    return " | ".join("-" if value is None else f"{100 * value:.1f}%" for value in values)


def own_task_header(tasks: Sequence[str]) -> str:
    """The own tasks' columns (``evaluate.tasks``): each one's kept share, and their mean; none without tasks."""
    return "".join(f"{name} | " for name in tasks) + "own mean | " if tasks else ""


def own_task_cells(metrics, tasks: Sequence[str]) -> str:
    """Each own task's kept share (of the teacher's headline figure) and their mean, in %."""
    if not tasks:
        return ""
    own = metrics.own_tasks or {}
    shares = [own[name].kept if name in own else None for name in tasks] + [metrics.own_tasks_kept_mean]
    return "".join(("-" if value is None else f"{100 * value:.1f}%") + " | " for value in shares)


def models_table(rows: list[Row], front: set[str], tasks: Sequence[str] = ()) -> str:
    lines = [
        f"| model | dim | STSb test | vs teacher | {FAMILY_HEADER} | {own_task_header(tasks)}sentences/s "
        "| speed-up [spread] | vs own fp32 | latency p50 / p95 ms | size MB | device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * (len(tasks) + 1 if tasks else 0),
    ]
    for r in rows:
        m, speed = r.metrics, r.speed
        size = "-" if m.disk_bytes is None else f"{m.disk_bytes / 1e6:.1f}"
        own = "-" if r.fp32_model == r.model else f"{speed.speedup_vs_fp32.median:.2f}x"
        lines.append(
            f"| {r.model}{' *' if r.model in front else ''} | {m.dimension} | {100 * m.stsb_test_spearman:.2f} "
            f"| {100 * (r.stsb_test_kept - 1):+.2f}% | {family_cells(m)} | {own_task_cells(m, tasks)}"
            f"{speed.sentences_per_second.median:.0f} "
            f"| {speedup_text(r)} | {own} "
            f"| {speed.latency_ms.p50:.1f} / {speed.latency_ms.p95:.1f} | {size} | {speed.device} |"
        )
    return "\n".join(lines)


def embeddings_table(rows: list[Row], front: set[str], tasks: Sequence[str] = ()) -> str:
    lines = [
        f"| embedding | dim | precision | bytes/emb | STSb test | vs teacher | {FAMILY_HEADER} | "
        f"{own_task_header(tasks)}".rstrip(),
        "|---|---|---|---|---|---|---|---|---|---|" + "---|" * (len(tasks) + 1 if tasks else 0),
    ]
    for r in sorted(rows, key=lambda r: (r.metrics.bytes_per_embedding, -r.quality)):
        m = r.metrics
        lines.append(
            f"| {r.model}{' *' if r.model in front else ''} | {m.dimension} | {r.precision} | {m.bytes_per_embedding} "
            f"| {100 * m.stsb_test_spearman:.2f} | {100 * (r.stsb_test_kept - 1):+.2f}% | {family_cells(m)} | "
            f"{own_task_cells(m, tasks)}".rstrip()
        )
    return "\n".join(lines)


def machine_text(benchmark: BenchmarkFile) -> str:
    """What the speed figures hold for: the machine, its int8 instructions, the threads and the code."""
    env = benchmark.environment
    device = f"{env.device} ({env.gpu})" if env.gpu else env.device
    return (
        f"Speed measured on: **{env.cpu}** ({env.cores} cores), int8 instructions **{env.int8_isa}**, "
        f"**{env.threads} threads** (torch, ONNX Runtime and OpenVINO alike), device {device}, "
        f"commit `{str(env.git_commit)[:7]}`."
    )


def method_text(benchmark: BenchmarkFile) -> str:
    method = benchmark.method
    return (
        f"Speed: `metrics/benchmark.json`, every model timed in one process in {method.rounds} interleaved rounds "
        f"(order shuffled each round) on {method.sentences} sentences (half STSb test, half held-out corpus) at batch "
        f"{method.batch_size}, each timing at least {method.min_seconds:g} s of encodes in a row, and "
        f"{method.latency_queries} single sentences per round for latency. A speed-up is the median over rounds "
        "of the teacher's time over the model's time in the same round; [q1-q3] is its spread, and two models whose "
        "spreads overlap are not told apart."
    )


def int8_note(benchmark: BenchmarkFile) -> str:
    """Which CPUs the int8 rows' speed-ups hold for: an int8 model's gain depends on the CPU's int8 instructions."""
    isa = benchmark.environment.int8_isa
    if isa in INT8_DOT_PRODUCT_LEVELS:
        return f"int8 rows: measured with {isa} (int8 dot products); CPUs with AVX2 only get far less from int8."
    return f"int8 rows: measured with {isa}, without int8 dot products (VNNI, AMX); CPUs that have them get more."
