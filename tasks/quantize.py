"""Quantization: int8 copies of each student and of each of its PCA models, one folder per backend.

- ``python -m tasks.quantize NAME`` (stage ``quantize@NAME``) writes ``models/<name>/quantized/<backend>``
  and ``metrics/quantize/<name>.json``; the int8 calibration uses the first ``quantize.calibration_sentences``
  training sentences of the corpus.
- ``python -m tasks.quantize NAME DIM`` (stage ``quantize_pca@NAME-DIM``) writes
  ``models/<name>/pca-quantized/<dim>/<backend>``: the PCA model with the student's int8 Transformer.

What each backend's folder holds, and why: ``sentence_distill/quantization.py``.
"""

from __future__ import annotations

from pathlib import Path

from sentence_distill.cli import run_for_student, stage_main
from sentence_distill.config.schema import Params
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.fileio import write_json, write_note_dir
from sentence_distill.paths import pca_dir, pca_quantized_dir, quantized_dir, student_dir
from sentence_distill.quantization import export_int8_models, int8_pca_models, no_int8_note


def quantize_student(name: str, params: Params) -> dict:
    backends = params.backends_for(name)
    calibration = corpus_sentences("train")[: params.quantize.calibration_sentences] if backends else []
    exported = export_int8_models(
        student_dir(name), quantized_dir(name), backends, calibration, no_int8_note(name, params)
    )
    summary = {"name": name, **exported}
    write_json(Path("metrics/quantize") / f"{name}.json", summary)
    return summary


def quantize_pca(name: str, dim: int, params: Params) -> None:
    if dim not in params.pca_dims_for(name):
        write_note_dir(pca_quantized_dir(name, dim), params.no_pca_note(name))
        return
    int8_pca_models(
        pca_dir(name, dim),
        quantized_dir(name),
        pca_quantized_dir(name, dim),
        params.backends_for(name),
        no_int8_note(name, params),
    )


def main(argv: list[str] | None = None) -> int:
    return run_for_student("quantize", argv, student=quantize_student, dimension=quantize_pca)


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
