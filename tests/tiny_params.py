"""The tiny profile as the params tests edit it: read once, and copied with one key changed."""

from __future__ import annotations

import copy

import yaml

from tests.project import ROOT

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())


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
