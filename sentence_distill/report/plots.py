"""The report's charts: a log-x scatter of every point with its front joined by a line, labels never overlapping."""

from __future__ import annotations

from pathlib import Path

from sentence_distill.fileio import atomic_path


def plot(points: list[tuple[float, float, str, bool]], xlabel: str, ylabel: str, title: str, path: Path) -> list:
    """A log-x scatter with its front joined by a line and every point labelled; returns the labels' boxes.

    Labels are placed bottom-up and each one moves up until it overlaps none placed before, with a
    leader line back to its point once moved, so no two labels overlap.
    """
    import matplotlib  # here, not at the top: the flow reads the rows without paying for matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for x, y, _, on_front in points:
        ax.scatter(x, y, color="tab:red" if on_front else "tab:blue", s=18, zorder=3)
    line = sorted((x, y) for x, y, _, on_front in points if on_front)
    ax.plot([x for x, _ in line], [y for _, y in line], color="tab:red", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left")
    xs, ys = [x for x, _, _, _ in points], [y for _, y, _, _ in points]
    ax.set_xlim(min(xs) / 1.3, max(xs) * 2.5)  # room for the labels of the rightmost points
    ax.set_ylim(min(ys) - 1, max(ys) + 0.15 * (max(ys) - min(ys)) + 2)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    placed = []
    for x, y, label, _ in sorted(points, key=lambda p: (p[1], p[0])):
        text = ax.annotate(label, (x, y), xytext=(4, 2), textcoords="offset points", fontsize=7, annotation_clip=False)
        lift = 2
        box = text.get_window_extent(renderer)
        while any(box.overlaps(other) for other in placed):
            lift += 2
            text.xyann = (4, lift)
            box = text.get_window_extent(renderer)
        if lift > 2:
            ax.annotate(
                "",
                (x, y),
                xytext=(4, lift),
                textcoords="offset points",
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5},
                annotation_clip=False,
            )
        placed.append(box)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return placed
