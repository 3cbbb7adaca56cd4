"""Where the stages read and write: the project's file layout in one place, importing nothing heavy.

Every stage, the report and the flow find each other's files through these names, so a stage
module never imports another stage module just to learn a path.
"""

from __future__ import annotations

from pathlib import Path

DATA_INPUTS = Path("inputs/data")  # local corpora and STSb folders the params name: a DVC dep of prepare
MODEL_INPUTS = Path("inputs/models")  # local model folders the params name: a DVC dep of every stage loading one
TASK_INPUTS = Path("inputs/tasks")  # the own evaluation tasks' files (evaluate.tasks): a DVC dep of the evaluations
PREPARED_DIR = Path("data/prepared")
PARALLEL_FILE = "parallel.parquet"  # in PREPARED_DIR, with prepare.parallel: source, target, lang, split of the pairs
DOCUMENTS_FILE = Path(
    "data/documents.parquet"
)  # the evaluation articles: beside data/prepared, so changing them retrains nothing
EMBEDDINGS_DIR = Path("data/embeddings")
STUDENT_EMBEDDINGS_DIR = Path("data/student_embeddings")
TEACHER_FILE = Path("data/teacher.json")
TEACHER_FILL_FILE = Path(
    "metrics/teacher_embeddings.json"
)  # this run's cache counts: kept out of teacher.json, a dep downstream
MODELS_DIR = Path("models")
CHECKPOINTS_DIR = Path(".work/checkpoints")
STATIC_TABLES_DIR = Path(
    ".work/static-tables"
)  # model2vec distillations, one per teacher (files) and model2vec version
STUDENT_METRICS_DIR = Path("metrics/students")
EVAL_DIR = Path("metrics/eval")
BENCHMARK_FILE = Path("metrics/benchmark.json")
SUMMARY_FILE = Path("metrics/summary.json")
SELECTED_FILE = Path("metrics/selected.json")  # the selection rule's answer (select:), written by the report stage
SELECTED = "selected"  # release/selected/: the selected model's release folder
REPORT_DIR = Path("reports")
CURRENT_FINGERPRINT_FILE = (
    "current.json"  # in a student's persistent embedding cache: the fingerprint its last run used
)
QUANTIZATION_FILE = "quantization.json"  # in an int8 model folder: its backend and the int8 files it adds
TEACHER = "teacher"
FP32 = "fp32"


def student_dir(name: str) -> Path:
    return MODELS_DIR / name / "student"


def student_metrics_file(name: str) -> Path:
    return STUDENT_METRICS_DIR / f"{name}.json"


def training_log_dir(name: str) -> Path:
    """The student's DVCLive folder: ``metrics.json`` (the last logged values) and ``plots/metrics/**.tsv``."""
    return STUDENT_METRICS_DIR / name / "training"


def pca_dir(name: str, dim: int) -> Path:
    return MODELS_DIR / name / "pca" / str(dim)


def quantized_dir(name: str) -> Path:
    return MODELS_DIR / name / "quantized"


def pca_quantized_dir(name: str, dim: int) -> Path:
    return MODELS_DIR / name / "pca-quantized" / str(dim)


def student_embeddings_dir(name: str) -> Path:
    return STUDENT_EMBEDDINGS_DIR / name


def body_cache_root(name: str, group: str) -> Path:
    return Path("data/evaluation_bodies") / name / group


def student_groups(name: str, backends: list[str]) -> dict[str, Path]:
    """The student's models by the body they give its PCA models: fp32 and one per int8 backend."""
    return {FP32: student_dir(name), **{backend: quantized_dir(name) / backend for backend in backends}}


def variant_label(name: str, group: str, dim: int | None = None) -> str:
    """``L3``, ``L3-onnx-int8``, ``L3-pca128``, ``L3-pca128-onnx-int8``: the name of a model in every table."""
    base = name if dim is None else f"{name}-pca{dim}"
    return base if group == FP32 else f"{base}-{group}"


def truncated_label(name: str, group: str, dim: int) -> str:
    """``L3m-mrl128``, ``L3m-mrl128-onnx-int8``: a Matryoshka student's model with its output cut to ``dim``."""
    base = f"{name}-mrl{dim}"
    return base if group == FP32 else f"{base}-{group}"


def variant_folder(name: str, group: str, dim: int | None = None) -> Path:
    if dim is None:
        return student_dir(name) if group == FP32 else quantized_dir(name) / group
    return pca_dir(name, dim) if group == FP32 else pca_quantized_dir(name, dim) / group


def eval_file(name: str, dim: int | None = None, eval_dir: Path = EVAL_DIR) -> Path:
    return eval_dir / f"{name if dim is None else f'{name}-pca{dim}'}.json"
