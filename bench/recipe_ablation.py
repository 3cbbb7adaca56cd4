"""One student of a finished run trained again with another recipe (distill keys, layers), and scored as the
evaluate stage scores it.

The pipeline's own code from the built student to the best step (``build_student``, ``training_inputs``,
``distill``), with the run's params and the recipe's distill keys over the student's; then the best model's STSb
test Spearman (cosine) and, unless ``--stsb-only``, the four task families and the own tasks (``evaluate.tasks``)
with the evaluate stage's code (``EvaluationInputs``, ``evaluate_model``, ``kept_shares``), each as a share of the
teacher's (``metrics/eval/teacher.json``: a share is left out where that file lacks the teacher's figure). One
JSON line per run is appended to ``--out``. The run's own files are only read: checkpoints, curves and the best
model (``models/<label>``, for ``--score`` later) go under ``--work``.

    cd RUN && PYTHONPATH=/path/to/checkout python -P -m bench.recipe_ablation --student L3 \\
        --recipe '{"epochs": 3, "learning_rate": 3e-4, "loss": {"mse": 1, "relational": 1}}' --out ablation.jsonl

``--score MODEL_DIR`` scores a saved model only (e.g. ``models/L3/student``: the check that these figures are the
evaluate stage's).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from sentence_transformers import SentenceTransformer

from sentence_distill.config.load import load_params
from sentence_distill.config.schema import DistillParams, Params
from sentence_distill.data.corpus import stsb_evaluator
from sentence_distill.evaluation.inputs import EvaluationInputs
from sentence_distill.evaluation.task_families import kept_shares
from sentence_distill.evaluation.variants import evaluate_model
from sentence_distill.models import open_teacher_cache
from sentence_distill.paths import EVAL_DIR, TEACHER
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.students.build import build_student
from sentence_distill.students.trainer import distill, resolved_precision, training_inputs


def stsb_spearman(model: SentenceTransformer, split: str = "test") -> float:
    """STSb Spearman (cosine) of ``split``, as the evaluate stage scores it."""
    evaluator = stsb_evaluator(split, batch_size=32)
    return evaluator(model)[evaluator.primary_metric]


def teacher_stsb_test() -> float:
    return json.loads((EVAL_DIR / "teacher.json").read_text())["variants"]["teacher"]["stsb_test_spearman"]


def quality(model: SentenceTransformer, params: Params) -> dict:
    """STSb test, the four families and the own tasks of ``model``, and each one's share of the teacher's: the
    evaluate stage's ``evaluate_model`` over the model's own embeddings of the stage's texts, each encoded once."""
    inputs = EvaluationInputs.read(params.evaluate)
    texts = list(dict.fromkeys(inputs.sentences(with_heldout=False) + inputs.own_texts()))
    vectors = dict(zip(texts, model.encode(texts, batch_size=params.evaluate.batch_size), strict=True))
    metrics = evaluate_model(model, vectors, inputs, params, folder=None, parameters=None, teacher=None)
    teacher = EvaluationFile.read(EVAL_DIR / f"{TEACHER}.json").variants[TEACHER]
    kept = kept_shares(metrics, teacher)
    own = {name: scores.kept for name, scores in kept.pop("own_tasks", {}).items()}
    return {
        "stsb_test_spearman": metrics.stsb_test_spearman,
        "clustering_v_measure": metrics.clustering_v_measure,
        **kept,
        **({"own_tasks_kept": own} if own else {}),
    }


def train(student: str, recipe: dict, layers: list[int] | None, work: Path) -> dict:
    params = load_params(check_inputs=False)
    spec = params.students[student]
    if layers is not None:
        spec = spec.model_copy(update={"layers": layers, "num_layers": None})
    distill_params = resolved_precision(
        DistillParams.model_validate({**params.distill_for(student).model_dump(), **recipe}), spec.static
    )
    cache = open_teacher_cache()
    model, facts = build_student(spec, params.teacher.model, cache.fingerprint)
    model, inputs, _ = training_inputs(spec, model, cache, distill_params)
    label = f"{student}-{int(time.time())}"
    checkpoints = work / "checkpoints" / label
    started = time.perf_counter()
    model, training = distill(
        model,
        **inputs,
        params=distill_params,
        checkpoint_dir=checkpoints,
        log_dir=work / "curves" / label,
        matryoshka_dims=spec.matryoshka_dims,
    )
    shutil.rmtree(checkpoints, ignore_errors=True)
    saved = work / "models" / label
    model.save(str(saved))
    return {
        "student": student,
        "recipe": recipe,
        "kept_layers": facts.get("kept_layers"),
        "train_sentences": len(inputs["train_texts"]),
        "distill": distill_params.model_dump(),
        **training,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "curves": str(work / "curves" / label),
        "saved": str(saved),
        "model": model,
    }


def share(kept: float | None) -> str:
    return "-" if kept is None else f"{kept * 100:.2f}%"


def table(lines: list[dict]) -> str:
    """The runs as a markdown table: recipe, student and layers, training sentences, STSb test and its share, the
    four-family mean, clustering and own tasks kept (- for lines written before they were scored), time, best step.
    Lines written before the sentences were recorded show ``steps x batch / epochs`` (prefixed ~)."""
    rows = [
        "| recipe | student | layers | sentences | STSb test | kept | four-family mean | clustering kept"
        " | own tasks kept | train s | best step / steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in lines:
        recipe = ", ".join(f"{key}: {value}" for key, value in run["recipe"].items()) or "as in params"
        sentences = run.get("train_sentences")
        if sentences is None:
            per_epoch = run["steps"] * run["distill"]["batch_size"] / run["distill"]["epochs"]
            sentences = f"~{round(per_epoch, -2):,.0f}"
        else:
            sentences = f"{sentences:,}"
        rows.append(
            f"| {recipe} | {run['student']} | {run['kept_layers']} | {sentences} | "
            f"{run['stsb_test_spearman'] * 100:.2f} | {share(run.get('stsb_test_kept'))} | "
            f"{share(run.get('families_kept_mean'))} | {share(run.get('clustering_kept'))} | "
            f"{', '.join(f'{name} {share(kept)}' for name, kept in run.get('own_tasks_kept', {}).items()) or '-'} | "
            f"{run['train_seconds']} | {run['best_step']} / {run['steps']} |"
        )
    return "\n".join(rows)


def scores(model: SentenceTransformer, stsb_only: bool) -> dict:
    if stsb_only:
        score = stsb_spearman(model)
        return {"stsb_test_spearman": score, "stsb_test_kept": score / teacher_stsb_test()}
    return quality(model, load_params(check_inputs=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", help="a student of the run's params.yaml")
    parser.add_argument("--recipe", type=json.loads, default={}, help="distill keys over the student's, as JSON")
    parser.add_argument("--layers", type=int, nargs="+", default=None, help="keep these teacher layers instead")
    parser.add_argument("--work", type=Path, default=Path("/tmp/recipe-ablation"), help="checkpoints, curves, models")
    parser.add_argument("--out", type=Path, default=None, help="append the run's JSON line here")
    parser.add_argument("--score", type=Path, default=None, help="only score this saved model")
    parser.add_argument("--stsb-only", action="store_true", help="STSb test only, not the families and own tasks")
    parser.add_argument("--table", type=Path, default=None, help="only print the runs of this --out file as a table")
    args = parser.parse_args(argv)
    if args.table:
        print(table([json.loads(line) for line in args.table.read_text().splitlines() if line.strip()]))
        return 0
    if args.score:
        print(json.dumps({"model": str(args.score), **scores(SentenceTransformer(str(args.score)), args.stsb_only)}))
        return 0
    row = train(args.student, args.recipe, args.layers, args.work)
    row.update(scores(row.pop("model"), args.stsb_only))
    line = json.dumps(row)
    print(line)
    if args.out:
        with args.out.open("a") as out:
            out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
