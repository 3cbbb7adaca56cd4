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
SENTENCE_TRANSFORMER = "from sentence_transformers import SentenceTransformer"
SENTENCES = ["A man is playing a guitar.", "Someone plays the guitar."]  # the usage snippet encodes these
TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "distillation", "knowledge-distillation"]


def load_call(folder: Path, truncate_dim: int | None = None) -> tuple[str, str, str]:
    """How to load ``folder``: the import, the call on ``path``, and a note. An int8 copy needs its backend and
    file; a torch int8 one, the project's loader; a Matryoshka cut, the dimension it keeps."""
    marker = folder / QUANTIZATION_FILE
    info = json.loads(marker.read_text()) if marker.is_file() else {}
    cut = f", truncate_dim={truncate_dim}" if truncate_dim else ""
    if info.get("backend") in ("onnx", "openvino"):
        backend, file_name = info["backend"], info["file_name"]
        return (
            SENTENCE_TRANSFORMER,
            f'SentenceTransformer(path, backend="{backend}", model_kwargs={{"file_name": "{file_name}"}}{cut})',
            "",
        )
    if info:
        return (
            "import sentence_distill.models",
            f"sentence_distill.models.load_variant(path{cut})",
            "torch int8 weights: `SentenceTransformer(path)` alone loads fp32 ones",
        )
    return SENTENCE_TRANSFORMER, f"SentenceTransformer(path{cut})", ""


def load_snippet(importing: str, call: str, path: str) -> str:
    """Python that loads the model at ``path`` and encodes two sentences: what the card's usage shows."""
    return "\n".join(
        [
            importing,
            "",
            f"path = {json.dumps(path)}",
            f"model = {call}",
            f"embeddings = model.encode({json.dumps(SENTENCES)})",
            "print(embeddings.shape, model.similarity(embeddings[:1], embeddings[1:]))",
        ]
    )


def build_card(
    label: str,
    folder: Path,
    made: list[Fact],
    rows: list[dict],
    results: list[EvalResult],
    speed: list[str],
    teacher: str,
    source: str,
    path: str,
    truncate_dim: int | None = None,
    selected: str = "",
) -> str:
    """The card of model ``label`` (files in ``folder``, released at ``path``): its ``model-index`` results and
    base model (``source``, the model it was made from, when a hub id) as metadata, then why it was selected (the
    selected model's card), how it was made, how to load it, its figures."""
    data = ModelCardData(
        model_name=label,
        base_model=source if HUB_ID.fullmatch(source) else None,
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=TAGS,
        eval_results=results or None,
    )
    importing, call, note = load_call(folder, truncate_dim)
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        label=label,
        teacher=teacher,
        source=source,
        selected=selected,
        made=made,
        load_call=call,
        load_note=note,
        snippet=load_snippet(importing, call, path),
        table=markdown_table(rows),
        speed=speed,
    )
    return str(card)
