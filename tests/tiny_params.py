"""The tiny profile as the params tests edit it: read once, and copied with one key changed."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import yaml

from tests.project import ROOT

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
TINY_TASKS = "inputs/tasks/tiny"  # the tiny profile's own evaluation tasks (evaluate.tasks), relative to a project


def with_tiny_tasks(root: Path) -> Path:
    """``root`` with the tiny profile's own task files, which validate reads relative to the project."""
    shutil.copytree(ROOT / TINY_TASKS, root / TINY_TASKS, dirs_exist_ok=True)
    return root


def with_change(path: str, value) -> dict:
    """The tiny profile with one key set (value ``...`` deletes the key)."""
    params = copy.deepcopy(TINY)
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return params
