"""A release folder's model card, rendered from ``card_template.md``: metadata, provenance, usage, figures."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from sentence_distill.assets import HUB_ID
from sentence_distill.paths import QUANTIZATION_FILE
from sentence_distill.provenance import Fact
from sentence_distill.release.figures import markdown_table

TEMPLATE = Path(__file__).with_name("card_template.md")
TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "distillation", "knowledge-distillation"]


def load_call(folder: Path) -> tuple[str, str]:
    """How to load ``folder``, and a note: an int8 copy needs its backend and file; a torch int8 one, the
    project's loader."""
    marker = folder / QUANTIZATION_FILE
    info = json.loads(marker.read_text()) if marker.is_file() else {}
    if info.get("backend") in ("onnx", "openvino"):
        backend, file_name = info["backend"], info["file_name"]
        return f'SentenceTransformer(path, backend="{backend}", model_kwargs={{"file_name": "{file_name}"}})', ""
    if info:
        return (
            "sentence_distill.models.load_variant(path)",
            "torch int8 weights: `SentenceTransformer(path)` alone loads fp32 ones",
        )
    return "SentenceTransformer(path)", ""


def build_card(
    label: str,
    folder: Path,
    made: list[Fact],
    rows: list[dict],
    results: list[EvalResult],
    speed: list[str],
    teacher: str,
    source: str,
) -> str:
    """The card of model ``label`` (files in ``folder``): its ``model-index`` results and base model (``source``,
    the model it was made from, when a hub id) as metadata, then how it was made, how to load it, its figures."""
    data = ModelCardData(
        model_name=label,
        base_model=source if HUB_ID.fullmatch(source) else None,
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=TAGS,
        eval_results=results or None,
    )
    call, note = load_call(folder)
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        label=label,
        teacher=teacher,
        source=source,
        made=made,
        load_call=call,
        load_note=note,
        table=markdown_table(rows),
        speed=speed,
    )
    return str(card)
