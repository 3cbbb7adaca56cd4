"""The bridge from Prefect to DVC: each stage of ``dvc.yaml`` is one Prefect task that runs ``dvc repro``.

A task runs ``dvc --wait-for-lock repro --single-item <stage>`` in a subprocess, so both drivers
have DVC's semantics: old outputs are removed first, a result DVC's run-cache holds is restored
instead of recomputed, DVC's repository lock is respected, and each stage runs in a fresh process
(no thread settings, RNG state or memory carried from one stage to the next). DVC releases its lock
while a stage's command runs, so independent stages can run at once and ``dvc.lock`` is only
written under the lock. The task's state says what happened: ``Completed`` when the stage ran,
``Cached`` when DVC restored it from the run-cache (or found it up to date after all). Stages up to
date before the run starts get no task (``flows/pipeline.py``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from dvc.repo import Repo, lock_repo
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State


class StageFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Stage:
    name: str  # DVC's address of the stage: prepare, student@L1, pca@L1-32
    upstream: tuple[str, ...]  # the stages whose outputs it reads
    current: bool  # it and every stage upstream of it are up to date: nothing to run


def pipeline_stages(root: Path) -> list[Stage]:
    """Every stage of ``root/dvc.yaml``, upstream before downstream, with what ``dvc status`` says now."""
    # `dvc --wait-for-lock status`, holding the lock around both reads so DVC builds its index once
    with Repo(str(root), _wait_for_lock=True) as repo, lock_repo(repo):
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        changed = set(repo.status())
        stale = {s for s in graph if s.addressing in changed}
        stale |= {a for s in list(stale) for a in nx.ancestors(graph, s)}  # stages downstream of a changed one
        ordered = nx.lexicographical_topological_sort(graph.reverse(copy=False), key=lambda s: s.addressing)
        return [
            Stage(s.addressing, tuple(sorted(u.addressing for u in graph.successors(s))), s not in stale)
            for s in ordered
        ]


class DevicePool:
    """With several GPUs, each running stage holds one of its own: its process sees only that GPU
    (``CUDA_VISIBLE_DEVICES``), so two stages at once never share a device. With one GPU or none,
    stages see what the flow sees."""

    def __init__(self, devices: list[str]) -> None:
        self.devices = devices
        self._free: queue.Queue[str] = queue.Queue()
        for device in devices:
            self._free.put(device)

    @classmethod
    def detect(cls) -> DevicePool:
        """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else those ``nvidia-smi -L`` lists."""
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            return cls([d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"])
        if shutil.which("nvidia-smi") is None:
            return cls([])
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
        return cls([str(i) for i, line in enumerate(listed.splitlines()) if line.startswith("GPU ")])

    @contextlib.contextmanager
    def hold(self) -> Iterator[dict[str, str]]:
        """The environment a stage runs with while it holds a device (blocks until one is free)."""
        if len(self.devices) < 2:
            yield {}
            return
        device = self._free.get()
        try:
            yield {"CUDA_VISIBLE_DEVICES": device}
        finally:
            self._free.put(device)


def cached(message: str) -> State:
    return Completed(name="Cached", message=message)


@task(name="dvc-stage", task_run_name="{stage.name}", cache_policy=NO_CACHE)
def run_stage(stage: Stage, root: Path, devices: DevicePool) -> State:
    """Bring one stage up to date with ``dvc repro --single-item``, streaming DVC's output to the run's log."""
    log = get_run_logger()
    # The stage commands say `python`: make it this environment's, as `make` does.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # The stage's tqdm bars (what is done, what is left) reach the log as lines: one every 10 s, not a flood.
    env.setdefault("TQDM_MININTERVAL", "10")
    cmd = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item", stage.name]
    with devices.hold() as device_env:
        if device_env:
            log.info("%s: on GPU %s", stage.name, device_env["CUDA_VISIBLE_DEVICES"])
        started = time.monotonic()
        outcome, peak_bytes = stream_dvc(cmd, root, {**env, **device_env}, stage.name, log)
    log.info(
        "%s: %s in %.1f s, peak memory %.2f GiB; recorded in dvc.lock",
        stage.name,
        outcome,
        time.monotonic() - started,
        peak_bytes / 2**30,
    )
    return Completed(message=outcome) if outcome == "ran" else cached(outcome)


def stream_dvc(cmd: list[str], root: Path, env: dict[str, str], name: str, log) -> tuple[str, int]:
    """Run ``cmd``, log its output line by line.

    Returns what DVC did (ran, restored from the run-cache, up to date) and the peak resident memory
    of DVC and the stage command it ran (``wait4``'s maxrss covers the waited-for children too).
    """
    outcome = "ran"
    with subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as dvc:
        for line in dvc.stdout:
            if line.strip():
                log.info(line.rstrip())
            if line.startswith(f"Stage '{name}' is cached"):
                outcome = "restored from the run-cache"
            elif line.startswith(f"Stage '{name}' didn't change"):
                outcome = "up to date"
        _, status, usage = os.wait4(dvc.pid, 0)
        dvc.returncode = os.waitstatus_to_exitcode(status)
    if dvc.returncode:
        raise StageFailed(f"stage {name}: dvc repro exited with status {dvc.returncode}")
    return outcome, usage.ru_maxrss * 1024  # kilobytes on Linux
