"""The trade-off report: quality from the evaluate stages, speed from the benchmark stage, in one table.

Two trade-offs, two charts:

- model compression (fewer layers, int8 runtimes) buys speed: quality against speed-up over the teacher,
  ``reports/models.png`` / ``reports/models.json``;
- embedding compression (PCA dimensions, int8/uint8/binary embeddings) buys storage and search cost,
  not encoding speed: quality against bytes per embedding, ``reports/embeddings.png`` / ``.json``.

Quality is STSb test Spearman, or with ``select.rank_on: average`` the mean of the four task
families' shares of the teacher's figure (STSb, classification, clustering, retrieval), with an own task's
name its headline figure, with ``own`` the mean of the own tasks' shares; the tables show every family and
every own task's share either way. The report opens with the model the selection rule (``select:``) picks
(``report/selection.py``), written beside the summary as ``metrics/selected.json``. Writes
``reports/report.md``, ``metrics/summary.json`` (``records/summary.py``) and ``metrics/selected.json``
(``records/selection.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sentence_distill.config.load import load_params
from sentence_distill.config.schema import Params
from sentence_distill.fileio import atomic_path
from sentence_distill.paths import BENCHMARK_FILE, EVAL_DIR, REPORT_DIR, SELECTED_FILE, SUMMARY_FILE
from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.summary import EmbeddingPoint, ModelPoint, Summary, write_points
from sentence_distill.report.answer import answer_section
from sentence_distill.report.charts import write_charts
from sentence_distill.report.reference_comparison import reference_comparison, reference_section
from sentence_distill.report.rows import (
    best_student,
    collect_rows,
    embedding_rows,
    fastest_within_one_point,
    model_rows,
    own_tasks_kept,
    pareto_front,
    ranked_name,
    sanity_warnings,
    storage_front,
)
from sentence_distill.report.sections import (
    matryoshka_against_pca,
    matryoshka_section,
    summary_section,
    translation_section,
)
from sentence_distill.report.selection import select_model
from sentence_distill.report.tables import embeddings_table, int8_note, machine_text, method_text, models_table

log = logging.getLogger(__name__)


def build_report(
    report_dir: Path = REPORT_DIR,
    eval_dir: Path = EVAL_DIR,
    benchmark_file: Path = BENCHMARK_FILE,
    summary_file: Path = SUMMARY_FILE,
    params: Params | None = None,
) -> str:
    """Write the report, its charts and their rows, the summary and the selection (``selected.json`` beside the
    summary); return the report's text."""
    params = params or load_params(check_inputs=False)
    rows = collect_rows(params, eval_dir=eval_dir, benchmark_file=benchmark_file)
    quality_name = ranked_name(params.select.rank_on)
    tasks = [task.name for task in params.evaluate.tasks]
    benchmark = BenchmarkFile.read(benchmark_file)
    models, embeddings = model_rows(rows), embedding_rows(rows)
    model_front, storage = pareto_front(models), storage_front(embeddings)
    best, fastest, warnings = best_student(rows), fastest_within_one_point(rows), sanity_warnings(rows, benchmark)
    selection = select_model(rows, params.select)
    lines = [
        "# Distillation trade-offs",
        "",
        *answer_section(selection),
        "",
        machine_text(benchmark),
        "",
        "STSb test Spearman (cosine) x100. The other task families (few-shot topic classification accuracy of the "
        "evaluation BBC articles, their k-means V-measure, nDCG@10 of STSb test paraphrase retrieval) and their mean "
        "with STSb are shares of the teacher's figure"
        + (
            f"; so are your own tasks' columns ({', '.join(tasks)}, their headline figures) and their mean. "
            if tasks
            else ". "
        )
        + method_text(benchmark),
        "",
        "## Model compression: quality against speed",
        "",
        f"`*` marks the Pareto front ({quality_name} against speed-up).",
        "",
        models_table(models, model_front, tasks),
        "",
        *([int8_note(benchmark), ""] if any(r.fp32_model != r.model for r in models) else []),
        "## Embedding compression: quality against bytes per embedding",
        "",
        "PCA and embedding precisions change what is stored and searched, not how fast a model encodes. "
        f"`*` marks the front of {quality_name} against bytes per embedding.",
        "",
        embeddings_table(embeddings, storage, tasks),
        "",
        *summary_section(best, fastest, warnings, quality_name, params),
    ]
    matryoshka = matryoshka_against_pca(rows, params)
    if matryoshka:
        lines += ["", *matryoshka_section(matryoshka)]
    translated = [r for r in models if r.metrics.translation_accuracy is not None]
    if translated:
        lines += ["", *translation_section(translated)]
    comparison = reference_comparison(rows, params, benchmark) if params.report.compare_with_reference else None
    if comparison is not None:
        lines += ["", *reference_section(comparison, benchmark)]
    text = "\n".join(lines) + "\n"
    with atomic_path(report_dir / "report.md") as tmp:
        tmp.write_text(text)

    def families(r) -> float | None:
        return None if r.metrics.families_kept_mean is None else 100 * r.metrics.families_kept_mean

    write_points(
        report_dir / "models.json",
        [
            ModelPoint(r.model, r.speedup, 100 * r.metrics.stsb_test_spearman, families(r), r.model in model_front)
            for r in models
        ],
    )
    write_points(
        report_dir / "embeddings.json",
        [
            EmbeddingPoint(
                r.model,
                r.metrics.bytes_per_embedding,
                100 * r.metrics.stsb_test_spearman,
                families(r),
                r.model in storage,
            )
            for r in embeddings
        ],
    )
    chosen = selection.chosen.model if selection.chosen else None
    write_charts(report_dir, models, model_front, embeddings, storage, quality_name, params, chosen)
    Summary(
        models=len(models),
        embeddings=len(embeddings),
        pareto_front=sorted(model_front),
        storage_front=sorted(storage),
        rank_on=params.select.rank_on,
        best_student=best.model if best else None,
        fastest_within_one_point=fastest.model if fastest else None,
        sanity_warnings=warnings,
        matryoshka_against_pca=matryoshka or None,
        translation_accuracy={r.model: r.metrics.translation_accuracy for r in translated} or None,
        own_tasks_kept=own_tasks_kept(models) if tasks else None,
        reference_comparison=comparison,
    ).write(summary_file)
    selection.write(summary_file.with_name(SELECTED_FILE.name))
    log.info("report written to %s", report_dir / "report.md")
    return text
