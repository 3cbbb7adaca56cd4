"""PCA dimensionality reduction of a student, stored inside the model as a centred ``Dense`` layer.

Fitted with scikit-learn's PCA on the student's cached embeddings (stage ``student_embeddings``; above
``pca.in_memory_rows`` an IncrementalPCA reads them in chunks). Unlike the reference script, the
projection keeps the mean (``bias = -W @ mean``, so it is the true PCA) and sits before ``Normalize``,
so the reduced embeddings are still unit length. With ``pca.fit_on: normalized`` it is fitted on the
unit-length embeddings, the vectors whose cosine users compare, and the model gets a ``Normalize`` before
the projection too; ``unnormalized`` fits on the body's outputs as they are. A static student's PCA
(fitted on its outputs as they are) is folded into its table: the mean of projected rows is the projection
of the mean, so each row becomes ``W @ row + b`` and the model stays a table lookup, smaller by the ratio
of the dimensions.

The reduced model's folder is written as files, without loading the student: its modules' files are
linked from the student's folder (sentence-transformers' ``save`` of the loaded student writes the same
bytes), and only the new layer, ``modules.json`` and the model-level config are written, in the formats
sentence-transformers' ``Dense``, ``StaticEmbedding`` and ``save`` use. The projection's float32 arithmetic
is torch's, as the ``Dense`` layer computes it; sentence-transformers and transformers are never imported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentence_distill import assets
from sentence_distill.config.schema import Params
from sentence_distill.fileio import link_or_copy
from sentence_distill.integrity import check_model_files
from sentence_distill.students.body import body_cache, fit_sentences

if TYPE_CHECKING:
    import torch
    from sklearn.decomposition import PCA, IncrementalPCA

log = logging.getLogger(__name__)

MODULES_FILE = "modules.json"
MODEL_CONFIG_FILE = "config_sentence_transformers.json"
MODEL_FILES = {MODULES_FILE, MODEL_CONFIG_FILE, "README.md"}  # the model's own files in its folder, not a module's
WEIGHTS_FILE = "model.safetensors"
DENSE_TYPE = "sentence_transformers.base.modules.dense.Dense"
NORMALIZE_TYPE = "sentence_transformers.sentence_transformer.modules.normalize.Normalize"
IDENTITY = "torch.nn.modules.linear.Identity"  # the Dense layer's activation, as sentence-transformers names it


def projection(pca: PCA | IncrementalPCA, dimension: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``Dense`` layer's float32 weight (the first ``dimension`` components) and bias (``-W @ mean``)."""
    import torch

    weight = torch.tensor(pca.components_[:dimension], dtype=torch.float32)
    return weight, -weight @ torch.tensor(pca.mean_, dtype=torch.float32)


def fit_pca(
    lookup: Callable[[list[str]], np.ndarray], texts: list[str], dimension: int, in_memory_rows: int
) -> PCA | IncrementalPCA:
    """PCA of the embeddings of ``texts``; above ``in_memory_rows`` an IncrementalPCA reads them chunk by chunk."""
    from sklearn.decomposition import PCA, IncrementalPCA

    if len(texts) <= in_memory_rows:
        return PCA(n_components=dimension, svd_solver="full").fit(lookup(texts))
    chunk = max(in_memory_rows, dimension)
    bounds = [*range(0, len(texts), chunk), len(texts)]
    if bounds[-1] - bounds[-2] < dimension:  # partial_fit needs as many rows as components: merge the tail
        del bounds[-2]
    pca = IncrementalPCA(n_components=dimension)
    for start, end in zip(bounds, bounds[1:], strict=False):  # each chunk: one bound to the next
        pca.partial_fit(lookup(texts[start:end]))
    log.info("IncrementalPCA fitted on %d rows in chunks of %d", pca.n_samples_seen_, chunk)
    return pca


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fit_student_pca(name: str, dim: int, params: Params) -> tuple[PCA | IncrementalPCA, int]:
    """The ``dim``-component PCA fitted on the student's cached embeddings, and the number of fitting sentences."""
    cache = body_cache(name)
    texts = fit_sentences(params)
    if len(texts) <= dim:
        raise ValueError(
            f"pca.dims: {dim} needs more than {len(texts)} fitting sentences (pca.fit_sentences, prepare.max_sentences)"
        )
    normalized = params.pca.fit_on == "normalized"
    lookup = (lambda batch: unit_rows(cache.lookup(batch))) if normalized else cache.lookup
    return fit_pca(lookup, texts, dim, params.pca.in_memory_rows), len(texts)


def class_name(entry: dict) -> str:
    return entry["type"].rsplit(".", 1)[-1]


def link_files(source: Path, target: Path, files: list[Path]) -> None:
    """``files`` (under ``source``) hard-linked into ``target`` at the same relative paths."""
    target.mkdir(parents=True, exist_ok=True)
    for file in files:
        dest = target / file.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(file, dest)


def module_files(folder: Path, entry: dict) -> tuple[Path, list[Path]]:
    """The folder of a module of the model in ``folder`` and the files its ``save`` wrote there (the first module
    saves into the model's folder itself, beside the model's own files)."""
    if entry["path"] == "":
        return folder, sorted(f for f in folder.iterdir() if f.is_file() and f.name not in MODEL_FILES)
    source = folder / entry["path"]
    return source, sorted(f for f in source.rglob("*") if f.is_file())


def write_dense(target: Path, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """The files ``Dense.save`` writes: its config (``json.dump``, indent 4) and its ``linear`` layer's weights."""
    from safetensors.torch import save_file

    target.mkdir()
    config = {
        "in_features": weight.shape[1],
        "out_features": weight.shape[0],
        "bias": True,
        "activation_function": IDENTITY,
        "module_input_name": "sentence_embedding",
        "module_output_name": "sentence_embedding",
    }
    with open(target / "config.json", "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=4)
    tensors = {"linear.weight": weight, "linear.bias": bias}  # contiguous, as ``save_model`` makes them
    save_file({key: tensor.contiguous() for key, tensor in tensors.items()}, str(target / WEIGHTS_FILE))


def folded_rows(table_file: Path, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The static table's rows through the ``Dense`` layer: mean pooling commutes with an affine map."""
    import torch
    from safetensors.torch import load_file

    with torch.no_grad():
        rows = torch.nn.functional.linear(load_file(str(table_file))["embedding.weight"].float(), weight, bias)
    return rows.contiguous()


def model_config(student: Path) -> str:
    """The student's ``config_sentence_transformers.json`` (prompts, similarity) with the versions of this run's
    libraries, as sentence-transformers' ``save`` writes it."""
    config = json.loads((student / MODEL_CONFIG_FILE).read_text(encoding="utf8"))
    config["__version__"] = {
        "sentence_transformers": metadata.version("sentence-transformers"),
        "transformers": metadata.version("transformers"),
        "pytorch": metadata.version("torch"),
    }
    return json.dumps(config, indent=2, sort_keys=True)


def write_pca_model(
    student: Path,
    target: Path,
    pca: PCA | IncrementalPCA,
    dimension: int,
    normalized_input: bool = False,
    fold: bool = False,
) -> None:
    """Into the empty folder ``target``: the student saved in ``student`` with the PCA projection placed before its
    trailing ``Normalize`` (and after another one when the PCA was fitted on unit-length embeddings); ``fold``: a
    static student's table with the projection applied to its rows instead. The model card is the caller's."""
    from safetensors.torch import save_file

    check_model_files(student)  # what dvc.lock recorded, or nothing is built from it
    assets.check_model_folder(student)  # as loading it would: its modules' folders inside it, their types ours
    entries = json.loads((student / MODULES_FILE).read_text(encoding="utf8"))
    tail = entries[-1:] if entries and class_name(entries[-1]) == "Normalize" else []
    body = entries[: len(entries) - len(tail)]
    weight, bias = projection(pca, dimension)
    modules: list[tuple[str, dict | None]] = [(entry["type"], entry) for entry in body]  # (type, student's entry)
    if fold:
        (table,) = body
        if class_name(table) != "StaticEmbedding" or table["path"] != "":
            raise ValueError(f"{student}: only a StaticEmbedding table folds a PCA, not its {class_name(table)}")
        save_file({"embedding.weight": folded_rows(student / WEIGHTS_FILE, weight, bias)}, str(target / WEIGHTS_FILE))
    else:
        modules += [(NORMALIZE_TYPE, None)] * normalized_input + [(DENSE_TYPE, None)]
    modules += [(entry["type"], entry) for entry in tail]
    written = []
    for idx, (kind, entry) in enumerate(modules):
        path = "" if entry is not None and entry["path"] == "" else f"{idx}_{kind.rsplit('.', 1)[-1]}"
        if entry is not None:
            source, files = module_files(student, entry)
            kept = [file for file in files if not (fold and file == student / WEIGHTS_FILE)]  # the folded table's
            link_files(source, target / path, kept)
        elif kind == DENSE_TYPE:
            write_dense(target / path, weight, bias)
        (target / path).mkdir(exist_ok=True)  # a module without files (Normalize) still has its folder
        written.append({"idx": idx, "name": str(idx), "path": path, "type": kind})
    (target / MODULES_FILE).write_text(json.dumps(written, indent=2), encoding="utf8")
    (target / MODEL_CONFIG_FILE).write_text(model_config(student), encoding="utf8")
