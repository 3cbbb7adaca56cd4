"""Content checks of what DVC tracks: output files and cache objects re-hashed against the names DVC gave them.

Why: the workspace's outputs are hard links into DVC's cache (``cache.type = hardlink``, one copy on disk), so
damage to a file is damage to its cache object, and DVC trusts an object whose name is its hash without reading it
again. ``dvc status`` then says up to date, and an output rebuilt byte for byte the same (a re-encoded shard, a model
retrained with the same seed) is linked back to the damaged object. The cure is to remove the object: DVC then sees
the output "not in cache" and reruns its stage, which stores the rebuilt bytes anew. Three callers:

- the embedding cache, when it quarantines a damaged shard (``purge_damaged_objects``), before the stage's outputs
  are committed;
- every load of a model from ``models/`` (``check_model_files``): its files must be the ones dvc.lock recorded;
- ``python -m flows.verify`` (``make verify``, and a scheduled run before it pushes): every output (``verify``).

What DVC 3 writes: an object is named by the MD5 of its raw bytes (``hash: md5`` in dvc.lock) and lies at
``<cache>/files/md5/<2 hex>/<30 hex>``; a folder output is a ``<md5>.dir`` object there, the JSON list of its files'
``{"md5", "relpath"}`` (whose own MD5 is the name). Outputs recorded by DVC 2 (no ``hash`` key) are named by
``md5-dos2unix`` and lie at ``<cache>/<2 hex>/<30 hex>``; they are hashed with DVC's own function.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

LOCK_FILE = "dvc.lock"
DVC3_HASH = "md5"
LEGACY_HASH = "md5-dos2unix"  # dvc.lock entries without a ``hash`` key
DIR_SUFFIX = ".dir"
CACHE_FILE_MODE = 0o444  # the mode DVC gives its cache objects
VERIFY_HINT = "`make verify` checks every output"


class DamagedOutputError(RuntimeError):
    """A file a stage would read is not what dvc.lock recorded for it; nothing was computed from it."""


@dataclass(frozen=True)
class Output:
    """One output of one stage, as dvc.lock records it; ``md5`` ends in ``.dir`` for a folder."""

    stage: str
    path: str  # relative to the project, with '/'
    md5: str
    hash_name: str = DVC3_HASH
    cached: bool = True  # False for ``cache: false`` outputs (metrics, reports): DVC keeps no copy of them

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(DIR_SUFFIX)

    def holds(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")


@dataclass(frozen=True)
class RecordedFile:
    output: Output
    path: str  # relative to the project
    md5: str


def project_root(path: Path) -> Path | None:
    """The DVC project ``path`` lies in (the nearest folder above it with a ``.dvc`` folder), or None."""
    path = Path(path).absolute()
    return next((folder for folder in [path, *path.parents] if (folder / ".dvc").is_dir()), None)


@lru_cache
def cache_dir(root: Path) -> Path:
    """DVC's cache folder for the project at ``root``: ``cache.dir`` from DVC's config files, else ``.dvc/cache``."""
    from dvc.config import Config

    configured = Config(dvc_dir=str(root / ".dvc"), validate=False).get("cache", {}).get("dir")
    return Path(configured) if configured else root / ".dvc" / "cache"


def object_path(cache: Path, md5: str, hash_name: str = DVC3_HASH) -> Path:
    base = cache / "files" / "md5" if hash_name != LEGACY_HASH else cache
    return base / md5[:2] / md5[2:]


def lock_outputs(root: Path) -> list[Output]:
    """Every output dvc.lock records, in its order; none without a lock. Raises yaml.YAMLError on a torn read
    (DVC rewrites the lock in place while a concurrent stage may read it)."""
    try:
        text = (root / LOCK_FILE).read_text()
    except FileNotFoundError:
        return []
    lock = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    return [
        Output(stage, out["path"], out["md5"], out.get("hash", LEGACY_HASH))
        for stage, entry in (lock.get("stages") or {}).items()
        for out in (entry or {}).get("outs") or []
        if out.get("md5")
    ]


def file_md5(path: Path, hash_name: str = DVC3_HASH) -> str:
    """The hash DVC names ``path``'s content by: MD5 of its raw bytes (DVC 3), or DVC 2's ``md5-dos2unix``."""
    if hash_name == LEGACY_HASH:
        from dvc_data.hashfile.hash import file_md5 as dvc_file_md5

        return dvc_file_md5(str(path), name=LEGACY_HASH)
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


class Hasher:
    """Hashes files, each inode read once: a workspace file and the cache object it is a hard link of are one read."""

    def __init__(self) -> None:
        self._known: dict[tuple, str] = {}

    @staticmethod
    def _key(path: Path, hash_name: str) -> tuple | None:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, hash_name

    def md5(self, path: Path, hash_name: str = DVC3_HASH) -> str | None:
        """``path``'s hash, None when it does not exist."""
        key = self._key(path, hash_name)
        if key is None:
            return None
        if key not in self._known:
            self._known[key] = file_md5(path, hash_name)
        return self._known[key]

    def warm(self, files: Iterable[tuple[Path, str]], threads: int | None = None) -> None:
        """Hash ``(path, hash_name)`` pairs ahead, one per inode, on ``threads`` threads (hashlib releases the GIL)."""
        todo = {}
        for path, hash_name in files:
            key = self._key(path, hash_name)
            if key is not None and key not in self._known:
                todo.setdefault(key, (path, hash_name))
        with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
            for key, digest in zip(todo, pool.map(lambda item: file_md5(*item), todo.values()), strict=True):
                self._known[key] = digest


def listing_md5(entries: list[dict]) -> str:
    """The MD5 DVC names a folder's listing by (``Tree.as_bytes``: sorted by path, keys sorted)."""
    ordered = sorted(({"md5": e["md5"], "relpath": e["relpath"]} for e in entries), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(ordered, sort_keys=True).encode()).hexdigest()


def read_listing(obj: Path, md5: str) -> list[dict] | None:
    """The files of the ``.dir`` object ``obj`` if it is whole (parses, and its content is its name), else None."""
    try:
        entries = json.loads(obj.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and {"md5", "relpath"} <= e.keys() for e in entries
    ):
        return None
    with open(obj, "rb") as handle:
        whole = hashlib.file_digest(handle, "md5").hexdigest() == md5.removesuffix(DIR_SUFFIX)
    return entries if whole else None


def recorded_files(output: Output, cache: Path) -> list[RecordedFile] | None:
    """The files ``output`` recorded; None for a folder whose listing is missing from the cache or damaged."""
    if not output.is_dir:
        return [RecordedFile(output, output.path, output.md5)]
    entries = read_listing(object_path(cache, output.md5, output.hash_name), output.md5)
    if entries is None:
        return None
    return [RecordedFile(output, f"{output.path}/{e['relpath']}", e["md5"]) for e in entries]


def object_damaged(obj: Path, md5: str, hash_name: str, hasher: Hasher) -> bool:
    """True when the object exists and its content is not its name."""
    actual = hasher.md5(obj, DVC3_HASH if md5.endswith(DIR_SUFFIX) else hash_name)
    return actual is not None and actual != md5.removesuffix(DIR_SUFFIX)


def inode(path: Path) -> tuple[int, int] | None:
    """``path``'s device and inode (a hard link's are its target's), None when it does not exist."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def same_file(a: Path, b: Path) -> bool:
    return inode(a) is not None and inode(a) == inode(b)


def objects_sharing_inode(cache: Path, file: Path) -> list[tuple[Path, str]]:
    """The DVC 3 cache objects that are hard links of ``file``, with their names (none when it has one link)."""
    try:
        info = os.stat(file)
    except FileNotFoundError:
        return []
    if info.st_nlink < 2:
        return []
    found = []
    base = cache / "files" / "md5"
    for prefix in os.scandir(base) if base.is_dir() else []:
        if prefix.is_dir(follow_symlinks=False):
            for entry in os.scandir(prefix.path):
                if entry.inode() == info.st_ino and entry.stat(follow_symlinks=False).st_dev == info.st_dev:
                    found.append((Path(entry.path), prefix.name + entry.name))
    return found


def purge_damaged_objects(file: Path, recorded_as: Path | None = None) -> list[Path]:
    """Remove from DVC's cache the objects whose content no longer matches their name, among those that are hard
    links of ``file`` and the one dvc.lock records for ``recorded_as`` (where ``file`` lay before it was moved aside;
    default: ``file``). A rebuild byte for byte the same is then stored anew instead of linked to the damage.
    Returns the removed objects; outside a DVC project, or with nothing damaged, none."""
    file = Path(file).absolute()
    root = project_root(file.parent)
    if root is None:
        return []
    cache = cache_dir(root)
    candidates = {obj: (md5, DVC3_HASH) for obj, md5 in objects_sharing_inode(cache, file)}
    rel = Path(recorded_as or file).absolute().relative_to(root).as_posix()
    try:
        outputs = lock_outputs(root)
    except yaml.YAMLError:
        outputs = []
    for output in (out for out in outputs if out.holds(rel)):
        for recorded in recorded_files(output, cache) or []:
            if recorded.path == rel:
                candidates.setdefault(
                    object_path(cache, recorded.md5, output.hash_name), (recorded.md5, output.hash_name)
                )
    hasher, removed = Hasher(), []
    for obj, (md5, hash_name) in candidates.items():
        if object_damaged(obj, md5, hash_name, hasher):
            obj.unlink(missing_ok=True)
            removed.append(obj)
            log.warning("DVC cache object %s no longer holds what its name says (damaged): removed", obj)
    return removed


def _files_not_as_recorded(root: Path, rel: str, hasher: Hasher) -> tuple[Output, list[RecordedFile]] | None:
    """The output of dvc.lock holding ``rel`` and those of its files under ``rel`` not as recorded; None when there
    is nothing to check against."""
    output = next((out for out in lock_outputs(root) if out.holds(rel)), None)
    if output is None:
        return None
    files = recorded_files(output, cache_dir(root))
    if files is None:
        log.warning(
            "%s: cannot check its files: the listing of %s is not in DVC's cache whole; %s",
            rel,
            output.path,
            VERIFY_HINT,
        )
        return None
    mine = [f for f in files if f.path == rel or f.path.startswith(rel + "/")]
    return output, [f for f in mine if hasher.md5(root / f.path, output.hash_name) != f.md5]


def check_model_files(folder: Path | str) -> None:
    """Raise DamagedOutputError, naming the file and the way out, when a file of the model ``folder`` is not what
    dvc.lock recorded for the output holding it. Hashes only that folder's files.

    Nothing to check against (a hub or ``inputs/`` model, no dvc.lock, or an output whose stage has not finished
    yet, so dvc.lock has no entry for it): no check. A mismatch is confirmed on a second reading of dvc.lock, which
    DVC rewrites in place when a concurrent stage finishes. When the file is a hard link of a damaged cache object,
    both are removed: DVC then reruns the stage (``dvc repro``) or fetches it (``dvc pull``) instead of handing the
    damage back.
    """
    folder = Path(folder).absolute()
    root = project_root(folder)
    if root is None:
        return
    rel = folder.relative_to(root).as_posix()
    hasher = Hasher()
    for reading in (1, 2):
        try:
            found = _files_not_as_recorded(root, rel, hasher)
        except yaml.YAMLError as exc:
            found, torn = None, exc
        else:
            torn = None
            if not found or not found[1]:
                return
        if reading == 1:
            time.sleep(0.5)
    if torn is not None:
        log.warning("%s: cannot check its files, dvc.lock does not parse (%s); %s", rel, torn, VERIFY_HINT)
        return
    output, bad = found
    raise DamagedOutputError(describe_mismatch(root, output, bad, hasher))


def describe_mismatch(root: Path, output: Output, bad: list[RecordedFile], hasher: Hasher) -> str:
    """The error for ``bad`` files of ``output``: what was found, what was removed, what to run."""
    cache = cache_dir(root)
    lines, restorable = [], True
    for recorded in bad:
        file, obj = root / recorded.path, object_path(cache, recorded.md5, output.hash_name)
        actual = hasher.md5(file, output.hash_name)
        state = "missing" if actual is None else f"md5 {actual} found, {recorded.md5} recorded"
        if object_damaged(obj, recorded.md5, output.hash_name, hasher):
            if same_file(file, obj):
                file.unlink()
                state += "; damaged on disk, and so was DVC's cache object, the same file: both removed"
            else:
                state += "; DVC's cache object was damaged too: removed"
            obj.unlink()
        restorable = restorable and obj.exists()
        lines.append(f"{recorded.path} ({state})")
    how = (
        f"`dvc checkout --relink {output.path}` restores the recorded files from DVC's cache, or `dvc repro` "
        f"reruns stage {output.stage}"
        if restorable
        else f"`dvc repro` reruns stage {output.stage} (or `dvc pull` fetches its files from the DVC remote)"
    )
    return (
        f"{', '.join(lines)}: not what dvc.lock recorded for stage {output.stage} (damaged, or changed outside DVC); "
        f"nothing was computed from it. {how}; {VERIFY_HINT}."
    )
