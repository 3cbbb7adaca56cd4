"""The report's charts: a log-x scatter of every point, coloured by kind and shaped by variant, its front joined
by a line, and only the front and the selected model labelled, each label placed clear of the others.

Labelling every point stacks the labels of the crowded int8 and PCA columns over each other and over the
title; a reader finds a model through the front, the legend, and the interactive copy's hover labels instead.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from sentence_distill.report.chart_points import KIND_COLOURS, VARIANT_MARKERS, ChartPoint

log = logging.getLogger(__name__)

DPI = 120
MARKER_AREA = 22  # points^2, as scatter's ``s``
SELECTED_AREA = 240
LABEL_SIZE = 7
DIRECTIONS = [(1, 0.35), (1, -0.35), (0, 1), (0, -1), (-1, 0.35), (-1, -0.35), (1, 1), (-1, 1), (1, -1), (-1, -1)]
RADII = [5, 10, 16, 24, 34, 46, 60, 76, 94, 116, 140]  # points from the marker's centre
POINT_GID = "point-{}"  # the SVG group of point i: the interactive copy hangs its hover label there


@dataclass
class Chart:
    """A drawn chart and where its labels went (display boxes at ``DPI``), for saving and for the tests."""

    figure: object
    axes: object
    labels: dict = field(default_factory=dict)  # point label -> its text's box
    markers: dict = field(default_factory=dict)  # labelled point -> its marker's box
    fixed: list = field(default_factory=list)  # the title's and the axis labels' boxes
    plot_area: object = None
    unlabelled: list = field(default_factory=list)  # points whose label found no clear place (hover only)


def marker_box(ax, x: float, y: float, area: float):
    """The display box of a marker of ``area`` points^2 centred on data point (x, y)."""
    from matplotlib.transforms import Bbox

    cx, cy = ax.transData.transform((x, y))
    r = math.sqrt(area) / 2 * DPI / 72
    return Bbox([[cx - r, cy - r], [cx + r, cy + r]])


def draw(
    points: list[ChartPoint],
    xlabel: str,
    ylabel: str,
    title: str,
    selected: str | None = None,
    selected_text: str | None = None,
) -> Chart:
    """The chart of ``points``; ``selected`` (a point's label, None: none) is ringed and labelled
    ``selected_text`` (default: its label)."""
    import matplotlib  # here, not at the top: the flow reads the rows without paying for matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(10, 6), dpi=DPI)
    for i, p in enumerate(points):
        dot = ax.scatter(
            p.x,
            p.y,
            s=MARKER_AREA,
            marker=VARIANT_MARKERS[p.variant],
            color=KIND_COLOURS[p.kind],
            edgecolors="tab:red" if p.on_front else "none",
            linewidths=1.2,
            zorder=3,
        )
        dot.set_gid(POINT_GID.format(i))
    line = sorted((p.x, p.y) for p in points if p.on_front)
    ax.plot([x for x, _ in line], [y for _, y in line], color="tab:red", lw=1, zorder=2)
    chosen = next((p for p in points if p.label == selected), None)
    if selected is not None and chosen is None:
        raise KeyError(f"the selected model {selected} is not on the chart {title!r}")
    if chosen:
        ax.scatter(chosen.x, chosen.y, s=SELECTED_AREA, facecolors="none", edgecolors="black", lw=1.6, zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    xs, ys = [p.x for p in points], [p.y for p in points]
    ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
    span = max(ys) - min(ys) or 1.0
    ax.set_ylim(min(ys) - 0.06 * span, max(ys) + 0.1 * span)
    kinds = [k for k in KIND_COLOURS if any(p.kind == k for p in points)]
    variants = [v for v in VARIANT_MARKERS if any(p.variant == v for p in points)]
    kind_legend = ax.legend(
        [Line2D([], [], ls="", marker="o", color=KIND_COLOURS[k]) for k in kinds],
        kinds,
        title="model",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title_fontsize=8,
    )
    ax.add_artist(kind_legend)
    marks = [
        *(Line2D([], [], ls="", marker=VARIANT_MARKERS[v], color="0.45") for v in variants),
        Line2D([], [], color="tab:red", lw=1, marker="o", mfc="0.45", mec="tab:red"),
        *([Line2D([], [], ls="", marker="o", ms=13, mfc="none", mec="black")] if chosen else []),
    ]
    ax.legend(
        marks,
        [*variants, "front (labelled)", *(["selected model"] if chosen else [])],
        title="runs as / stored as",
        loc="upper left",
        bbox_to_anchor=(1.01, 0.55),
        fontsize=8,
        title_fontsize=8,
    )
    fig.tight_layout()
    chart = Chart(fig, ax)
    renderer = fig.canvas.get_renderer()
    chart.fixed = [t.get_window_extent(renderer) for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
    chart.plot_area = ax.get_window_extent(renderer)
    texts = {p.label: p.label for p in points if p.on_front}
    if chosen:
        texts[chosen.label] = selected_text or chosen.label
    place_labels(chart, [p for p in points if p.label in texts], texts, points, selected, renderer)
    return chart


def place_labels(
    chart: Chart, labelled: list[ChartPoint], texts: dict, points: list[ChartPoint], selected: str | None, renderer
) -> None:
    """Place each label, top to bottom, where its box stays in the plot area and overlaps no label placed before,
    no labelled point's marker, and neither the title nor the axis labels: on the nearest ring of offsets
    (``RADII`` x ``DIRECTIONS``) with such a place covering no other marker, else where it covers the fewest.
    A label away from its point gets a leader line. The selected model's label is placed first; a label with no
    clear place at all is left out (never stacked), logged, and the point keeps its hover label in the page."""
    ax = chart.axes
    chart.markers = {
        p.label: marker_box(ax, p.x, p.y, SELECTED_AREA if p.label == selected else MARKER_AREA) for p in labelled
    }
    others = [marker_box(ax, p.x, p.y, MARKER_AREA) for p in points if p.label not in texts]
    area = chart.plot_area
    for p in sorted(labelled, key=lambda p: (p.label != selected, -p.y, p.x)):
        text = ax.annotate(
            texts[p.label],
            (p.x, p.y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=LABEL_SIZE,
            fontweight="bold" if p.label == selected else "normal",
            annotation_clip=False,
            zorder=5,
        )
        hard = [*chart.labels.values(), *chart.markers.values(), *chart.fixed]
        best = None
        for radius in RADII:
            for dx, dy in DIRECTIONS:
                norm = math.hypot(dx, dy)
                offset = (radius * dx / norm, radius * dy / norm)
                text.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
                text.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
                text.xyann = offset
                box = text.get_window_extent(renderer)
                inside = area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1
                if not inside or any(box.overlaps(b) for b in hard):
                    continue
                covered = sum(box.overlaps(b) for b in others)
                if best is None or covered < best[0]:
                    best = (covered, offset, text.get_ha(), text.get_va(), box)
            if best is not None and best[0] == 0:
                break
        if best is None:
            text.remove()
            chart.unlabelled.append(p.label)
            log.warning(
                "chart %r: no place for the label of %s clear of the others; left to the hover label",
                ax.get_title(),
                p.label,
            )
            continue
        _, offset, ha, va, box = best
        text.xyann = offset
        text.set_ha(ha)
        text.set_va(va)
        if math.hypot(*offset) > RADII[1]:
            ax.annotate(
                "",
                (p.x, p.y),
                xytext=offset,
                textcoords="offset points",
                arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.5, "shrinkA": 0, "shrinkB": 3},
                annotation_clip=False,
                zorder=1,
            )
        chart.labels[p.label] = box


def save_png(chart: Chart, path) -> None:
    from sentence_distill.fileio import atomic_path

    with atomic_path(path) as tmp:
        chart.figure.savefig(tmp, format="png", dpi=DPI)


def close(chart: Chart) -> None:
    import matplotlib.pyplot as plt

    plt.close(chart.figure)
