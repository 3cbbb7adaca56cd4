"""The report's findings in words: the summary, Matryoshka cuts against PCA, and translation retrieval."""

from __future__ import annotations

from sentence_distill.config.schema import Params
from sentence_distill.paths import FP32, truncated_label, variant_label
from sentence_distill.records.summary import MatryoshkaComparison
from sentence_distill.report.rows import Row, model_rows
from sentence_distill.report.tables import speedup_text


def summary_section(
    best: Row | None, fastest: Row | None, warnings: list[str], quality_name: str, params: Params
) -> list[str]:
    """The best student, the fastest model within one point of the teacher, the sanity check, and which models
    the params leave out."""
    best_families = best.metrics.families_kept_mean if best else None
    lines = [
        "## Summary",
        "",
        f"- Best student (highest {quality_name} of any model but the teacher): {best.model if best else '-'}"
        + (
            f", STSb {100 * best.metrics.stsb_test_spearman:.2f} ({100 * best.stsb_test_kept:.2f}% of the teacher)"
            if best
            else ""
        )
        + (f", four families {100 * best_families:.2f}% of the teacher" if best_families is not None else ""),
        f"- Fastest model within one point of the teacher: {fastest.model if fastest else 'none'}"
        + (f", {speedup_text(fastest)} at {quality_name} {100 * fastest.quality:.2f}" if fastest else ""),
    ]
    lines += [f"- Sanity: {w}" for w in warnings] or [
        "- Sanity: no model with fewer layers measured slower than one with more."
    ]
    static = [name for name, spec in params.students.items() if spec.static]
    if static and params.quantize.backends:
        lines.append(
            f"- No int8 models of {', '.join(static)}: a static-embedding model has no matrix multiplication to "
            "quantize; its embedding precisions apply as to every model."
        )
    not_quantized = [name for name, spec in params.students.items() if not spec.static and not spec.quantize]
    if not_quantized and params.quantize.backends:
        lines.append(f"- No int8 models of {', '.join(not_quantized)}: their `quantize` is false (`params.yaml`).")
    no_pca = [name for name, spec in params.students.items() if not spec.pca]
    if no_pca and params.pca.dims:
        lines.append(f"- No PCA models of {', '.join(no_pca)}: their `pca` is false (`params.yaml`).")
    return lines


def matryoshka_against_pca(rows: list[Row], params: Params) -> list[MatryoshkaComparison]:
    """Each Matryoshka student's cut to k dimensions beside the PCA to k of the same student (when ``pca.dims``
    has k): STSb test (x100) and the four families' mean kept share, and the cut's lead over the PCA."""
    by_label = {r.model: r for r in model_rows(rows)}
    found = []
    for name, spec in params.students.items():
        for dim in spec.matryoshka_dims:
            cut = by_label[truncated_label(name, FP32, dim)].metrics
            pca_row = by_label.get(variant_label(name, FP32, dim))
            pca = pca_row.metrics if pca_row else None
            found.append(
                MatryoshkaComparison(
                    student=name,
                    dimension=dim,
                    matryoshka=truncated_label(name, FP32, dim),
                    matryoshka_stsb=100 * cut.stsb_test_spearman,
                    matryoshka_families_kept_mean=cut.families_kept_mean,
                    pca=pca_row.model if pca_row else None,
                    pca_stsb=100 * pca.stsb_test_spearman if pca else None,
                    pca_families_kept_mean=pca.families_kept_mean if pca else None,
                    stsb_lead=100 * (cut.stsb_test_spearman - pca.stsb_test_spearman) if pca else None,
                )
            )
    return found


def matryoshka_section(found: list[MatryoshkaComparison]) -> list[str]:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    lines = [
        "## Matryoshka cuts against PCA",
        "",
        "A Matryoshka student (`matryoshka_dims`) is trained so that its first k output dimensions are an embedding on "
        "their own: its row `-mrl<k>` is its output cut to k and normalized, at its own speed. Beside it, the PCA to k "
        "dimensions of the same student (when `pca.dims` has k). Lead: the cut's STSb minus the PCA's, in points.",
        "",
        "| student | dim | cut | STSb | 4-family mean | PCA | STSb | 4-family mean | lead |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in found:
        pca_stsb = "-" if f.pca_stsb is None else f"{f.pca_stsb:.2f}"
        lead = "-" if f.stsb_lead is None else f"{f.stsb_lead:+.2f}"
        lines.append(
            f"| {f.student} | {f.dimension} | {f.matryoshka} | {f.matryoshka_stsb:.2f} "
            f"| {share(f.matryoshka_families_kept_mean)} | {f.pca or '-'} | {pca_stsb} "
            f"| {share(f.pca_families_kept_mean)} | {lead} |"
        )
    return lines


def translation_section(models: list[Row]) -> list[str]:
    """Translation retrieval of the held-out parallel pairs by every model that has it (``prepare.parallel``)."""
    lines = [
        "## Translation retrieval (parallel data)",
        "",
        "The held-out pairs of `prepare.parallel`: accuracy of finding a source's own translation among all of them "
        "(and the reverse), and the mean squared difference of a source's and its translation's unit embeddings "
        "(x100). "
        "Not a share of the teacher's: a student trained on the pairs (`parallel: true`) is meant to beat it.",
        "",
        "| model | source to target | target to source | mean | source-target MSE x100 |",
        "|---|---|---|---|---|",
    ]
    for r in models:
        m = r.metrics
        lines.append(
            f"| {r.model} | {100 * m.translation_accuracy_source_to_target:.1f}% "
            f"| {100 * m.translation_accuracy_target_to_source:.1f}% | {100 * m.translation_accuracy:.1f}% "
            f"| {m.translation_mse_x100:.4f} |"
        )
    return lines
