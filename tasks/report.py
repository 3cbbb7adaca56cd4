"""Trade-off report: the reference's table extended with PCA, quantization and size, plus a chart.

Reads ``metrics/eval/<name>.json`` of the teacher and of each student and PCA dimension in params. Writes ``reports/report.md`` (the table), ``reports/tradeoff.json``
(rows for ``dvc plots``), ``reports/tradeoff.png`` (STSb against speed, log scale, Pareto front
marked) and ``metrics/summary.json``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tasks.cli import configure_logging  # noqa: E402
from tasks.evaluate import EVAL_DIR, TEACHER, eval_file  # noqa: E402
from tasks.fileio import atomic_path, write_json  # noqa: E402
from tasks.params import Params, load_params  # noqa: E402

log = logging.getLogger(__name__)

REPORT_DIR = Path("reports")
COLUMNS = ["model", "dim", "STSb test", "vs teacher", "sentences/s", "speed-up", "size MB", "bytes/emb"]


def collect_rows(params: Params | None = None, eval_dir: Path = EVAL_DIR) -> list[dict]:
    """Every variant of the students and PCA dimensions in params (files of removed ones are left out)."""
    params = params or load_params()
    teacher_variants = json.loads((eval_dir / f"{TEACHER}.json").read_text())["variants"]
    score = teacher_variants[TEACHER]["stsb_test_spearman"]
    rows = [
        {"model": label, **m, "stsb_test_kept": m["stsb_test_spearman"] / score, "speedup_vs_teacher": 1.0}
        for label, m in teacher_variants.items()
    ]
    for name in params.students:
        for dim in [None, *params.pca.dims]:
            file = eval_file(name, dim, eval_dir)
            if not file.is_file():
                raise FileNotFoundError(f"{file} not found: run the pipeline (dvc repro) before the report")
            rows += [{"model": label, **m} for label, m in json.loads(file.read_text())["variants"].items()]
    return rows


def pareto_front(rows: list[dict]) -> set[str]:
    """Models no other model beats on both STSb and speed."""
    return {
        r["model"]
        for r in rows
        if not any(
            o["stsb_test_spearman"] >= r["stsb_test_spearman"]
            and o["speedup_vs_teacher"] >= r["speedup_vs_teacher"]
            and (o["stsb_test_spearman"], o["speedup_vs_teacher"]) != (r["stsb_test_spearman"], r["speedup_vs_teacher"])
            for o in rows
        )
    }


def markdown_table(rows: list[dict], front: set[str]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        size = f"{r['disk_bytes'] / 1e6:.1f}" if "disk_bytes" in r else "-"
        lines.append(
            f"| {r['model']}{' *' if r['model'] in front else ''} | {r['dimension']} | {100 * r['stsb_test_spearman']:.2f} "
            f"| {100 * (r['stsb_test_kept'] - 1):+.2f}% | {r['sentences_per_second']:.0f} | {r['speedup_vs_teacher']:.2f}x "
            f"| {size} | {r['bytes_per_embedding']} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], front: set[str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        on_front = r["model"] in front
        ax.scatter(r["speedup_vs_teacher"], 100 * r["stsb_test_spearman"], color="tab:red" if on_front else "tab:blue")
        ax.annotate(r["model"], (r["speedup_vs_teacher"], 100 * r["stsb_test_spearman"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    line = sorted((r for r in rows if r["model"] in front), key=lambda r: r["speedup_vs_teacher"])
    ax.plot([r["speedup_vs_teacher"] for r in line], [100 * r["stsb_test_spearman"] for r in line], color="tab:red", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("speed-up vs teacher (log scale)")
    ax.set_ylabel("STSb test Spearman x100")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def build_report(report_dir: Path = REPORT_DIR, eval_dir: Path = EVAL_DIR) -> str:
    rows = collect_rows(eval_dir=eval_dir)
    front = pareto_front(rows)
    table = markdown_table(rows, front)
    text = (
        "# Distillation trade-offs\n\nSTSb test Spearman (cosine) x100; speed on the same sentences, batch size "
        "and threads as the teacher, measured in the same run. `*` marks the Pareto front.\n\n" + table + "\n"
    )
    with atomic_path(report_dir / "report.md") as tmp:
        tmp.write_text(text)
    write_json(
        report_dir / "tradeoff.json",
        [
            {"model": r["model"], "speedup": r["speedup_vs_teacher"], "stsb": 100 * r["stsb_test_spearman"], "pareto": r["model"] in front}
            for r in rows
        ],
    )
    plot(rows, front, report_dir / "tradeoff.png")
    best = max((r for r in rows if r["model"] != TEACHER), key=lambda r: r["stsb_test_spearman"])
    write_json(Path("metrics/summary.json"), {"models": len(rows), "pareto_front": sorted(front), "best_student": best["model"]})
    log.info("report written to %s", report_dir / "report.md")
    return text


def main(argv: list[str] | None = None) -> int:
    print(build_report())
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
