"""A model's own figures for its card: every task family's evaluation, as a table and as ``model-index``
results, and its speed with the machine it was measured on."""

from __future__ import annotations

from huggingface_hub import EvalResult

from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.evaluation import VariantMetrics
from sentence_distill.release.stale import StaleFigures

FIGURES = (  # (eval key, what it measures, family): every task family the evaluate stage writes
    ("stsb_test_spearman", "STSb test Spearman (cosine)", "Semantic similarity"),
    ("stsb_test_kept", "STSb test Spearman / teacher's", "Semantic similarity"),
    ("classification_accuracy", "Few-shot topic classification accuracy (BBC articles)", "Classification"),
    ("classification_kept", "Classification accuracy / teacher's", "Classification"),
    ("clustering_v_measure", "k-means V-measure (BBC articles)", "Clustering"),
    ("clustering_kept", "V-measure / teacher's", "Clustering"),
    ("retrieval_ndcg_at_10", "nDCG@10, STSb test paraphrase retrieval", "Retrieval"),
    ("retrieval_mrr_at_10", "MRR@10, STSb test paraphrase retrieval", "Retrieval"),
    ("retrieval_kept", "nDCG@10 / teacher's", "Retrieval"),
    ("families_kept_mean", "Mean of the four families' shares of the teacher", "All task families"),
    ("mse_to_teacher_x100", "MSE to the teacher x100 (held-out sentences)", "Knowledge distillation"),
    ("dimension", "Embedding dimension", "Size"),
    ("bytes_per_embedding", "Bytes per embedding", "Size"),
    ("parameters", "Parameters", "Size"),
    ("disk_bytes", "Model size on disk (bytes)", "Size"),
)

DATASETS = {  # family -> (dataset type, name) of its model-index entries
    "Semantic similarity": ("stsb", "STSb"),
    "Retrieval": ("stsb", "STSb test paraphrases"),
    "Classification": ("bbc-news", "BBC news articles (held out of distillation)"),
    "Clustering": ("bbc-news", "BBC news articles (held out of distillation)"),
    "All task families": ("stsb+bbc-news", "STSb and BBC news articles"),
    "Knowledge distillation": ("heldout", "held-out corpus"),
}


def figures(label: str, evaluation: dict[str, VariantMetrics]) -> tuple[list[dict], list[EvalResult]]:
    """The table rows and ``model-index`` results of ``label``, from its evaluation file's ``variants``:
    its own figures, then its Matryoshka cuts and its embedding precisions (the others' rows are left)."""
    if label not in evaluation:
        raise StaleFigures(f"no evaluation figures for {label}: rerun the pipeline (dvc repro)")
    own = evaluation[label]
    rows, results = [], []
    for key, text, family in FIGURES:
        value = getattr(own, key)
        if value is not None:
            rows.append(
                {
                    "Task family": family,
                    "Metric": text,
                    "Value": f"{value:.4f}" if isinstance(value, float) else f"{value:,}",
                }
            )
            if family != "Size":
                dataset_type, dataset_name = DATASETS[family]
                results.append(
                    EvalResult(
                        task_type=family.lower().replace(" ", "-"),
                        task_name=family,
                        dataset_type=dataset_type,
                        dataset_name=dataset_name,
                        metric_type=key,
                        metric_name=text,
                        metric_value=float(value),
                    )
                )
    rows += own_task_rows(own)
    results += own_task_results(own)
    cuts = [(cut_label, m) for cut_label, m in evaluation.items() if m.runs_as == label]
    for cut_label, m in sorted(cuts, key=lambda cut: -cut[1].dimension):
        rows.append(
            {
                "Task family": "Matryoshka",
                "Metric": f"STSb test Spearman, first {m.dimension} dimensions ({cut_label})",
                "Value": f"{m.stsb_test_spearman:.4f}",
            }
        )
    for precision_label, m in sorted(evaluation.items()):
        if precision_label.startswith(f"{label}-emb-"):
            precision = precision_label.rsplit("-", 1)[1]
            rows.append(
                {
                    "Task family": "Embedding quantization",
                    "Metric": f"STSb test Spearman, {precision} embeddings ({m.bytes_per_embedding} bytes)",
                    "Value": f"{m.stsb_test_spearman:.4f}",
                }
            )
    return rows, results


def own_task_rows(metrics: VariantMetrics) -> list[dict]:
    """Each own task's figures (``evaluate.tasks``) and its share of the teacher's headline figure, and the mean
    of those shares."""
    rows = []
    for name, task in (metrics.own_tasks or {}).items():
        family = f"Your task {name} ({task.kind})"
        rows += [{"Task family": family, "Metric": key, "Value": f"{value:.4f}"} for key, value in task.figures.items()]
        if task.kept is not None:
            rows.append({"Task family": family, "Metric": f"{task.headline} / teacher's", "Value": f"{task.kept:.4f}"})
    if metrics.own_tasks_kept_mean is not None:
        mean = f"{metrics.own_tasks_kept_mean:.4f}"
        rows.append({"Task family": "Your tasks", "Metric": "Mean of their shares of the teacher", "Value": mean})
    return rows


def own_task_results(metrics: VariantMetrics) -> list[EvalResult]:
    """Each own task's headline figure as a ``model-index`` result (the dataset: the task's name)."""
    return [
        EvalResult(
            task_type=task.kind.replace("_", "-"),
            task_name=name,
            dataset_type=name,
            dataset_name=name,
            metric_type=task.headline,
            metric_value=float(task.figures[task.headline]),
        )
        for name, task in (metrics.own_tasks or {}).items()
    ]


def speed_lines(label: str, benchmark: BenchmarkFile) -> list[str]:
    """The speed-up over the teacher and the machine it was measured on (``metrics/benchmark.json``)."""
    if label not in benchmark.models:
        raise StaleFigures(f"no benchmark figures for {label}: rerun the pipeline (dvc repro)")
    speed, env, method = benchmark.models[label], benchmark.environment, benchmark.method
    s = speed.speedup_vs_teacher
    return [
        f"- **Speed-up over the teacher:** {s.median:.2f}x (quartiles {s.q1:.2f}-{s.q3:.2f}), "
        f"{speed.sentences_per_second.median:.0f} sentences/s, latency p50 {speed.latency_ms.p50:.1f} ms",
        f"- **Measured on:** {env.cpu}, {env.cores} cores, {env.threads} threads, device {speed.device}"
        + (f", GPU {env.gpu}" if env.gpu else "")
        + f"; median over {method.rounds} interleaved rounds of {method.sentences} sentences, batch {method.batch_size}"
        + f" (code {(env.git_commit or 'unknown')[:10]}, "
        + f"sentence-transformers {env.versions.get('sentence-transformers')})",
        "- Speed depends on the machine: measure on yours before relying on these figures.",
    ]


def markdown_table(rows: list[dict]) -> str:
    """The table sentence-transformers' cards use (``transformers.modelcard.make_markdown_table``, left
    aligned), written here: importing transformers would add seconds to every pipeline run."""
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]

    def line(cells: list) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(columns),
            "|" + "|".join(":" + "-" * (w + 1) for w in widths) + "|",
            *(line([r[c] for c in columns]) for r in rows),
        ]
    )
