"""Quantization: int8 ONNX copies of a student and of each of its PCA variants.

Reads ``params.quantize``, ``models/<name>/student`` and ``models/<name>/pca/<dim>``. Exports the
Transformer module once with sentence-transformers' ONNX backend, quantizes it dynamically with
the config that fits this CPU, and writes ``models/<name>/int8/{student,<dim>}``: each the fp32
model folder (so it still loads with plain ``SentenceTransformer(path)``) plus the int8 ONNX file,
named in ``quantization.json``. Pooling, the PCA ``Dense`` and ``Normalize`` stay torch modules.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import sys
from pathlib import Path

from sentence_transformers import SentenceTransformer
from sentence_transformers.backend import export_dynamic_quantized_onnx_model

from tasks.fileio import atomic_dir, write_json
from tasks.cli import configure_logging, run_for_student
from tasks.params import Params
from tasks.pca import pca_dir
from tasks.student import MODELS_DIR, student_dir

log = logging.getLogger(__name__)

QUANTIZATION_FILE = "quantization.json"


def int8_dir(name: str) -> Path:
    return MODELS_DIR / name / "int8"


def cpu_quantization_config() -> str:
    """The ONNX Runtime int8 config this CPU runs fastest: avx512_vnni, avx512, avx2 or arm64."""
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def load_variant(path: Path | str, **kwargs) -> SentenceTransformer:
    """Load any model this pipeline wrote, with the backend its ``quantization.json`` names."""
    marker = Path(path) / QUANTIZATION_FILE
    if marker.is_file():
        info = json.loads(marker.read_text())
        return SentenceTransformer(
            str(path), backend=info["backend"], model_kwargs={"file_name": info["file_name"]}, **kwargs
        )
    return SentenceTransformer(str(path), **kwargs)


def quantize_student(name: str, params: Params) -> dict:
    config = cpu_quantization_config()
    sources = {"student": student_dir(name)}
    sources.update({p.name: p for p in sorted(pca_dir(name).iterdir()) if p.is_dir()} if pca_dir(name).exists() else {})
    with atomic_dir(int8_dir(name)) as tmp:
        exported = tmp / "student"
        shutil.copytree(student_dir(name), exported)
        onnx_model = SentenceTransformer(str(exported), backend="onnx", device="cpu")
        export_dynamic_quantized_onnx_model(onnx_model, config, str(exported))
        [onnx_file] = (exported / "onnx").glob(f"model_*{config}.onnx")
        file_name = f"onnx/{onnx_file.name}"
        for variant, source in sources.items():
            target = tmp / variant
            if variant != "student":
                shutil.copytree(source, target)
                (target / "onnx").mkdir()
                shutil.copy2(onnx_file, target / file_name)
            write_json(target / QUANTIZATION_FILE, {"backend": "onnx", "file_name": file_name, "config": config})
    summary = {"name": name, "backend": "onnx-int8", "config": config, "variants": sorted(sources)}
    write_json(Path("metrics/quantize") / f"{name}.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_for_student("quantize", quantize_student, argv)


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
