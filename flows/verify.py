"""Re-hash every output DVC tracks and every cache object they use; name what is damaged and remove it from the cache.

    python -m flows.verify        # make verify; exit 0 when all is whole, 2 otherwise

Why: outputs are hard links into DVC's cache, so damage on disk is damage to the cache too, and DVC never reads an
object again once it holds it (``sentence_distill/integrity.py``). For each output of the current ``dvc.lock``
(stages and ``.dvc`` files alike), every file is hashed and compared with what was recorded, and so is every cache
object those files name (a folder's ``.dir`` listing included), each inode once. A damaged object is removed, so that
DVC sees the output "not in cache" and a rebuild is stored anew; when a whole copy of it lies in the workspace (a
``copy`` or ``reflink`` cache), it is stored again from that copy. A workspace file that was a hard link of a
removed object held the same damage and goes with it. The closing lines say what to run: ``dvc repro`` for the
stages named (or ``dvc pull``), ``dvc checkout --relink`` for files whose cache copy is whole. Outputs DVC keeps
no copy of (``cache: false``: metrics, reports) are compared with dvc.lock only. A scheduled run calls this before
it pushes (``python -m flows.serve --verify``), so a damaged object never reaches the remote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sentence_distill.integrity import (
    CACHE_FILE_MODE,
    DIR_SUFFIX,
    Hasher,
    Output,
    RecordedFile,
    cache_dir,
    inode,
    listing_md5,
    object_damaged,
    object_path,
    recorded_files,
)


@dataclass
class VerifyReport:
    """What ``verify`` found: one line per problem, and what fixes them (stages to rerun, outputs to check out)."""

    files: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    restored: list[Path] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # folder outputs whose listing is not in the cache (gc, no pull)
    rerun: set[str] = field(default_factory=set)
    force_rerun: set[str] = field(default_factory=set)  # stages of changed outputs DVC keeps no copy of
    checkout: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def whole(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "all whole" if self.whole else f"{len(self.problems)} not whole"
        hashed = f"{self.files} output files and {self.objects} cache objects re-hashed in {self.seconds:.1f} s"
        lines = [f"verify: {state}: {hashed}"]
        lines += [f"  {problem}" for problem in self.problems]
        if self.removed:
            lines.append(
                f"removed from DVC's cache (damaged), so that no rebuild is linked to them again: {len(self.removed)}"
                " objects"
                + (f", {len(self.restored)} of them stored again from a whole workspace copy" if self.restored else "")
            )
        if self.unchecked:
            lines.append(
                f"not checked, their listing is not in DVC's cache (`dvc pull` fetches it): {', '.join(self.unchecked)}"
            )
        todo = []
        stages = sorted(stage for stage in self.rerun if not stage.endswith(".dvc"))
        added = sorted(stage for stage in self.rerun if stage.endswith(".dvc"))
        if stages:
            todo.append(
                f"`dvc repro` reruns the stages that wrote them ({', '.join(stages)}), or `dvc pull` fetches them "
                "from the DVC remote if it has them"
            )
        if added:
            todo.append(f"`dvc pull {' '.join(added)}` fetches what `dvc add` recorded from the DVC remote")
        if self.checkout:
            todo.append(f"`dvc checkout --relink {' '.join(sorted(self.checkout))}` restores them from DVC's cache")
        if self.force_rerun:
            todo.append(
                "DVC keeps no copy of the others: "
                + ", ".join(f"`dvc repro -f -s {stage}`" for stage in sorted(self.force_rerun))
                + " writes them again"
            )
        if todo:
            lines.append("what to do: " + "; ".join(todo))
        return "\n".join(lines)


def workspace_listing(root: Path, output: Output, hasher: Hasher) -> list[dict]:
    """A folder output's files as DVC lists them in a ``.dir`` object."""
    folder = root / output.path
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    return [
        {"md5": hasher.md5(path, output.hash_name), "relpath": path.relative_to(folder).as_posix()} for path in files
    ]


def store(obj: Path, content: bytes | Path) -> None:
    """Write a cache object (``content``, or a copy of that file) under a temporary name, read-only, then rename it."""
    tmp = obj.with_name(f".{obj.name}.verify.tmp")
    obj.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, Path):
        shutil.copyfile(content, tmp)
    else:
        tmp.write_bytes(content)
    os.chmod(tmp, CACHE_FILE_MODE)
    os.replace(tmp, obj)


def verify_uncached(root: Path, output: Output, hasher: Hasher, report: VerifyReport) -> None:
    path = root / output.path
    if output.is_dir:
        actual = listing_md5(workspace_listing(root, output, hasher)) + DIR_SUFFIX if path.is_dir() else None
    else:
        actual = hasher.md5(path, output.hash_name)
    report.files += 1
    if actual != output.md5:
        state = "missing" if actual is None else "not what dvc.lock recorded"
        report.problems.append(f"{output.path} (stage {output.stage}, not in DVC's cache): {state}")
        report.force_rerun.add(output.stage)


def listing(root: Path, output: Output, hasher: Hasher, report: VerifyReport) -> list[RecordedFile] | None:
    """A folder output's recorded files, or None. A damaged listing is removed, and stored again when the workspace's
    files give exactly the recorded one."""
    cache = cache_dir(root)
    obj = object_path(cache, output.md5, output.hash_name)
    files = recorded_files(output, cache)
    report.objects += output.is_dir and obj.exists()
    if files is not None:
        return files
    if not obj.exists():
        if (root / output.path).exists():
            report.unchecked.append(output.path)
        else:
            report.problems.append(
                f"{output.path} (stage {output.stage}): missing, and its listing is not in DVC's cache"
            )
            report.rerun.add(output.stage)
        return None
    obj.unlink()
    report.removed.append(obj)
    entries = workspace_listing(root, output, hasher) if (root / output.path).is_dir() else []
    if entries and listing_md5(entries) + DIR_SUFFIX == output.md5:
        store(obj, json.dumps(sorted(entries, key=lambda e: e["relpath"]), sort_keys=True).encode())
        report.restored.append(obj)
        return recorded_files(output, cache)
    report.problems.append(
        f"{output.path} (stage {output.stage}): its listing in DVC's cache was damaged (removed), "
        "and the workspace does not hold the recorded files"
    )
    report.rerun.add(output.stage)
    return None


def verify_object(root: Path, obj: Path, records: list[RecordedFile], hasher: Hasher, report: VerifyReport) -> None:
    """One cache object and the workspace files recorded under its name (several outputs may share one)."""
    md5, hash_name = records[0].md5, records[0].output.hash_name
    report.objects += obj.exists()
    damaged = None
    if object_damaged(obj, md5, hash_name, hasher):
        damaged = inode(obj)
        obj.unlink()
        report.removed.append(obj)
        whole = [
            root / r.path
            for r in records
            if inode(root / r.path) != damaged and hasher.md5(root / r.path, hash_name) == md5
        ]
        if whole:
            store(obj, whole[0])
            report.restored.append(obj)
    for recorded in records:
        report.files += 1
        file = root / recorded.path
        if hasher.md5(file, hash_name) == md5:
            continue
        if not file.exists():
            problem = "missing"
        elif damaged is not None and inode(file) == damaged:
            file.unlink()
            problem = "damaged, and so was its cache object (the same file): both removed"
        elif obj.exists():
            problem = "not what dvc.lock recorded (DVC's cache holds the recorded copy)"
        else:
            problem = "not what dvc.lock recorded, and DVC's cache holds no whole copy"
        report.problems.append(f"{recorded.path} (stage {recorded.output.stage}): {problem}")
        if obj.exists():
            report.checkout.add(recorded.output.path)
        else:
            report.rerun.add(recorded.output.stage)


def verify(root: Path, outputs: list[Output], threads: int | None = None) -> VerifyReport:
    """Check ``outputs`` and the cache objects they use; remove damaged objects and their hard links."""
    started = time.monotonic()
    cache, hasher, report = cache_dir(root), Hasher(), VerifyReport()
    by_object: dict[Path, list[RecordedFile]] = defaultdict(list)
    for output in outputs:
        if not output.cached:
            verify_uncached(root, output, hasher, report)
            continue
        for recorded in listing(root, output, hasher, report) or []:
            by_object[object_path(cache, recorded.md5, output.hash_name)].append(recorded)
    files = [(root / r.path, r.output.hash_name) for records in by_object.values() for r in records]
    hasher.warm([*files, *((obj, records[0].output.hash_name) for obj, records in by_object.items())], threads)
    for obj, records in by_object.items():
        verify_object(root, obj, records, hasher, report)
    report.seconds = time.monotonic() - started
    return report


def stage_name(stage, root: Path) -> str:
    """The stage as ``dvc repro`` takes it from the project's root (``student@L1``; a ``.dvc`` file's path), whatever
    the working directory (DVC's own ``addressing`` is relative to it)."""
    path = Path(stage.path).relative_to(root).as_posix()
    name = getattr(stage, "name", None)
    return path if not name else name if path == "dvc.yaml" else f"{path}:{name}"


def tracked_outputs(repo) -> list[Output]:
    """Every output the current dvc.lock (and any ``.dvc`` file) records, from DVC's own index of the project."""
    root = Path(repo.root_dir)
    return [
        Output(
            stage_name(stage, root),
            Path(out.fs_path).relative_to(root).as_posix(),
            out.hash_info.value,
            out.hash_info.name,
            out.use_cache,
        )
        for stage in repo.index.stages
        for out in stage.outs
        if out.hash_info and out.hash_info.value
    ]


def verify_project(root: Path) -> VerifyReport:
    """``verify`` on the project at ``root``, holding DVC's repository lock (no ``dvc repro`` writes meanwhile)."""
    from dvc.repo import Repo, lock_repo

    with Repo(str(root)) as repo, lock_repo(repo):
        return verify(Path(repo.root_dir), tracked_outputs(repo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.verify", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    from dvc.exceptions import DvcException

    if not Path(".dvc").is_dir():
        print("error: not a DVC project (no .dvc folder here): run it from the project's root", file=sys.stderr)
        return 2
    try:
        report = verify_project(Path.cwd())
    except DvcException as exc:  # the lock held by a running `dvc repro`, an unreadable dvc.yaml
        print(f"error: {exc}; nothing was checked", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.whole else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
