"""How a model was made: its teacher, what the student is, its distillation, data, PCA and int8 backend.

Said in one place. ``how_made`` states it from the run's records (the params, the student stage's
metrics, the teacher's record), and the release card lists it. The student stage names the model it
saves (``name_saved_model``): its label and the model it was made from, on the card sentence-transformers
writes beside it; the pca stage, which writes its folder as files, writes a card saying the same
(``derived_model_card``); the release card, made from the records, says the rest.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sentence_distill.assets import BBC_NEWS, HUB_ID
from sentence_distill.config.schema import Params
from sentence_distill.paths import FP32
from sentence_distill.records.student import StudentMetrics

Fact = tuple[str, str]  # (what, how): ("PCA", "32 dimensions, ...")


def how_made(
    params: Params, name: str, student: StudentMetrics, teacher: dict, dim: int | None = None, group: str = FP32
) -> list[Fact]:
    """The facts of model ``name`` (with PCA to ``dim``, int8 by ``group``): ``student`` is what its student
    stage wrote (``metrics/students/<name>.json``), ``teacher`` the teacher's record (``data/teacher.json``)."""
    spec = params.students[name]
    return [
        ("Teacher", f"`{teacher['model']}` ({teacher['dimension']}-d)"),
        ("Student", student_kind(params, name, student)),
        ("Distillation", distillation(params, name, student)),
        ("Training data", training_data(params, name, student, teacher)),
        *([("Matryoshka", matryoshka(spec.matryoshka_dims))] if spec.matryoshka_dims and dim is None else []),
        ("PCA", pca(params, name, dim)),
        ("Quantization", f"{group} (weights int8)" if group != FP32 else "none (float32)"),
    ]


def student_kind(params: Params, name: str, student: StudentMetrics) -> str:
    spec = params.students[name]
    if spec.static:
        return (
            "a static embedding table of the teacher's vocabulary, distilled by model2vec "
            "(`StaticEmbedding.from_distillation`), mean-pooled"
        )
    if student.kept_layers is not None:
        return f"{len(student.kept_layers)} of the teacher's layers kept: {student.kept_layers}"
    return f"`{getattr(spec, 'model', None) or student.source}`"


def distillation(params: Params, name: str, student: StudentMetrics) -> str:
    run = student.training
    if not student.trained or run is None:
        return "none (the " + ("table was not refined)" if params.students[name].static else "student was not trained)")
    schedule = (
        f"MSE to the teacher's embeddings, {run.steps} steps "
        f"({run.epochs:g} epochs, learning rate {run.learning_rate:g}); "
    )
    if run.best_parallel_dev_mse_x100 is not None:
        return schedule + (
            f"best step {run.best_step} by the MSE of its dev translations to the teacher's embeddings of their "
            f"sources, {run.best_parallel_dev_mse_x100:.4f} (x100; STSb dev Spearman {run.best_stsb_dev_spearman:.4f})"
        )
    return schedule + f"best step {run.best_step} by STSb dev Spearman {run.best_stsb_dev_spearman:.4f}"


def training_data(params: Params, name: str, student: StudentMetrics, teacher: dict) -> str:
    prepare = params.prepare
    if params.students[name].parallel:
        return (
            f"{student.parallel_pairs:,} pairs of `{prepare.parallel.file}` (a sentence and its translation; "
            f"{prepare.parallel.dev_pairs} more pick the best step, {prepare.parallel.heldout_pairs} more are held out "
            "for the translation figures), the targets the teacher's embeddings of the sentences"
        )
    return (
        f"{teacher['sentences'] - teacher.get('parallel_sources', 0):,} sentences of `{prepare.corpus}`"
        + (" (its articles held out for evaluation left out)" if prepare.corpus == BBC_NEWS else "")
        + (" and the STSb train sentences" if prepare.include_stsb_train else "")
        + f", encoded by the teacher ({prepare.heldout_sentences} held out for the MSE figure)"
    )


def matryoshka(dims: list[int]) -> str:
    return (
        f"trained with `MatryoshkaLoss` so that its first {', '.join(map(str, dims))} dimensions are embeddings "
        "on their own: `SentenceTransformer(path, truncate_dim=k)`, compared by cosine"
    )


def pca(params: Params, name: str, dim: int | None) -> str:
    if not dim:
        return "none"
    return f"{dim} dimensions, fitted on the student's {params.pca.fit_on} embeddings" + (
        ", folded into the table" if params.pca_folds_into_table(name) else ""
    )


def name_saved_model(model, label: str, base_model: str) -> None:
    """Name ``model`` (a ``SentenceTransformer`` about to be saved) on the card ``model.save`` writes.

    Only its label and the model it was made from (``base_model``, when a hub id) are set here: the
    release stage's card says how it was made, from the run's records. ``base_model`` is set
    directly: ``set_base_model`` asks the Hub, and ``local_files_only`` keeps the card from asking it
    when ``save`` renders it.
    """
    data = model.model_card_data
    data.local_files_only = True
    data.model_name = label
    if HUB_ID.fullmatch(base_model):
        data.base_model = base_model
    data.add_tags(["distillation"])


def derived_model_card(label: str, base_model: str, about: str) -> str:
    """The card of a model folder written as files (a PCA model): its label, the model it was made from (when a hub
    id) and the tags sentence-transformers' own card carries, with ``about`` as its text. Nothing reads it but
    people: the release stage writes each model's card from the run's records."""
    data = {
        "tags": ["sentence-transformers", "sentence-similarity", "feature-extraction", "distillation"],
        **({"base_model": base_model} if HUB_ID.fullmatch(base_model) else {}),
        "pipeline_tag": "sentence-similarity",
        "library_name": "sentence-transformers",
    }
    return f"---\n{yaml.safe_dump(data, sort_keys=False)}---\n\n# {label}\n\n{about}\n"


def saved_base_model(folder: Path) -> str:
    """The ``base_model`` of the card saved in ``folder`` ("" when it names none)."""
    from huggingface_hub import ModelCard

    file = folder / "README.md"
    return (ModelCard.load(file).data.base_model or "") if file.exists() else ""
