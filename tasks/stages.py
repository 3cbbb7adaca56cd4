"""Run the stages that ``dvc.yaml`` declares as Prefect tasks, with DVC deciding what to skip.

``dvc.yaml`` is the one place that declares each stage's command, deps, params and outs. The
Prefect flow reads it through DVC, runs each stage's ``python -m tasks.<stage> ARGS`` entry point
in-process, and records the outputs with ``dvc commit``, so ``dvc status`` is clean after a flow
run and ``dvc repro`` after it does nothing. DVC's lock file is the only cache: a Prefect cache on
top would skip a stage whose outputs DVC had just removed.
"""

from __future__ import annotations

import gc
import importlib
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from dvc.repo import Repo
from prefect import task
from prefect.cache_policies import NO_CACHE

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Stage:
    name: str
    module: str
    args: tuple[str, ...]


def parse_command(name: str, cmd: str) -> Stage:
    words = shlex.split(cmd)
    if len(words) < 3 or words[:2] != ["python", "-m"] or not words[2].startswith("tasks."):
        raise StageFailed(f"stage {name}: command {cmd!r} is not of the form 'python -m tasks.<stage> [args]'")
    return Stage(name, words[2], tuple(words[3:]))


def pipeline_stages(root: Path) -> list[Stage]:
    """Every stage of ``root/dvc.yaml``, upstream before downstream."""
    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        ordered = reversed(list(nx.lexicographical_topological_sort(graph, key=lambda s: s.addressing)))
        return [parse_command(s.addressing, s.cmd) for s in ordered]


def stage_is_current(root: Path, name: str) -> bool:
    with Repo(str(root)) as repo:
        return not repo.status(targets=[name])


@task(name="dvc-stage", task_run_name="{stage.name}", cache_policy=NO_CACHE)
def run_stage(stage: Stage, root: Path) -> str:
    """Run one stage unless DVC says its deps, params and outs are unchanged; then record it in dvc.lock."""
    if stage_is_current(root, stage.name):
        log.info("%s: up to date, skipped", stage.name)
        return "skipped"
    module = importlib.import_module(stage.module)
    try:
        status = module.main(list(stage.args))
    except SystemExit as exc:  # entry points exit 2 on bad params
        status = exc.code
    finally:
        gc.collect()  # free the stage's models before the next stage loads its own
    if status:
        raise StageFailed(f"stage {stage.name} exited with status {status}")
    with Repo(str(root)) as repo:
        repo.commit(stage.name, force=True)
    log.info("%s: done, recorded in dvc.lock", stage.name)
    return "ran"
