"""How long a run takes when nothing changed: `dvc repro`, the flow against a running Prefect server,
and the flow with its own temporary server, timed in interleaved rounds on a finished project.

    python -m bench.noop_flow PROJECT [--rounds 3]

PROJECT is a project whose pipeline has run (``dvc status`` clean). For the "running server" case the
script starts a Prefect server on 127.0.0.1 the way the tests do (its own home in a temporary folder)
and stops it after.
Prints each round's seconds, the median per command and its ratio to `dvc repro` in the same round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.prefect_server import start_server, stop


def timed(cmd: list[str], project: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0 or "Running stage" in result.stdout + result.stderr:
        raise SystemExit(
            f"{' '.join(cmd)}: not a no-op run ({result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}"
        )
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.noop_flow", description=__doc__.split("\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    project = args.project.resolve()
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    base = {k: v for k, v in base.items() if k != "PREFECT_API_URL"}
    home = Path(tempfile.mkdtemp(prefix="prefect-bench-"))
    server, running = start_server(home)
    commands = {
        "dvc repro": (["dvc", "repro"], base),
        "flow, running server": (
            [sys.executable, "-m", "flows.pipeline"],
            {**base, "PREFECT_API_URL": running.api_url},
        ),
        "flow, temporary server": ([sys.executable, "-m", "flows.pipeline"], base),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        cmd, env = commands["flow, running server"]
        timed(cmd, project, env)  # warm-up
        for round_ in range(args.rounds):
            for name, (cmd, env) in commands.items():
                times[name].append(timed(cmd, project, env))
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.1f} s" for n, t in times.items()), flush=True)
    finally:
        stop(server)
        shutil.rmtree(home, ignore_errors=True)
    reference = times["dvc repro"]
    for name, seconds in times.items():
        ratios = [s / r for s, r in zip(seconds, reference, strict=True)]
        print(
            f"{name}: median {statistics.median(seconds):.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f}), "
            f"{statistics.median(ratios):.1f}x dvc repro"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
