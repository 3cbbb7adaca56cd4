"""Models as every stage loads them: packaged or hub models, the pipeline's int8 folders, and encoding
through the Parquet embedding cache.

A model folder may come from elsewhere (a DVC remote), so loading one runs no code from it: nothing
is unpickled beyond tensors, every file name ``quantization.json`` and ``modules.json`` give must stay
inside the folder, and ``modules.json`` may name only sentence-transformers' own module types.

torch and sentence-transformers are imported by the functions that load or build a model, not with this
module: a stage that works on files only (a PCA model's int8 copies, a note) starts without them.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from sentence_distill import assets
from sentence_distill.embedding_cache import EmbeddingCache, model_fingerprint
from sentence_distill.integrity import check_model_files
from sentence_distill.paths import EMBEDDINGS_DIR, QUANTIZATION_FILE, TEACHER_FILE

if TYPE_CHECKING:
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


OPENVINO_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def load_model(ref: str, max_seq_length: int | None = None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(assets.resolve_model(ref))
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def model_folder(model: SentenceTransformer, ref: str) -> Path:
    local = Path(assets.resolve_model(ref))
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(ref))


def encode_texts(model: SentenceTransformer, texts: list[str], batch_size: int) -> np.ndarray:
    """The one encode call of both paths, so in-process and Dask vectors agree."""
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=len(texts) > batch_size)


def cache_for(
    model: SentenceTransformer, model_dir: Path, cache_root: Path, precision: str = "float32", output: str = "model"
) -> EmbeddingCache:
    fingerprint = model_fingerprint(model_dir, max_seq_length=model.max_seq_length, precision=precision, output=output)
    return EmbeddingCache(cache_root, fingerprint, model.get_embedding_dimension(), precision)


def embed_corpus(
    model: SentenceTransformer,
    model_dir: Path,
    texts: Sequence[str],
    *,
    cache_root: Path = EMBEDDINGS_DIR,
    batch_size: int = 64,
    shard_rows: int = 4096,
    precision: str = "float32",
    output: str = "model",
) -> tuple[EmbeddingCache, dict]:
    """Make sure every text has an embedding in the cache; encode only the missing ones, in this process."""
    cache = cache_for(model, model_dir, cache_root, precision, output)
    stats = cache.fill(texts, lambda chunk: encode_texts(model, chunk, batch_size), shard_rows)
    log.info("embedding cache %s: %s", cache.folder, stats)
    return cache, {"fingerprint": cache.fingerprint, **asdict(stats)}


def open_teacher_cache(teacher_file: Path = TEACHER_FILE, cache_root: Path = EMBEDDINGS_DIR) -> EmbeddingCache:
    info = json.loads(Path(teacher_file).read_text())
    return EmbeddingCache(cache_root, info["fingerprint"], info["dimension"], info["precision"])


def split_normalize(model: SentenceTransformer) -> tuple[list[torch.nn.Module], list[torch.nn.Module]]:
    """The model's modules before its trailing ``Normalize`` and the ``Normalize`` itself (if any)."""
    from sentence_transformers.sentence_transformer.modules import Normalize

    modules = list(model)
    if modules and isinstance(modules[-1], Normalize):
        return modules[:-1], modules[-1:]
    return modules, []


def without_normalize(model: SentenceTransformer) -> SentenceTransformer:
    """The model's body: every module before its trailing ``Normalize`` (what PCA is fitted on)."""
    from sentence_transformers import SentenceTransformer

    body, _ = split_normalize(model)
    return SentenceTransformer(modules=body, device=str(model.device))


def torch_int8(model: SentenceTransformer) -> SentenceTransformer:
    import torch

    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def quantization_info(folder: Path) -> dict:
    """``folder/quantization.json``, once every file name in it is checked to stay inside ``folder``."""
    marker = folder / QUANTIZATION_FILE
    info = json.loads(marker.read_text())
    for name in [info.get("file_name"), *info.get("files", [])]:
        assets.file_in_folder(folder, name, str(marker))
    return info


def load_torch_int8_state(file: Path) -> dict:
    """The int8 state dict: tensors only; a file that would unpickle anything else is refused unread."""
    import torch

    try:
        return torch.load(file, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise assets.AssetError(
            f"{file}: not a plain tensor state dict, refused (it would run code on load): {exc}"
        ) from None


def onnx_session_options(threads: int | None, config: dict[str, str] | None = None):
    """ONNX Runtime settings for int8 models: ``threads`` intra-op threads, and no spin-waiting.

    Spinning worker threads keep a core busy between calls, while tokenization and pooling run in
    Python: on this 2-core machine that cost ONNX int8 a fifth of its speed (``bench/onnx_int8.py``:
    1.24-1.37x over fp32 with spinning, 1.51-1.53x without).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    for key, value in {"session.intra_op.allow_spinning": "0", **(config or {})}.items():
        options.add_session_config_entry(key, value)
    return options


def load_variant(path: Path | str, threads: int | None = None, **kwargs) -> SentenceTransformer:
    """Load any model this pipeline wrote, with the backend its ``quantization.json`` names.

    ``threads`` sets the intra-op threads of whichever runtime runs the model (torch, ONNX Runtime
    or OpenVINO), so that models timed side by side use the same number of cores.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    folder = assets.check_model_folder(path)
    check_model_files(folder)  # a pipeline output must be what dvc.lock recorded: damaged weights compute nothing
    if not (folder / QUANTIZATION_FILE).is_file():
        return SentenceTransformer(str(path), **kwargs)
    info = quantization_info(folder)
    kwargs["device"] = "cpu"  # int8 runtimes here run on the CPU only
    if info["backend"] == "onnx":
        return SentenceTransformer(
            str(path),
            backend="onnx",
            model_kwargs={"file_name": info["file_name"], "session_options": onnx_session_options(threads)},
            **kwargs,
        )
    if info["backend"] == "openvino":
        ov_config = {**OPENVINO_CONFIG, **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
        return SentenceTransformer(
            str(path),
            backend="openvino",
            model_kwargs={"file_name": info["file_name"], "ov_config": ov_config},
            **kwargs,
        )
    state = load_torch_int8_state(folder / info["file_name"])
    model = torch_int8(SentenceTransformer(str(path), **kwargs))
    model.load_state_dict(state)
    return model
