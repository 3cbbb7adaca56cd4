"""Two finished runs side by side, model by model: what a change of recipe did to quality, and to speed.

    python -m bench.compare_runs BEFORE_RUN AFTER_RUN [MODEL ...] [--task NAME]
    python -m bench.compare_runs BEFORE_RUN AFTER_RUN --figures

Each run is a project folder after ``make run`` (its ``reports/models.json`` and ``metrics/eval/*.json``). Prints a
markdown table, one row per model (the ones named, or every model of the second run the first has too): STSb test
kept, the four families' mean kept, the own task's kept share (``--task``, default: the run's first own task) and
the speed-up, each as ``before → after``. Speed-ups compare only within one run: the two columns are two
benchmarks, of two runs.

``--figures`` compares every quality figure instead: each number of each metrics file of the first run (the
benchmark's and every speed, time or date key left out) with the second run's, and prints how many are identical
and, per file, how many differ: what a change really touched.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(run: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """The report's rows by model, and every variant's evaluation figures."""
    rows = {row["model"]: row for row in json.loads((run / "reports" / "models.json").read_text())}
    variants: dict[str, dict] = {}
    for path in sorted((run / "metrics" / "eval").glob("*.json")):
        variants.update(json.loads(path.read_text())["variants"])
    return rows, variants


def cells(rows: dict[str, dict], variants: dict[str, dict], model: str, task: str | None) -> list[str]:
    figures = variants.get(model, {})
    own = (figures.get("own_tasks") or {}).get(task) if task else None
    return [
        f"{100 * figures['stsb_test_kept']:.2f}%" if "stsb_test_kept" in figures else "-",
        f"{rows[model]['families_kept_mean']:.2f}%",
        f"{100 * own['kept']:.1f}%" if own else "-",
        f"{rows[model]['speedup']:.2f}x",
    ]


def first_task(variants: dict[str, dict]) -> str | None:
    for figures in variants.values():
        if figures.get("own_tasks"):
            return next(iter(figures["own_tasks"]))
    return None


def table(before: Path, after: Path, models: list[str], task: str | None) -> str:
    (rows_a, variants_a), (rows_b, variants_b) = load(before), load(after)
    task = task or first_task(variants_b)
    names = models or [name for name in rows_b if name in rows_a]
    lines = [
        f"| model | STSb test kept | four-family mean kept | {task or 'own task'} kept | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        pairs = zip(cells(rows_a, variants_a, name, task), cells(rows_b, variants_b, name, task), strict=True)
        lines.append(f"| {name} | " + " | ".join(f"{a} → {b}" for a, b in pairs) + " |")
    return "\n".join(lines)


NOT_QUALITY = (
    "seconds",
    "speed",
    "latency",
    "per_second",
    "train_",
    "runtime",
    "date",
    "git_commit",
    "duration",
    "peak",
)


def figure_differences(before: Path, after: Path) -> tuple[int, dict[str, int]]:
    """How many quality figures of ``before``'s metrics files ``after`` has identical, and per file how many not
    (a figure or a file ``after`` lacks counts as different)."""
    same, differ = 0, {}

    def walk(a: object, b: object, where: str) -> None:
        nonlocal same
        if isinstance(a, dict) and isinstance(b, dict):
            for key, value in a.items():
                if not any(part in key for part in NOT_QUALITY):
                    walk(value, b.get(key), where)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for u, v in zip(a, b, strict=True):
                walk(u, v, where)
        elif a == b:
            same += 1
        else:
            differ[where] = differ.get(where, 0) + 1

    for path in sorted((before / "metrics").rglob("*.json")):
        relative = path.relative_to(before)
        if relative.name == "benchmark.json":
            continue
        other = after / relative
        walk(json.loads(path.read_text()), json.loads(other.read_text()) if other.is_file() else None, str(relative))
    return same, differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("models", nargs="*", help="these models, in this order (default: every shared one)")
    parser.add_argument("--task", default=None, help="the own task whose kept share to show")
    parser.add_argument("--figures", action="store_true", help="count identical and differing quality figures")
    args = parser.parse_args(argv)
    if args.figures:
        same, differ = figure_differences(args.before, args.after)
        print(f"{same} quality figures identical, {sum(differ.values())} differ")
        for where, count in differ.items():
            print(f"  {where}: {count}")
        return 0
    print(table(args.before, args.after, args.models, args.task))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
