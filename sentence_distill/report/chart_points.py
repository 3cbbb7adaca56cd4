"""What each point of the report's charts is: its kind (what its float32 model is made of) and its variant (how
it runs or is stored), read off its label with the labels the params produce.

Colour tells the kinds apart, marker the variants, so a reader finds "the int8 copies of PCA models" without
reading labels: the charts label only the front and the selected model.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentence_distill.config.schema import Params
from sentence_distill.paths import FP32, TEACHER, truncated_label, variant_label
from sentence_distill.report.rows import EMBEDDING_MARK

FLOAT32 = "float32"
KIND_COLOURS = {  # kind -> colour (matplotlib's colour-blind-safe tab10, the teacher black)
    "teacher": "black",
    "pruned student": "tab:blue",
    "smaller model": "tab:green",
    "static": "tab:orange",
    "PCA": "tab:purple",
    "Matryoshka cut": "tab:brown",
}
VARIANT_MARKERS = {  # variant -> marker: a model's runtime (float32 or an int8 backend), an embedding's precision
    FLOAT32: "o",
    "onnx-int8": "^",
    "openvino-int8": "v",
    "torch-int8": "<",
    "int8": "s",
    "uint8": "D",
    "binary": "X",
    "ubinary": "P",
}


@dataclass(frozen=True)
class ChartPoint:
    """A point of a chart: the row's label, its position, what it is, and whether it is on the chart's front."""

    label: str
    x: float
    y: float
    kind: str  # a key of KIND_COLOURS
    variant: str  # a key of VARIANT_MARKERS
    on_front: bool


def student_kind(params: Params, name: str) -> str:
    spec = params.students[name]
    if spec.static:
        return "static"
    return "smaller model" if spec.model is not None else "pruned student"


def label_kinds(params: Params) -> dict[str, tuple[str, str, str]]:
    """Every label a run of ``params`` can have -> (kind, variant, its float32 model's label): each model, its
    int8 copies and its embedding precisions, named by ``paths``' own label functions."""
    models = {TEACHER: ("teacher", FLOAT32, TEACHER)}
    for name in params.students:
        for group in [FP32, *params.backends_for(name)]:
            variant = FLOAT32 if group == FP32 else group
            models[variant_label(name, group)] = (student_kind(params, name), variant, name)
            for dim in params.pca_dims_for(name):
                models[variant_label(name, group, dim)] = ("PCA", variant, variant_label(name, FP32, dim))
            for dim in params.students[name].matryoshka_dims:
                models[truncated_label(name, group, dim)] = (
                    "Matryoshka cut",
                    variant,
                    truncated_label(name, FP32, dim),
                )
    kinds = dict(models)
    for label, (kind, variant, fp32) in models.items():
        if variant == FLOAT32:
            for precision in params.evaluate.embedding_precisions:
                kinds[f"{label}{EMBEDDING_MARK}{precision}"] = (kind, precision, fp32)
    return kinds


def chart_points(rows: list[tuple[str, float, float, bool]], params: Params) -> list[ChartPoint]:
    """``rows``: (label, x, y, on the front) of a chart; every label must be one ``params`` produce."""
    kinds = label_kinds(params)
    missing = [label for label, *_ in rows if label not in kinds]
    if missing:
        raise KeyError(f"chart rows not produced by these params: {', '.join(missing)}")
    return [ChartPoint(label, x, y, *kinds[label][:2], on_front) for label, x, y, on_front in rows]


def selected_on_chart(selected: str | None, points: list[ChartPoint], params: Params) -> str | None:
    """The point that stands for the selected model on a chart: itself, or (on the embeddings chart, which has
    float32 models only) the float32 model whose output an int8 copy approximates."""
    labels = {p.label for p in points}
    if selected is None or selected in labels:
        return selected
    fp32 = label_kinds(params).get(selected, (None, None, None))[2]
    return fp32 if fp32 in labels else None
