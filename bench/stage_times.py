"""Where two pipeline runs spent their time, stage kind by stage kind, from the flow's logs.

    python -m bench.stage_times BEFORE.log AFTER.log [--names before after]

Each log is the output of ``python -m flows.pipeline`` (``make run``), whose every stage ends with the line
``<stage>: ran in <seconds> s, ...``: the stage's own process, DVC's check and record of it included. Prints a
markdown table: per kind of stage (``student@L3`` and ``student@L2`` are both ``student``), how many ran and their
seconds together in each run, then the totals and the stages that took under 15 s (the ones start-up dominates).
The whole run's wall time is measured outside (``/usr/bin/time``): it adds the flow's own start and Prefect's.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

RAN = re.compile(r"Task run '([^']+)' - \1: ran in ([\d.]+) s")
SHORT = 15.0  # seconds: a stage under this is mostly start-up


def stage_seconds(log: Path) -> dict[str, float]:
    return {stage: float(seconds) for stage, seconds in RAN.findall(log.read_text(encoding="utf-8", errors="replace"))}


def by_kind(seconds: dict[str, float]) -> dict[str, tuple[int, float]]:
    kinds: dict[str, list[float]] = defaultdict(list)
    for stage, value in seconds.items():
        kinds[stage.split("@")[0]].append(value)
    return {kind: (len(values), sum(values)) for kind, values in kinds.items()}


def table(runs: list[dict[str, float]], names: list[str]) -> str:
    kinds = [by_kind(run) for run in runs]
    order = sorted({k for run in kinds for k in run}, key=lambda k: -max(run.get(k, (0, 0.0))[1] for run in kinds))
    lines = [
        "| stages | " + " | ".join(f"{name}: n, s" for name in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for kind in order:
        cells = [f"{run[kind][0]}, {run[kind][1]:.1f}" if kind in run else "-" for run in kinds]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(f"{len(run)}, **{sum(run.values()):.1f}**" for run in runs) + " |")
    short = [[v for v in run.values() if v < SHORT] for run in runs]
    lines.append(f"| under {SHORT:.0f} s | " + " | ".join(f"{len(s)}, {sum(s):.1f}" for s in short) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--names", nargs="+")
    args = parser.parse_args()
    names = args.names or [log.stem for log in args.logs]
    print(table([stage_seconds(log) for log in args.logs], names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
