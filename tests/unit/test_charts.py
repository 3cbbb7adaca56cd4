"""The report's charts: what each point is (kind and variant), labels on the front and the selected model only and
clear of each other, the selected model marked, and the interactive copy's hover labels. Run on a crowded
hand-made set and on the finished default run's chart rows (``tests/unit/default_run/``, the cold run at 9bdefef: its
``reports/models.json`` and ``embeddings.json`` and the params that name them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from sentence_distill.config.load import parse_params
from sentence_distill.report.build import build_report
from sentence_distill.report.chart_points import ChartPoint, chart_points, label_kinds
from sentence_distill.report.charts import draw_charts
from sentence_distill.report.interactive import write_page
from sentence_distill.report.scatter import SELECTED_AREA, Chart, close, draw
from tests.project import ROOT

DEFAULT_RUN = Path(__file__).parent / "default_run"


def params_with(**sections):
    raw = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if key != "students" else value
    return parse_params(raw, check_inputs=False)


def assert_labels_clear(chart: Chart, expected: set[str]) -> None:
    """Exactly ``expected`` labelled; no label box overlaps another, a labelled point's marker, the title or an
    axis label, and every label lies inside the plot area."""
    assert set(chart.labels) == expected
    boxes = list(chart.labels.items())
    for i, (label, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1 :]:
            assert not box.overlaps(other_box), f"{label} overlaps {other}"
        for point, marker in chart.markers.items():
            assert not box.overlaps(marker), f"{label} covers the marker of {point}"
        for fixed in chart.fixed:
            assert not box.overlaps(fixed), f"{label} overlaps the title or an axis label"
        area = chart.plot_area
        assert area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1, label


def ringed(chart: Chart) -> list[tuple[float, float]]:
    """The data positions the selected model's ring is drawn at."""
    return [tuple(c.get_offsets()[0]) for c in chart.axes.collections if list(c.get_sizes()) == [SELECTED_AREA]]


def test_kinds_and_variants_from_the_params() -> None:
    params = params_with(
        students={
            "P": {"layers": [0, 5], "matryoshka_dims": [64]},
            "M": {"model": "sentence-transformers/paraphrase-MiniLM-L3-v2"},
            "S": {"static": True},
        },
        pca={"dims": [32]},
        quantize={"backends": ["onnx-int8", "torch-int8"]},
    )
    kinds = {label: kind_variant[:2] for label, kind_variant in label_kinds(params).items()}
    assert kinds["teacher"] == ("teacher", "float32")
    assert kinds["P"] == ("pruned student", "float32")
    assert kinds["P-torch-int8"] == ("pruned student", "torch-int8")
    assert kinds["M-onnx-int8"] == ("smaller model", "onnx-int8")
    assert kinds["S"] == ("static", "float32")
    assert "S-onnx-int8" not in kinds  # a static table has no int8 copy
    assert kinds["S-pca32"] == ("PCA", "float32")
    assert kinds["P-pca32-onnx-int8"] == ("PCA", "onnx-int8")
    assert kinds["P-mrl64-onnx-int8"] == ("Matryoshka cut", "onnx-int8")
    assert kinds["P-mrl64-emb-binary"] == ("Matryoshka cut", "binary")
    assert kinds["teacher-emb-uint8"] == ("teacher", "uint8")
    assert label_kinds(params)["P-pca32-onnx-int8"][2] == "P-pca32"  # its float32 model
    with pytest.raises(KeyError, match="Q-pca32"):
        chart_points([("Q-pca32", 1.0, 80.0, False)], params)


def crowded() -> list[ChartPoint]:
    """Forty points in one column at nearly one speed-up, every third on the front (labels with room above)."""
    return [
        ChartPoint(f"L{i}-pca128-openvino-int8", 5.0 + 0.02 * i, 70 + 0.3 * i, "PCA", "openvino-int8", i % 3 == 0)
        for i in range(40)
    ] + [ChartPoint("teacher", 1.0, 82.0, "teacher", "float32", True)]


def test_crowded_labels_are_clear_of_each_other_and_the_title() -> None:
    points = crowded()
    chart = draw(points, "speed-up", "STSb", "crowded", selected="L7-pca128-openvino-int8")
    try:
        assert_labels_clear(chart, {p.label for p in points if p.on_front} | {"L7-pca128-openvino-int8"})
        assert ringed(chart) == [(5.0 + 0.02 * 7, 70 + 0.3 * 7)]
    finally:
        close(chart)


def test_no_selection_marks_nothing_and_an_unknown_one_is_refused() -> None:
    chart = draw(crowded(), "speed-up", "STSb", "crowded")
    try:
        assert ringed(chart) == [] and len(chart.labels) == 15
    finally:
        close(chart)
    with pytest.raises(KeyError, match="L99"):
        draw(crowded(), "speed-up", "STSb", "crowded", selected="L99")


def test_labels_that_cannot_all_fit_are_left_out_not_stacked_and_the_selected_one_is_placed_first() -> None:
    packed = [ChartPoint(f"a-model-with-a-long-name-{i}", 2.0, 80.0, "PCA", "float32", True) for i in range(40)]
    packed += [ChartPoint("teacher", 1.0, 60.0, "teacher", "float32", False)]
    chart = draw(packed, "x", "y", "too many labels", selected="a-model-with-a-long-name-39")
    try:
        assert chart.unlabelled and len(chart.labels) + len(chart.unlabelled) == 40
        assert "a-model-with-a-long-name-39" in chart.labels
        boxes = list(chart.labels.values())
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    finally:
        close(chart)


def default_run_points() -> tuple[list[ChartPoint], list[ChartPoint], object]:
    params = params_with(**yaml.safe_load((DEFAULT_RUN / "params.yaml").read_text()))
    models = json.loads((DEFAULT_RUN / "models.json").read_text())
    embeddings = json.loads((DEFAULT_RUN / "embeddings.json").read_text())
    return (
        chart_points([(r["model"], r["speedup"], r["stsb"], r["pareto"]) for r in models], params),
        chart_points([(r["model"], r["bytes_per_embedding"], r["stsb"], r["pareto"]) for r in embeddings], params),
        params,
    )


@pytest.mark.parametrize(
    ("selected", "on_embeddings", "text"),
    [
        ("L3-openvino-int8", "L3", "selected L3-openvino-int8 (as L3)"),  # the run's own choice, on the front
        ("L3-onnx-int8", "L3", "selected L3-onnx-int8 (as L3)"),  # on the front of the models chart
        ("L3m-mrl128-openvino-int8", "L3m-mrl128", "selected L3m-mrl128-openvino-int8 (as L3m-mrl128)"),  # crowded
        ("S-pca128", "S-pca128", "S-pca128"),  # a float32 model: itself on both charts
    ],
)
def test_default_run_charts_label_the_front_and_mark_the_selected_model(
    selected: str, on_embeddings: str, text: str
) -> None:
    models, embeddings, params = default_run_points()
    assert len(models) == 40 and len(embeddings) == 72
    assert {p.kind for p in models} == {"teacher", "pruned student", "static", "PCA", "Matryoshka cut"}
    assert {p.variant for p in embeddings} == {"float32", "int8", "uint8", "binary"}
    (model_chart, model_hovers), (embedding_chart, embedding_hovers) = draw_charts(
        models, embeddings, "STSb test Spearman x100", params, selected
    )
    try:
        assert_labels_clear(model_chart, {p.label for p in models if p.on_front} | {selected})
        assert_labels_clear(embedding_chart, {p.label for p in embeddings if p.on_front} | {on_embeddings})
        chosen = next(p for p in models if p.label == selected)
        assert ringed(model_chart) == [(chosen.x, chosen.y)]
        stand_in = next(p for p in embeddings if p.label == on_embeddings)
        assert ringed(embedding_chart) == [(stand_in.x, stand_in.y)]
        texts = {t.get_text() for t in embedding_chart.axes.texts}
        assert text in texts
        assert len(model_hovers) == 40 and len(embedding_hovers) == 72
    finally:
        close(model_chart)
        close(embedding_chart)


def test_the_interactive_page_has_a_hover_label_on_every_point_and_loads_nothing(tmp_path: Path) -> None:
    models, embeddings, params = default_run_points()
    drawn = draw_charts(models, embeddings, "STSb test Spearman x100", params, "L3-onnx-int8")
    write_page(tmp_path / "charts.html", "Distillation trade-offs", drawn)
    for chart, _ in drawn:
        close(chart)
    page = (tmp_path / "charts.html").read_text()
    hovers = re.findall(r"<title>([^<]*)</title>", page)[1:]  # the first is the page's
    assert len(hovers) == 40 + 72
    assert "L3-onnx-int8 (on the front, selected)\npruned student, onnx-int8\nspeed-up 4.97x" in hovers[2]
    assert any(h.startswith("S0-pca64-emb-binary\nPCA, binary\n8 bytes per embedding") for h in hovers)
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert "Date" not in page  # the same run gives the same page


def test_the_report_marks_the_model_its_selection_chose(metrics, tmp_path: Path) -> None:
    eval_dir, benchmark_file, params = metrics
    build_report(tmp_path / "reports", eval_dir, benchmark_file, tmp_path / "summary.json", params)
    chosen = json.loads((tmp_path / "selected.json").read_text())["chosen"]["model"]
    page = (tmp_path / "reports" / "charts.html").read_text()
    selected = [h.split("\n")[0] for h in re.findall(r"<title>([^<]*)</title>", page) if "selected" in h.split("\n")[0]]
    assert chosen == "L2-onnx-int8"  # the fastest within the default floor of the hand-made run
    assert selected == [  # the models chart's, then the embeddings chart's
        "L2-onnx-int8 (on the front, selected)",
        "L2 (the float32 model of the selected L2-onnx-int8)",
    ]
