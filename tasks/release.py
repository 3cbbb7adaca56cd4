"""Release: every model of the run as a shareable folder ``release/<label>/`` with a full model card.

Model folders are the outputs of the student, pca and quantize stages, which run before evaluation
and the benchmark; no later stage may write into them. This stage, last, assembles
``release/<label>/``: the model's files hard-linked from ``models/`` (no disk: the same inodes as
DVC's cache) and a ``README.md`` made from the card sentence-transformers wrote when the model was
saved (``SentenceTransformer.save`` -> ``generate_model_card``), with this run's figures put in:

* metadata: ``base_model`` (the teacher, when it is a hub id), the label as ``model_name``, and the
  figures as ``model-index`` results (``huggingface_hub.EvalResult``, what sentence-transformers
  itself writes from its evaluators);
* text: how the model was made (teacher, layers kept or student model, PCA dimension, int8 backend),
  training data and training summary, and the evaluation figures of every task family
  (``metrics/eval``) with the speed-up and the machine it was measured on (``metrics/benchmark.json``).

Stale figures: the stage depends on ``models``, ``metrics/eval``, ``metrics/benchmark.json`` and
``metrics/students``, so DVC reruns it (after evaluate and benchmark) whenever a model or a figure
changes. Before writing anything it checks that each model folder's hash in ``dvc.lock`` is the
one its evaluation read (``dvc.lock`` is read as DVC's record of what each stage wrote and read: a
guard, not an input, so it is no dep: no card's content comes from it), and that every figure the card shows exists for that very label: a card
never shows another model's figures, and a missing figure stops the stage instead of being left out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard

from sentence_distill.assets import BBC_NEWS, HUB_ID
from sentence_distill.fileio import atomic_dir
from sentence_distill.config.params import Params
from sentence_distill.paths import (
    BENCHMARK_FILE,
    EVAL_DIR,
    FP32,
    QUANTIZATION_FILE,
    TEACHER_FILE,
    eval_file,
    student_metrics_file,
    variant_folder,
    variant_label,
)

log = logging.getLogger(__name__)

RELEASE_DIR = Path("release")
LOCK_FILE = Path("dvc.lock")
CARD = "README.md"


class StaleFigures(RuntimeError):
    """A card would show figures that were not measured on the model in the folder."""


def variants(params: Params) -> list[tuple[str, str, int | None]]:
    """(student, group, dim) of every model folder the run makes: fp32 and int8, with and without PCA."""
    return [
        (name, group, dim)
        for name in params.students for dim in [None, *params.pca_dims_for(name)] for group in [FP32, *params.backends_for(name)]
    ]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def check_lock(folders: list[Path], lock_file: Path = LOCK_FILE) -> None:
    """Each folder's hash where a stage wrote it must be the hash the evaluation stage read.

    ``dvc.lock`` holds both (outs of student/pca/quantize, deps of evaluate/evaluate_pca); they differ
    when a model was rebuilt after it was evaluated and evaluation was not rerun (``dvc repro -s``,
    or this module run by hand).
    """
    if not lock_file.exists():
        raise StaleFigures(f"{lock_file} is missing: run the pipeline (dvc repro) before a release")
    stages = yaml.safe_load(lock_file.read_text())["stages"]
    written: dict[str, str] = {}
    read: dict[str, set[str]] = {}
    for stage, entry in stages.items():
        for out in entry.get("outs", []):
            written[out["path"]] = out.get("md5", "")
        if stage.startswith("evaluate"):
            for dep in entry.get("deps", []):
                read.setdefault(dep["path"], set()).add(dep.get("md5", ""))
    for folder in folders:
        # an int8 folder is one backend under its stage's output folder: compare that output
        path = next((p for p in (folder.as_posix(), folder.parent.as_posix()) if p in written), None)
        if path is None:
            raise StaleFigures(f"{folder}: no stage in {lock_file} writes it")
        if read.get(path) != {written[path]}:
            raise StaleFigures(f"{path} changed after it was evaluated: rerun the pipeline (dvc repro)")


def how_made(name: str, group: str, dim: int | None, params: Params, student: dict, teacher: dict) -> list[str]:
    spec = params.students[name]
    lines = [f"- **Teacher:** `{teacher['model']}` ({teacher['dimension']}-d)"]
    if spec.static:
        lines.append("- **Student:** a static embedding table of the teacher's vocabulary, distilled by model2vec "
                     "(`StaticEmbedding.from_distillation`), mean-pooled")
    elif student.get("kept_layers") is not None:
        lines.append(f"- **Student:** {len(student['kept_layers'])} of the teacher's layers kept: {student['kept_layers']}")
    else:
        lines.append(f"- **Student:** `{getattr(spec, 'model', None) or student.get('source')}`")
    if student.get("trained"):
        lines.append(
            f"- **Distillation:** MSE to the teacher's embeddings, {student['steps']} steps "
            f"({student['epochs']:g} epochs, learning rate {student['learning_rate']:g}); "
            + (f"best step {student['best_step']} by the MSE of its dev translations to the teacher's embeddings of their "
               f"sources, {student['best_parallel_dev_mse_x100']:.4f} (x100; STSb dev Spearman "
               f"{student['best_stsb_dev_spearman']:.4f})" if "best_parallel_dev_mse_x100" in student else
               f"best step {student['best_step']} by STSb dev Spearman {student['best_stsb_dev_spearman']:.4f}")
        )
    else:
        lines.append("- **Distillation:** none (the " + ("table was not refined)" if spec.static else "student was not trained)"))
    if spec.parallel:
        parallel = params.prepare.parallel
        lines.append(
            f"- **Training data:** {student['parallel_pairs']:,} pairs of `{parallel.file}` (a sentence and its "
            f"translation; {parallel.dev_pairs} more pick the best step, {parallel.heldout_pairs} more are held out for "
            "the translation figures), the targets the teacher's embeddings of the sentences"
        )
    else:
        lines.append(
            f"- **Training data:** {teacher['sentences'] - teacher.get('parallel_sources', 0):,} sentences of "
            f"`{params.prepare.corpus}`"
            + (" (its articles held out for evaluation left out)" if params.prepare.corpus == BBC_NEWS else "")
            + (" and the STSb train sentences" if params.prepare.include_stsb_train else "")
            + f", encoded by the teacher ({params.prepare.heldout_sentences} held out for the MSE figure)"
        )
    if spec.matryoshka_dims and dim is None:
        lines.append(f"- **Matryoshka:** trained with `MatryoshkaLoss` so that its first {', '.join(map(str, spec.matryoshka_dims))} "
                     "dimensions are embeddings on their own: `SentenceTransformer(path, truncate_dim=k)`, compared by cosine")
    lines.append(f"- **PCA:** {dim} dimensions, fitted on the student's {params.pca.fit_on} embeddings"
                 + (", folded into the table" if params.pca_folds_into_table(name) else "") if dim else "- **PCA:** none")
    lines.append(f"- **Quantization:** {group} (weights int8)" if group != FP32 else "- **Quantization:** none (float32)")
    return lines


def load_line(folder: Path) -> str:
    """How to load the folder: an int8 copy needs its backend and file; a torch int8 one, the project's loader."""
    marker = folder / QUANTIZATION_FILE
    info = _read_json(marker) if marker.is_file() else {}
    if info.get("backend") in ("onnx", "openvino"):
        call = f'SentenceTransformer(path, backend="{info["backend"]}", model_kwargs={{"file_name": "{info["file_name"]}"}})'
    elif info:
        call = "sentence_distill.models.load_variant(path)` (torch int8 weights: `SentenceTransformer(path)` alone loads fp32 ones)"
    else:
        call = "SentenceTransformer(path)"
    return f"- **Load:** `{call}`"


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


def figures(label: str, evaluation: dict) -> tuple[list[dict], list[EvalResult]]:
    if label not in evaluation:
        raise StaleFigures(f"no evaluation figures for {label}: rerun the pipeline (dvc repro)")
    own = evaluation[label]
    rows, results = [], []
    for key, text, family in FIGURES:
        if key in own:
            value = own[key]
            rows.append({"Task family": family, "Metric": text, "Value": f"{value:.4f}" if isinstance(value, float) else f"{value:,}"})
            if family != "Size":
                dataset_type, dataset_name = DATASETS[family]
                results.append(EvalResult(task_type=family.lower().replace(" ", "-"), task_name=family, dataset_type=dataset_type,
                                          dataset_name=dataset_name, metric_type=key, metric_name=text, metric_value=float(value)))
    cuts = [(cut_label, m) for cut_label, m in evaluation.items() if m.get("runs_as") == label]
    for cut_label, m in sorted(cuts, key=lambda cut: -cut[1]["dimension"]):
        rows.append({"Task family": "Matryoshka", "Metric": f"STSb test Spearman, first {m['dimension']} dimensions ({cut_label})",
                     "Value": f"{m['stsb_test_spearman']:.4f}"})
    for precision_label, m in sorted(evaluation.items()):
        if precision_label.startswith(f"{label}-emb-"):
            rows.append({"Task family": "Embedding quantization", "Metric": f"STSb test Spearman, {precision_label.rsplit('-', 1)[1]} embeddings ({m['bytes_per_embedding']} bytes)",
                         "Value": f"{m['stsb_test_spearman']:.4f}"})
    return rows, results


def speed_lines(label: str, benchmark: dict) -> list[str]:
    if label not in benchmark["models"]:
        raise StaleFigures(f"no benchmark figures for {label}: rerun the pipeline (dvc repro)")
    speed, env, method = benchmark["models"][label], benchmark["environment"], benchmark["method"]
    s = speed["speedup_vs_teacher"]
    return [
        f"- **Speed-up over the teacher:** {s['median']:.2f}x (quartiles {s['q1']:.2f}-{s['q3']:.2f}), "
        f"{speed['sentences_per_second']['median']:.0f} sentences/s, latency p50 {speed['latency_ms']['p50']:.1f} ms",
        f"- **Measured on:** {env['cpu']}, {env['cores']} cores, {env['threads']} threads, device {speed['device']}"
        + (f", GPU {env['gpu']}" if env.get("gpu") else "")
        + f"; median over {method['rounds']} interleaved rounds of {method['sentences']} sentences, batch {method['batch_size']}"
        + f" (code {env['git_commit'][:10]}, sentence-transformers {env['versions'].get('sentence-transformers')})",
        "- Speed depends on the machine: measure on yours before relying on these figures.",
    ]


def markdown_table(rows: list[dict]) -> str:
    """The table sentence-transformers' cards use (``transformers.modelcard.make_markdown_table``, left
    aligned), written here: importing transformers would add seconds to every pipeline run."""
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    line = lambda cells: "| " + " | ".join(str(v).ljust(w) for v, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), "|" + "|".join(":" + "-" * (w + 1) for w in widths) + "|", *(line([r[c] for c in columns]) for r in rows)])


def replace_section(text: str, heading: str, new: str) -> str:
    """``text`` with its ``## heading`` section (up to the next ``## ``) replaced; ``new`` put before
    ``## Training Details`` (or at the end) when there is none."""
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |^<!--\n## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: new + "\n", text, count=1)
    anchor = text.find("\n## Training Details")
    return text + "\n" + new if anchor < 0 else text[:anchor + 1] + new + "\n" + text[anchor + 1:]


def build_card(label: str, saved_card: Path, made: list[str], rows: list[dict], results: list[EvalResult],
               speed: list[str], teacher_model: str, base_model: str) -> str:
    """The card sentence-transformers saved with the model, with this run's provenance and figures."""
    card = ModelCard.load(saved_card) if saved_card.is_file() else ModelCard("# SentenceTransformer\n")
    data = card.data
    data.model_name = label
    data.eval_results = results or None
    if HUB_ID.fullmatch(base_model):  # the student's source (the teacher when layers are kept); a local folder: text only
        data.base_model = base_model
    data.tags = [*(data.tags or []), *(t for t in ("distillation", "knowledge-distillation") if t not in (data.tags or []))]
    text = re.sub(r"^# .*$", f"# {label}", card.text, count=1, flags=re.M)
    text = re.sub(r"^(<!-- )?- \*\*Base model:\*\*.*$", f"- **Base model:** {base_model}" + (" (the teacher)" if base_model == teacher_model else f" (teacher: {teacher_model})"), text, count=1, flags=re.M)
    made_section = "## How this model was made\n\n" + "\n".join(made) + "\n"
    title_end = text.find("\n## ")
    text = text[:title_end + 1] + made_section + "\n" + text[title_end + 1:] if title_end >= 0 else text + "\n" + made_section
    evaluation = (
        "## Evaluation\n\nFigures of this model (`metrics/eval`, the pipeline's evaluate stages), not of the model it was made from:\n\n"
        + markdown_table(rows) + "\n\n### Speed\n\n" + "\n".join(speed) + "\n"
    )
    card.text = replace_section(text, "Evaluation", evaluation)
    return str(card)


def link_tree(source: Path, target: Path) -> None:
    """``target`` with ``source``'s files hard-linked (copied across file systems), the card left out."""
    for file in sorted(source.rglob("*")):
        if not file.is_file() or file.relative_to(source).as_posix() == CARD:
            continue
        dest = target / file.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file, dest)
        except OSError:
            shutil.copy2(file, dest)


def release(params: Params, release_dir: Path = RELEASE_DIR, eval_dir: Path = EVAL_DIR,
            benchmark_file: Path = BENCHMARK_FILE, lock_file: Path | None = LOCK_FILE) -> list[str]:
    targets = variants(params)
    if lock_file is not None:
        check_lock([variant_folder(n, g, d) for n, g, d in targets], lock_file)
    benchmark, teacher = _read_json(benchmark_file), _read_json(TEACHER_FILE)
    cards = {}
    for name, group, dim in targets:  # every card built before anything is written: a stale figure writes nothing
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        evaluation = _read_json(eval_file(name, dim, eval_dir))["variants"]
        rows, results = figures(label, evaluation)
        student = _read_json(student_metrics_file(name))
        made = [*how_made(name, group, dim, params, student, teacher), load_line(folder)]
        # an int8 folder keeps no card (its fp32 model's would show that model's figures): start from the fp32 card
        saved = next((f / CARD for f in (folder, variant_folder(name, FP32, dim)) if (f / CARD).is_file()), folder / CARD)
        cards[label] = (folder, build_card(label, saved, made, rows, results, speed_lines(label, benchmark), teacher["model"],
                                         base_model=student.get("source") or teacher["model"]))
    with atomic_dir(release_dir) as tmp:
        for label, (folder, card) in cards.items():
            link_tree(folder, tmp / label)
            (tmp / label / CARD).write_text(card, encoding="utf8")
    log.info("released %d models in %s", len(cards), release_dir)
    return list(cards)


def main(argv: list[str] | None = None) -> int:
    from sentence_distill.config.params import load_or_exit

    release(load_or_exit())
    return 0


if __name__ == "__main__":
    from sentence_distill.cli import configure_logging

    configure_logging()
    raise SystemExit(main())
