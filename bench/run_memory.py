"""Memory of a whole pipeline run: the peak of all its processes together, and each stage's own peak.

    python -m bench.run_memory -- python -m flows.pipeline     # or: -- dvc repro

Runs the command and samples its process tree every ``--interval`` seconds (RSS, with psutil). A stage
process is one whose command line runs ``tasks.<module>``; its label is that command. Prints the peak
of the tree's summed RSS, the largest stage's peak, and their ratio. Sampling misses peaks shorter than
the interval; GNU ``time -v`` gives the largest single process exactly, not the sum.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time

import psutil

STAGE = re.compile(r"-m (tasks\.\S+(?: \S+){0,2})$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    process = subprocess.Popen(command)
    root = psutil.Process(process.pid)
    peak_total, stages = 0, {}
    while process.poll() is None:
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss
                cmdline = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            total += rss
            if match := STAGE.search(cmdline):
                stages[match.group(1)] = max(stages.get(match.group(1), 0), rss)
        peak_total = max(peak_total, total)
        time.sleep(args.interval)
    for label, rss in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"{rss / 2**30:6.2f} GiB  {label}")
    largest = max(stages.values(), default=0)
    print(
        f"whole run, all processes together: peak {peak_total / 2**30:.2f} GiB; largest stage {largest / 2**30:.2f} GiB"
        + (f" ({peak_total / largest:.2f}x)" if largest else "")
    )
    return process.returncode


if __name__ == "__main__":
    raise SystemExit(main())
