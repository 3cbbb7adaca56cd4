"""int8 models: copies of a student or of a PCA model whose Transformer runs in int8, one folder per backend.

An ONNX or OpenVINO folder holds the model's configuration, tokenizer and small modules (Pooling,
PCA ``Dense``, ``Normalize``) with the int8 weights named in ``quantization.json``, but not the
Transformer's fp32 weights: those already live in the student folder, and a copy in every int8
folder doubled the models' disk footprint. No int8 folder carries the fp32 model's card, whose
figures are not its own. ``sentence_distill.models.load_variant`` loads any of them with the
right backend, safely (see ``sentence_distill/models.py``); plain sentence-transformers loads one with
``SentenceTransformer(path, backend="onnx" | "openvino", model_kwargs={"file_name": <file_name>})``.

- ``onnx-int8``: the Transformer module exported with sentence-transformers' ONNX backend and
  quantized dynamically with the config that fits this CPU (avx512_vnni, avx512, avx2, arm64).
  It is exported once per student; a PCA model gets a hard link of the int8 file, while its Pooling,
  PCA ``Dense`` and ``Normalize`` stay torch modules.
- ``openvino-int8``: static int8 with OpenVINO and NNCF (optimum-intel): activation ranges are
  calibrated on corpus sentences, so no scale is computed at run time.
  Like ONNX it replaces only the Transformer module; it runs with an f32 precision hint, so the
  layers NNCF leaves unquantized stay fp32 instead of OpenVINO's default bf16 on CPUs that have it.
- ``torch-int8``: torch dynamic quantization of the Linear layers, the fallback for models ONNX
  cannot export. ``save_pretrained`` cannot save it (sentence-transformers issue 2923), so its
  state dict (tensors only) is saved and reloaded with ``torch.load(weights_only=True)`` into a
  freshly quantized copy of the fp32 model, which is why its folder keeps the fp32 files.

Each exporter imports sentence-transformers and its runtime when it runs: a PCA model's onnx or openvino
folder is files copied (``with_int8_transformer``), and its stage starts without torch.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

from sentence_distill import assets
from sentence_distill.config.schema import Params
from sentence_distill.cpu import cpu_flags, cpuinfo_text
from sentence_distill.fileio import atomic_dir, atomic_path, link_or_copy, write_json
from sentence_distill.integrity import check_model_files
from sentence_distill.models import quantization_info, torch_int8
from sentence_distill.paths import QUANTIZATION_FILE

FP32_WEIGHTS = ("*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin")  # the Transformer's, top level
TORCH_INT8_FILE = "torch_int8.pt"
OPENVINO_INT8_FILE = "openvino/openvino_model_qint8_quantized.xml"


def copy_model(source: Path, target: Path) -> None:
    """``source``'s files into ``target``, without its model card: that card describes the fp32 model and
    shows its figures, which an int8 copy must not carry as its own."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("README.md"))


def drop_fp32_transformer(folder: Path) -> None:
    """Remove the Transformer's fp32 weights (the folder's top-level weight files): the int8 runtime never reads
    them."""
    for pattern in FP32_WEIGHTS:
        for path in folder.glob(pattern):
            path.unlink()


def link_int8_model_files(source: Path, target: Path) -> None:
    """What an int8 copy keeps of the model in ``source``, hard-linked into ``target``: all but its card and the
    Transformer's fp32 weights. Only for a copy whose int8 Transformer is given: nothing is written into them."""

    def left_out(folder: str, names: list[str]) -> list[str]:
        top = Path(folder) == Path(source)
        return [n for n in names if n == "README.md" or (top and any(fnmatch(n, p) for p in FP32_WEIGHTS))]

    shutil.copytree(source, target, ignore=left_out, copy_function=link_or_copy)


def cpu_quantization_config() -> str:
    """The ONNX Runtime int8 config this CPU runs fastest: avx512_vnni, avx512, avx2 or arm64."""
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    flags = cpu_flags(cpuinfo_text())
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def export_onnx_int8(source: Path, target: Path, calibration: Sequence[str] = ()) -> dict:
    """Quantize the Transformer of ``source`` dynamically for this CPU into a copy of ``source``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    config = cpu_quantization_config()
    copy_model(source, target)
    onnx_model = SentenceTransformer(str(target), backend="onnx", device="cpu")
    export_dynamic_quantized_onnx_model(onnx_model, config, str(target))
    [onnx_file] = (target / "onnx").glob(f"model_*{config}.onnx")
    drop_fp32_transformer(target)
    file_name = f"onnx/{onnx_file.name}"
    write_json(
        target / QUANTIZATION_FILE, {"backend": "onnx", "file_name": file_name, "files": [file_name], "config": config}
    )
    return {"config": config}


def export_openvino_int8(source: Path, target: Path, calibration: Sequence[str] = ()) -> dict:
    """Static int8 of the Transformer of ``source``, calibrated on ``calibration``, into a copy of ``source``."""
    import datasets
    from optimum.intel import OVConfig, OVQuantizationConfig, OVQuantizer
    from sentence_transformers import SentenceTransformer

    if not calibration:
        raise ValueError("openvino-int8 needs calibration sentences")
    copy_model(source, target)
    model = SentenceTransformer(str(target), backend="openvino", device="cpu")  # converts to OpenVINO IR
    tokenizer = model.tokenizer
    dataset = datasets.Dataset.from_dict({"text": list(calibration)}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=model.max_seq_length),
        batched=True,
        remove_columns=["text"],
    )
    quantizer = OVQuantizer.from_pretrained(model[0].auto_model)
    config = OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(dataset)))
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        quantizer.quantize(calibration_dataset=dataset, save_directory=tmp, ov_config=config)
        (target / "openvino").mkdir(exist_ok=True)
        for suffix in (".xml", ".bin"):
            [file] = Path(tmp).rglob(f"openvino_model{suffix}")
            shutil.copy2(file, (target / OPENVINO_INT8_FILE).with_suffix(suffix))
    drop_fp32_transformer(target)
    files = [OPENVINO_INT8_FILE, str(Path(OPENVINO_INT8_FILE).with_suffix(".bin"))]
    write_json(target / QUANTIZATION_FILE, {"backend": "openvino", "file_name": OPENVINO_INT8_FILE, "files": files})
    return {"calibration_sentences": len(dataset)}


def export_torch_int8(source: Path, target: Path, calibration: Sequence[str] = ()) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    copy_model(source, target)
    quantized = torch_int8(SentenceTransformer(str(source), device="cpu"))
    with atomic_path(target / TORCH_INT8_FILE) as tmp:
        torch.save(quantized.state_dict(), tmp)
    write_json(target / QUANTIZATION_FILE, {"backend": "torch-int8", "file_name": TORCH_INT8_FILE})
    return {}


EXPORTERS = {"onnx-int8": export_onnx_int8, "openvino-int8": export_openvino_int8, "torch-int8": export_torch_int8}


def with_int8_transformer(pca_model: Path, int8_student: Path, target: Path) -> None:
    """A PCA model whose Transformer is the student's int8 one: its files are linked, nothing is re-quantized.

    torch-int8 has no separate Transformer file (its state dict covers every module), so the PCA model
    is quantized whole; dynamic quantization gives the same Transformer weights as the student's.
    """
    info = quantization_info(int8_student)
    if info["backend"] == "torch-int8":
        export_torch_int8(pca_model, target)
        return
    link_int8_model_files(pca_model, target)
    for name in info["files"]:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(int8_student / name, assets.file_in_folder(target, name, "quantization.json"))
    write_json(target / QUANTIZATION_FILE, info)


NOT_QUANTIZED = (
    "int8 model quantization does not apply: a static-embedding model has no matrix multiplication to quantize\n"
)


def no_int8_note(name: str, params: Params) -> str | None:
    """Why the student gets no int8 model, if it gets none."""
    if params.students[name].static:
        return NOT_QUANTIZED
    return None if params.students[name].quantize else f"No int8 model: students.{name}.quantize is false.\n"


def export_int8_models(
    source: Path, target: Path, backends: Sequence[str], calibration: Sequence[str], note: str | None
) -> dict:
    """One int8 copy of the model in ``source`` per backend, in ``target/<backend>``, and ``note`` (why there is
    none) as ``target/README.md``; what each exporter reports, by backend."""
    summary: dict = {"backends": {}}
    if backends:
        check_model_files(source)  # what dvc.lock recorded, or nothing is quantized from it
    with atomic_dir(target) as tmp:
        for backend in backends:
            summary["backends"][backend] = EXPORTERS[backend](source, tmp / backend, calibration)
        if note:
            (tmp / "README.md").write_text(note)
            summary["not_applicable"] = note.strip()
    return summary


def int8_pca_models(
    pca_model: Path, int8_students: Path, target: Path, backends: Sequence[str], note: str | None
) -> None:
    """The PCA model in ``pca_model`` with the Transformer of each int8 student folder ``int8_students/<backend>``,
    in ``target/<backend>``, and ``note`` as ``target/README.md``."""
    if backends:
        check_model_files(pca_model)
        check_model_files(int8_students)
    with atomic_dir(target) as tmp:
        for backend in backends:
            with_int8_transformer(pca_model, int8_students / backend, tmp / backend)
        if note:
            (tmp / "README.md").write_text(note)
