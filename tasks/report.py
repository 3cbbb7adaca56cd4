"""Trade-off report: quality from the evaluate stages, speed from the benchmark stage, in one table.

``python -m tasks.report`` (stage ``report``) reads ``metrics/eval/<name>.json`` of the teacher and of
each student and PCA dimension in params, and ``metrics/benchmark.json``, and writes
``reports/report.md``, the charts ``reports/models.png`` (quality against speed-up) and
``reports/embeddings.png`` (quality against bytes per embedding) with their rows in ``.json``, and
``metrics/summary.json`` (Pareto fronts, the best student, the fastest model within one point of the
teacher, and sanity warnings). The report opens with the model the selection rule (``select:`` in params) picks,
also written as ``metrics/selected.json`` (``sentence_distill/report/selection.py``). How:
``sentence_distill/report/`` (``build.py`` first).

With ``report.compare_with_reference: true`` the report ends with a section setting our fp32 models
beside the published figures of sentence-transformers' distillation example
(``sentence_distill/report/reference_comparison.py``).
"""

from __future__ import annotations

from sentence_distill.cli import stage_main
from sentence_distill.config.load import load_or_exit
from sentence_distill.report.build import build_report


def main(argv: list[str] | None = None) -> int:
    print(build_report(params=load_or_exit(check_inputs=False)))
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
