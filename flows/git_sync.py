"""Git for scheduled runs: fast-forward the checkout before a run, commit and push what DVC recorded after it.

Plain functions over the ``git`` command line (no Prefect here); ``flows/serve.py`` makes them tasks.
``GitRefused`` is a failure that retrying cannot mend (diverged history, local changes in the way),
``GitError`` one that may pass (the remote unreachable).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from dvc.repo import Repo


class GitError(RuntimeError):
    pass


class GitRefused(GitError):
    """The checkout or its history stops the operation; the same call would fail again."""


# what git says -> the problem, in the run's failure message
BLOCKED_PULL = {
    "Not possible to fast-forward": (
        "the branch has diverged from its upstream (local commits the remote does not have)"
    ),
    "Your local changes to the following files would be overwritten": (
        "uncommitted changes to tracked files block the pull"
    ),
    "untracked working tree files would be overwritten": "untracked files in the checkout block the pull",
    "CONFLICT": "the pull conflicts with local changes",
}


@dataclass(frozen=True)
class Checkout:
    branch: str | None  # None: HEAD is detached
    remote: str | None  # the branch's upstream: remote name and branch ref; None without one
    merge: str | None

    @property
    def upstream(self) -> str | None:
        return f"{self.remote}/{self.merge.removeprefix('refs/heads/')}" if self.remote and self.merge else None


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # no prompt for credentials: nobody is there to answer during a scheduled run
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    result = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True)
    if check and result.returncode:
        raise GitError(f"git {' '.join(args)} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
    return result


def checkout(root: Path) -> Checkout | None:
    """The current branch and its upstream, or None when ``root`` is not in a git work tree."""
    if git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode:
        return None
    branch = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip() or None
    if branch is None:
        return Checkout(None, None, None)
    remote = git(root, "config", f"branch.{branch}.remote", check=False).stdout.strip() or None
    merge = git(root, "config", f"branch.{branch}.merge", check=False).stdout.strip() or None
    return Checkout(branch, remote, merge)


def pull_ff_only(root: Path) -> str:
    """``git pull --ff-only`` from the upstream; the commit checked out after it."""
    result = git(root, "pull", "--ff-only", "--no-rebase", check=False)
    if result.returncode:
        said = (result.stderr or result.stdout).strip()
        problem = next((p for marker, p in BLOCKED_PULL.items() if marker in said), None)
        if problem:
            raise GitRefused(f"git pull --ff-only: {problem}; nothing else was done. git said: {said}")
        raise GitError(f"git pull --ff-only failed ({result.returncode}): {said}")
    return head(root)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def recorded_by_git(root: Path) -> list[str]:
    """What a run changes that git, not DVC's cache, carries: ``dvc.lock``, the outputs with ``cache: false``
    (metrics, reports, ``data/validated.json``) and the ``.gitignore`` files DVC writes beside cached outputs."""
    with Repo(str(root)) as repo:
        outs = [(Path(os.path.relpath(out.fs_path, repo.root_dir)), out.use_cache) for out in repo.index.outs]
    paths = {"dvc.lock"}
    for path, use_cache in outs:
        paths.add((path.parent / ".gitignore").as_posix() if use_cache else path.as_posix())
    return sorted(paths)


def changed(root: Path, paths: list[str]) -> list[str]:
    """Those of ``paths`` (files or folders) with changes git would commit: modified, deleted or new."""
    status = git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--", *paths).stdout
    return sorted(entry[3:] for entry in status.split("\0") if entry)


def stages_changed(root: Path) -> int:
    """How many stages' entries in ``dvc.lock`` differ from the committed ``dvc.lock``: the stages the run ran."""
    committed = git(root, "show", "HEAD:dvc.lock", check=False)
    before = (yaml.safe_load(committed.stdout) or {}).get("stages", {}) if committed.returncode == 0 else {}
    lock = root / "dvc.lock"
    after = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}) if lock.exists() else {}
    return sum(before.get(name) != after.get(name) for name in before.keys() | after.keys())


def commit(root: Path, paths: list[str], message: str) -> str:
    """Commit exactly ``paths`` (whatever else is staged stays staged) on the current branch; the new sha."""
    git(root, "add", "-A", "--", *paths)
    git(root, "commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
    return head(root)


def ahead(root: Path) -> int:
    """Commits on the branch that its upstream (as last fetched) does not have."""
    return int(git(root, "rev-list", "--count", "@{upstream}..HEAD").stdout)


def push(root: Path, where: Checkout) -> str:
    """Push the branch to its upstream. If the upstream moved on during the run (someone pushed), rebase the
    branch's new commits onto it first: they touch only what the run recorded. Returns the pushed sha."""
    target = f"HEAD:{where.merge}"
    result = git(root, "push", "--porcelain", where.remote, target, check=False)
    if result.returncode and "[rejected]" in result.stdout + result.stderr:
        git(root, "fetch", "--quiet", where.remote)
        rebase = git(root, "rebase", "--quiet", "@{upstream}", check=False)
        if rebase.returncode:
            git(root, "rebase", "--abort", check=False)
            lines = (rebase.stdout + rebase.stderr).splitlines()
            said = "; ".join([line for line in lines if line.startswith("CONFLICT")] or lines[-1:])
            raise GitRefused(
                f"git push: {where.upstream} moved on during the run and the run's commit does not rebase onto it "
                f"(git said: {said}); the commit stays on the local branch: rebase it by hand, or drop it "
                f"(`git reset --hard {where.upstream}`; its outputs are in the DVC remote) before the next run"
            )
        result = git(root, "push", "--porcelain", where.remote, target, check=False)
    if result.returncode:
        raise GitError(
            f"git push {where.remote} {target} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}"
        )
    return head(root)
