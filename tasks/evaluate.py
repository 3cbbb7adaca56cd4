"""Evaluation: every variant measured the same way, the teacher's speed measured in the same run.

``python -m tasks.evaluate teacher`` writes ``metrics/eval/teacher.json``; ``python -m tasks.evaluate
NAME`` evaluates ``models/NAME/{student,pca/<dim>,int8/<variant>}`` into ``metrics/eval/NAME.json``.
Per variant: STSb test and dev Spearman (cosine) and the share of the teacher's test score kept,
MSE to the teacher's embeddings on the held-out corpus slice (when dimensions match), encoding
speed (sentences/s, median of repeats after a warm-up) and its ratio to the teacher's, size on
disk, parameter count, embedding dimension and bytes per embedding.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors import safe_open
from sentence_transformers import SentenceTransformer

from tasks import assets
from tasks.cli import configure_logging, run_for_student
from tasks.fileio import write_json
from tasks.params import EvaluateParams, Params
from tasks.prepare import PREPARED_DIR
from tasks.quantize import QUANTIZATION_FILE, int8_dir, load_variant
from tasks.student import stsb_evaluator, student_dir
from tasks.pca import pca_dir
from tasks.teacher_embeddings import corpus_sentences, load_model, open_teacher_cache

log = logging.getLogger(__name__)

EVAL_DIR = Path("metrics/eval")
TEACHER = "teacher"


def speed_sentences(count: int, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    """A fixed sentence set: the first ``count`` distinct STSb test sentences."""
    pairs = pq.read_table(prepared_dir / "stsb_test.parquet").to_pydict()
    sentences = list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"]))
    return (sentences * (count // max(len(sentences), 1) + 1))[:count]


def sentences_per_second(model: SentenceTransformer, sentences: list[str], params: EvaluateParams) -> float:
    model.encode(sentences[: params.batch_size], batch_size=params.batch_size)  # warm-up
    timings = []
    for _ in range(params.repeats):
        started = time.perf_counter()
        model.encode(sentences, batch_size=params.batch_size)
        timings.append(time.perf_counter() - started)
    return len(sentences) / statistics.median(timings)


def parameter_count(folder: Path) -> int:
    total = 0
    for file in folder.rglob("*.safetensors"):
        with safe_open(str(file), framework="pt") as weights:
            total += sum(int(np.prod(weights.get_slice(k).get_shape())) for k in weights.keys())
    return total


def disk_bytes(folder: Path) -> int:
    """Bytes of the files the variant's backend loads (the ONNX file replaces the torch weights)."""
    onnx = (folder / QUANTIZATION_FILE).is_file()
    skipped = {"README.md"} | ({"model.safetensors"} if onnx else set())
    files = [f for f in folder.rglob("*") if f.is_file() and f.relative_to(folder).as_posix() not in skipped]
    if not onnx:
        files = [f for f in files if f.relative_to(folder).parts[0] != "onnx"]
    return sum(f.stat().st_size for f in files)


def evaluate_model(model: SentenceTransformer, folder: Path | None, params: Params, speed_set: list[str]) -> dict:
    batch = params.evaluate.batch_size
    dimension = model.get_embedding_dimension()
    result = {
        "dimension": dimension,
        "bytes_per_embedding": dimension * 4,
        "stsb_test_spearman": stsb_evaluator("test", batch_size=batch)(model)["sts-test_spearman_cosine"],
        "stsb_dev_spearman": stsb_evaluator("dev", batch_size=batch)(model)["sts-dev_spearman_cosine"],
        "sentences_per_second": sentences_per_second(model, speed_set, params.evaluate),
    }
    teacher_cache = open_teacher_cache()
    if dimension == teacher_cache.dimension:
        heldout = corpus_sentences("heldout")
        diff = model.encode(heldout, batch_size=batch) - teacher_cache.lookup(heldout)
        result["mse_to_teacher_x100"] = float((diff**2).mean() * 100)
    if folder is not None:
        result["disk_bytes"] = disk_bytes(folder)
        result["parameters"] = parameter_count(folder)
    return result


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name) if folder.exists() else []


def variant_folders(name: str) -> dict[str, Path]:
    """Label -> folder of every model the pipeline built for student ``name``."""
    variants = {name: student_dir(name)}
    variants.update({f"{name}-pca{d.name}": d for d in _subdirs(pca_dir(name))})
    for folder in _subdirs(int8_dir(name)):
        variants[f"{name}-int8" if folder.name == "student" else f"{name}-pca{folder.name}-int8"] = folder
    return variants


def evaluate(name: str, params: Params) -> dict:
    if params.evaluate.threads:
        torch.set_num_threads(params.evaluate.threads)
    speed_set = speed_sentences(params.evaluate.speed_sentences)
    teacher = load_model(params.teacher.model, params.teacher.max_seq_length)
    if name == TEACHER:
        local = Path(assets.resolve_model(params.teacher.model))
        result = {"variants": {TEACHER: evaluate_model(teacher, local if local.is_dir() else None, params, speed_set)}}
        result["variants"][TEACHER]["parameters"] = sum(p.numel() for p in teacher.parameters())
    else:
        teacher_result = json.loads((EVAL_DIR / f"{TEACHER}.json").read_text())["variants"][TEACHER]
        teacher_speed = sentences_per_second(teacher, speed_set, params.evaluate)
        result = {"teacher_sentences_per_second": teacher_speed, "variants": {}}
        for label, folder in variant_folders(name).items():
            log.info("evaluating %s (%s)", label, folder)
            metrics = evaluate_model(load_variant(folder), folder, params, speed_set)
            metrics["stsb_test_kept"] = metrics["stsb_test_spearman"] / teacher_result["stsb_test_spearman"]
            metrics["speedup_vs_teacher"] = metrics["sentences_per_second"] / teacher_speed
            result["variants"][label] = metrics
    write_json(EVAL_DIR / f"{name}.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    return run_for_student("evaluate", evaluate, argv, extra=(TEACHER,))


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
