"""The charts' interactive copy, ``reports/charts.html``: the same drawings as SVG in one self-contained page, every
point carrying a hover label (its name, kind and figures) as an SVG ``<title>``.

No script and nothing fetched when it is viewed: the browser shows a ``<title>`` as a tooltip on its own, so the
page works offline and from a file. ``dvc plots show`` draws the chart rows too, but its page loads Vega from a
CDN, so it shows nothing offline.
"""

from __future__ import annotations

import html
import io
import xml.etree.ElementTree as ET

from sentence_distill.fileio import atomic_path
from sentence_distill.report.chart_points import ChartPoint
from sentence_distill.report.scatter import POINT_GID, Chart

SVG = "http://www.w3.org/2000/svg"
STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; color: #222; }
svg { width: 100%; height: auto; }
g[id^="point-"]:hover use, g[id^="point-"]:hover path { stroke: black !important; stroke-width: 2px !important; }
"""


def hover_text(point: ChartPoint, x_text: str, y_name: str, marked: str | None, mark: str = "selected") -> str:
    """``x_text``: the x figure's line, a format string (``"speed-up {:.2f}x"``); ``marked``: the point standing
    for the selected model, said ``mark``."""
    marks = [*(["on the front"] if point.on_front else []), *([mark] if point.label == marked else [])]
    return "\n".join(
        [
            point.label + (f" ({', '.join(marks)})" if marks else ""),
            f"{point.kind}, {point.variant}",
            x_text.format(point.x),
            f"{y_name}: {point.y:.2f}",
        ]
    )


def svg_with_hover(chart: Chart, hovers: list[str]) -> str:
    """The chart as an SVG element whose point ``i`` carries ``hovers[i]`` as its ``<title>``."""
    import matplotlib

    ET.register_namespace("", SVG)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    buffer = io.StringIO()
    with matplotlib.rc_context(
        {"svg.hashsalt": "charts"}
    ):  # the same ids every run: the page changes only with the data
        chart.figure.savefig(buffer, format="svg", metadata={"Date": None})
    root = ET.fromstring(buffer.getvalue())
    groups = {g.get("id"): g for g in root.iter(f"{{{SVG}}}g")}
    for i, text in enumerate(hovers):
        group = groups[POINT_GID.format(i)]
        title = ET.Element(f"{{{SVG}}}title")
        title.text = text
        group.insert(0, title)
    root.attrib.pop("width", None)  # the viewBox stays: the drawing scales to the page
    root.attrib.pop("height", None)
    return ET.tostring(root, encoding="unicode")


def write_page(path, heading: str, charts: list[tuple[Chart, list[str]]]) -> None:
    """``charts``: each drawn chart with the hover label of every point, in the points' order."""
    body = "\n".join(f"<figure>{svg_with_hover(chart, hovers)}</figure>" for chart, hovers in charts)
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(heading)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{html.escape(heading)}</h1>\n"
        "<p>Hover over a point for its name and figures. Labelled: the front and the selected model.</p>\n"
        f"{body}\n</body>\n</html>\n"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
