"""Free disk: persistent-cache fingerprints and DVC cache entries that the current results do not use.

    python -m flows.gc                  # keep what the workspace's dvc.lock uses (make gc)
    python -m flows.gc --all-commits    # keep, besides, what any git commit uses
    python -m flows.gc --dry            # say what would go, remove nothing

The persistent embedding caches (``data/embeddings``, ``data/student_embeddings/<name>``) keep a
folder per model fingerprint, so that switching back to an earlier teacher or student encodes
nothing again; every teacher change or retrained student adds one. gc keeps the fingerprint the
last run used (``data/teacher.json``, each student cache's ``current.json``) and the caches of the
students in params.yaml, removes the rest, records the smaller folders in dvc.lock (``dvc commit``:
the stages read only the kept fingerprints, so no result changes), then runs ``dvc gc``. It runs
only on an up-to-date pipeline, so that commit cannot hide a pending change. What it removes is
what lets DVC restore an earlier configuration without running it: afterwards that configuration
runs again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from dvc.repo import Repo

from sentence_distill.cli import configure_logging
from sentence_distill.config.load import load_or_exit
from sentence_distill.paths import (
    CURRENT_FINGERPRINT_FILE,
    EMBEDDINGS_DIR,
    STUDENT_EMBEDDINGS_DIR,
    TEACHER_FILE,
    student_embeddings_dir,
)

DVC_CACHE = Path(".dvc/cache")


def kept_fingerprint(marker: Path) -> str | None:
    """The fingerprint a run recorded in ``marker``; None when there is none (nothing is removed then)."""
    try:
        return json.loads(marker.read_text())["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stale_folders(students: list[str]) -> list[Path]:
    """Fingerprint folders no current stage reads, and the caches of students no longer in the params."""
    stale: list[Path] = []
    caches = [(EMBEDDINGS_DIR, TEACHER_FILE)]
    caches += [
        (student_embeddings_dir(name), student_embeddings_dir(name) / CURRENT_FINGERPRINT_FILE) for name in students
    ]
    for root, marker in caches:
        keep = kept_fingerprint(marker)
        if keep and root.is_dir():
            stale += [path for path in sorted(root.iterdir()) if path.is_dir() and path.name != keep]
    if STUDENT_EMBEDDINGS_DIR.is_dir():
        stale += [
            path for path in sorted(STUDENT_EMBEDDINGS_DIR.iterdir()) if path.is_dir() and path.name not in students
        ]
    return stale


def disk_bytes(*roots: Path) -> int:
    """Bytes on disk under ``roots``, each hard-linked file counted once (as ``du`` does)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                info = os.lstat(os.path.join(folder, name))
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    return total


def megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.gc", description=__doc__.split("\n")[0])
    parser.add_argument("--all-commits", action="store_true", help="also keep DVC cache entries any git commit uses")
    parser.add_argument("--dry", action="store_true", help="list what would be removed; remove nothing")
    args = parser.parse_args(argv)
    params = load_or_exit(check_inputs=False)
    with Repo(".") as repo:
        pending = repo.status()
        if pending or not Path("dvc.lock").is_file():
            print(
                f"error: the pipeline is not up to date ({len(pending)} stages changed; see `dvc status`): "
                "run it first, gc keeps only what the current results use (nothing was removed)",
                file=sys.stderr,
            )
            return 2
        roots = [path for path in (Path("data"), Path("models"), DVC_CACHE) if path.exists()]
        before = disk_bytes(*roots)
        stale = stale_folders(list(params.students))
        for path in stale:
            print(f"{'would remove' if args.dry else 'removing'} {path} ({megabytes(disk_bytes(path))})")
            if not args.dry:
                shutil.rmtree(path)
        if stale and not args.dry:
            repo.commit(None, force=True)  # the up-to-date check above: only the removed folders change
        repo.gc(workspace=True, all_commits=args.all_commits, force=True, dry=args.dry)
        if not args.dry and repo.status():
            raise RuntimeError("dvc status is not clean after gc")
    print(f"data, models and DVC cache: {megabytes(before)} -> {megabytes(disk_bytes(*roots))}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
