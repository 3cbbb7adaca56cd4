"""The report's two charts from its rows: ``reports/models.png`` (quality against speed-up), ``reports/embeddings.png``
(quality against bytes per embedding), and their interactive copy ``reports/charts.html``."""

from __future__ import annotations

from pathlib import Path

from sentence_distill.config.schema import Params
from sentence_distill.report.chart_points import ChartPoint, chart_points, selected_on_chart
from sentence_distill.report.interactive import hover_text, write_page
from sentence_distill.report.rows import Row
from sentence_distill.report.scatter import Chart, close, draw, save_png

SPEED_AXIS = ("speed-up over the teacher (log scale; benchmark stage)", "speed-up {:.2f}x")  # axis, hover line
BYTES_AXIS = ("bytes per embedding (log scale)", "{:.0f} bytes per embedding")


def draw_charts(
    models: list[ChartPoint],
    embeddings: list[ChartPoint],
    quality_name: str,
    params: Params,
    selected: str | None = None,
) -> list[tuple[Chart, list[str]]]:
    """Both charts, each with the hover label of every point; ``selected``: the selected model's label (None:
    nothing marked), on the embeddings chart its float32 model when it is an int8 copy."""
    drawn = []
    for points, (xlabel, x_text), title in (
        (models, SPEED_AXIS, "Model compression"),
        (embeddings, BYTES_AXIS, "Embedding compression"),
    ):
        marked = selected_on_chart(selected, points, params)
        stand_in = marked not in (None, selected)
        text = f"selected {selected} (as {marked})" if stand_in else None
        chart = draw(points, xlabel, quality_name, title, marked, text)
        mark = f"the float32 model of the selected {selected}" if stand_in else "selected"
        drawn.append((chart, [hover_text(p, x_text, quality_name, marked, mark) for p in points]))
    return drawn


def write_charts(
    report_dir: Path,
    models: list[Row],
    model_front: set[str],
    embeddings: list[Row],
    storage_front: set[str],
    quality_name: str,
    params: Params,
    selected: str | None = None,
) -> None:
    model_points = chart_points([(r.model, r.speedup, 100 * r.quality, r.model in model_front) for r in models], params)
    embedding_points = chart_points(
        [(r.model, r.metrics.bytes_per_embedding, 100 * r.quality, r.model in storage_front) for r in embeddings],
        params,
    )
    drawn = draw_charts(model_points, embedding_points, quality_name, params, selected)
    for (chart, _), name in zip(drawn, ("models.png", "embeddings.png"), strict=True):
        save_png(chart, report_dir / name)
    write_page(report_dir / "charts.html", "Distillation trade-offs", drawn)
    for chart, _ in drawn:
        close(chart)
