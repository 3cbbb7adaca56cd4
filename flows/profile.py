"""Select a configuration from ``profiles/`` without losing anything: params.yaml becomes the profile.

    python -m flows.profile mpnet     # what `make run PROFILE=mpnet` and `make repro PROFILE=mpnet` do first

params.yaml is replaced only when its current text is kept elsewhere: committed to git (``git
checkout params.yaml`` brings it back) or one of the profiles. With edits kept nowhere else
nothing is changed and the command exits with status 2. The profile's values are params.yaml's: ``git
diff``, ``dvc params diff`` and ``dvc exp show`` show them, and the next run without a profile keeps them.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from sentence_distill.config.load import DEFAULT_PARAMS_FILE
from sentence_distill.fileio import atomic_path

PROFILE_DIR = Path("profiles")


def select_profile(name: str, params_file: Path = Path(DEFAULT_PARAMS_FILE)) -> str:
    """Copy ``profiles/<name>.yaml`` to ``params_file`` unless that would lose uncommitted edits; say what was done."""
    profile = PROFILE_DIR / f"{name}.yaml"
    if not profile.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))
        raise ValueError(f"no profile {name!r} (profiles/ holds: {known})")
    current = params_file.read_bytes() if params_file.is_file() else None
    if current == profile.read_bytes():
        return f"{params_file} is already {profile}"
    committed = subprocess.run(["git", "show", f"HEAD:./{params_file}"], capture_output=True)
    kept = {p.read_bytes() for p in PROFILE_DIR.glob("*.yaml")} | (
        {committed.stdout} if committed.returncode == 0 else set()
    )
    if current is not None and current not in kept:
        raise ValueError(
            f"{params_file} has edits that are neither committed nor a profile; commit them or `git stash` "
            f"them, then select the profile again (nothing was changed)"
        )
    with atomic_path(params_file) as tmp:
        shutil.copyfile(profile, tmp)
    return f"{params_file} <- {profile} (`git checkout {params_file}` goes back to the committed one)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.profile", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="a file profiles/<name>.yaml")
    args = parser.parse_args(argv)
    try:
        print(select_profile(args.name))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
