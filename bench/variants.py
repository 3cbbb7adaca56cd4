"""Speed of the pipeline's models against the teacher and against each student's own fp32 model.

    python -m bench.variants [STUDENT ...] [--pca DIM] [--rounds 5]

Run in a project where the pipeline has run. Loads the teacher and, for each student (all of them
by default), its fp32 model and every quantized copy (with ``--pca DIM``, its DIM-dimensional PCA
variants instead), then times ``encode`` of the same sentences with ``params.evaluate``'s sentence
count, batch size and threads. Rounds are interleaved: each round times every model once, so a
neighbour's load on a shared machine hits all of them alike; the median round is reported. STSb
test scores come from the evaluate stage's ``metrics/eval``. Prints JSON, then a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from tasks.evaluate import (
    EVAL_DIR,
    TEACHER,
    speed_sentences,
    student_groups,
    variant_folder,
    variant_label,
)
from tasks.params import Params, load_or_exit
from tasks.quantize import load_variant
from tasks.teacher_embeddings import load_model


def models_of(student: str, pca: int | None, params: Params) -> dict[str, Path]:
    """Label -> folder: the student's (or its PCA model's) fp32 model first, then its int8 copies."""
    return {
        variant_label(student, group, pca): variant_folder(student, group, pca) for group in student_groups(student, params)
    }


def run(students: list[str], pca: int | None, rounds: int) -> dict:
    params = load_or_exit()
    if params.evaluate.threads:
        torch.set_num_threads(params.evaluate.threads)
    batch = params.evaluate.batch_size
    sentences = speed_sentences(params.evaluate.speed_sentences)
    models = {TEACHER: load_model(params.teacher.model, params.teacher.max_seq_length)}
    fp32_of = {TEACHER: TEACHER}
    for student in students:
        folders = models_of(student, pca, params)
        absent = [str(folder) for folder in folders.values() if not folder.is_dir()]
        if absent:
            raise SystemExit(f"no model at {', '.join(absent)}: run the pipeline first")
        fp32 = next(iter(folders))
        for label, folder in folders.items():
            models[label] = load_variant(folder)
            fp32_of[label] = fp32
    for model in models.values():
        model.encode(sentences[:batch], batch_size=batch)  # warm-up
    timings: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(rounds):
        for label, model in models.items():
            started = time.perf_counter()
            model.encode(sentences, batch_size=batch)
            timings[label].append(time.perf_counter() - started)
    speed = {label: len(sentences) / statistics.median(t) for label, t in timings.items()}
    scores = {}
    for path in EVAL_DIR.glob("*.json"):
        scores.update(json.loads(path.read_text())["variants"])
    teacher_score = scores.get(TEACHER, {}).get("stsb_test_spearman")
    results = {}
    for label in models:
        score = scores.get(label, {}).get("stsb_test_spearman")
        fp32_score = scores.get(fp32_of[label], {}).get("stsb_test_spearman")
        results[label] = {
            "sentences_per_second": round(speed[label], 1),
            "speedup_vs_teacher": round(speed[label] / speed[TEACHER], 3),
            "speedup_vs_fp32": round(speed[label] / speed[fp32_of[label]], 3),
            "stsb_test_spearman": score,
            "stsb_kept_vs_teacher": score / teacher_score if score and teacher_score else None,
            "stsb_kept_vs_fp32": score / fp32_score if score and fp32_score else None,
        }
    return {
        "teacher": params.teacher.model, "sentences": len(sentences), "batch_size": batch,
        "threads": torch.get_num_threads(), "rounds": rounds, "pca": pca, "models": results,
    }


def table(r: dict) -> str:
    def pct(value: float | None) -> str:
        return f"{value * 100:.2f}%" if value is not None else "-"

    lines = [
        f"{r['sentences']} sentences, batch {r['batch_size']}, {r['threads']} threads, median of {r['rounds']} interleaved rounds",
        "",
        "| model | sentences/s | vs teacher | vs own fp32 | STSb test | kept vs teacher | kept vs own fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, m in r["models"].items():
        score = f"{m['stsb_test_spearman'] * 100:.2f}" if m["stsb_test_spearman"] is not None else "-"
        lines.append(
            f"| {label} | {m['sentences_per_second']:.0f} | {m['speedup_vs_teacher']:.2f}x | {m['speedup_vs_fp32']:.2f}x "
            f"| {score} | {pct(m['stsb_kept_vs_teacher'])} | {pct(m['stsb_kept_vs_fp32'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("students", nargs="*", help="students to time (default: every student in params.yaml)")
    parser.add_argument("--pca", type=int, help="time the PCA variants of this dimension instead of the full-size models")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    students = args.students or list(load_or_exit().students)
    if not Path("metrics/eval").is_dir():
        raise SystemExit("no metrics/eval here: run the pipeline (make run) in this folder first")
    results = run(students, args.pca, args.rounds)
    print(json.dumps(results, indent=2))
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
