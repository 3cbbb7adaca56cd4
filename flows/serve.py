"""Serve the pipeline on a schedule: pull code and data, run (DVC skips unchanged stages), push and commit the result.

    prefect server start                                     # the UI and scheduler, on 127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve             # cron from params.yaml
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve --interval 3600

The cron comes from ``schedule.cron`` in params.yaml. A run: ``git pull --ff-only`` (when the branch
has an upstream), ``dvc pull``, the pipeline as a subflow, with ``--verify`` every output and cache object
re-hashed (``flows/verify.py``: damage fails the run before anything is pushed), ``dvc push``, then a commit of what DVC
recorded (``dvc.lock``, metrics, reports) on the current branch, pushed to the upstream, so that
``git clone && dvc pull`` elsewhere gets the result. Only the pull and push tasks retry: they move data
over the network, while stage work is deterministic and a retry would fail the same way (so would a
pull that diverged history or local changes block: it fails the run at once).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dvc.repo import Repo
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from flows import git_sync
from flows.pipeline import distill_pipeline
from flows.verify import verify_project
from sentence_distill.cli import configure_logging
from sentence_distill.config.load import load_or_exit
from sentence_distill.integrity import DamagedOutputError


def may_pass(task, task_run, state) -> bool:
    """Retry a failure that may pass (the network), not one that would fail the same way again."""
    return not isinstance(state.result(raise_on_failure=False), git_sync.GitRefused)


RETRY = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=10),
    "cache_policy": NO_CACHE,
    "retry_condition_fn": may_pass,
}


def default_remote(root: Path) -> str | None:
    """The default DVC remote, or None: ``dvc pull``/``push`` without ``-r`` need one."""
    with Repo(str(root)) as repo:
        return repo.config["core"].get("remote")


@task(name="dvc-pull", **RETRY)
def dvc_pull(root: Path) -> int:
    """Fetch outputs another machine pushed, so their stages are cache hits here; no remote: skip."""
    if not default_remote(root):
        get_run_logger().info("no default DVC remote configured: pull skipped")
        return 0
    with Repo(str(root)) as repo:
        # allow_missing: a new remote (nothing pushed yet) is not an error; unreachable remotes still raise.
        stats = repo.pull(allow_missing=True)
    fetched = stats.get("fetched", 0)
    get_run_logger().info("dvc pull: %s files fetched", fetched)
    return fetched


@task(name="dvc-push", **RETRY)
def dvc_push(root: Path) -> int:
    """Upload the run's new outputs to the default remote; no remote: skip."""
    if not default_remote(root):
        get_run_logger().info("no default DVC remote configured: push skipped")
        return 0
    with Repo(str(root)) as repo:
        pushed = repo.push()
    get_run_logger().info("dvc push: %s files pushed", pushed)
    return pushed


@task(name="git-pull", **RETRY)
def git_pull(root: Path, upstream: str) -> str:
    """Fast-forward the branch to its upstream: the run gets the code, params and inputs pushed since the last one."""
    sha = git_sync.pull_ff_only(root)
    get_run_logger().info("git pull --ff-only from %s: at %s", upstream, sha)
    return sha


@task(name="git-commit", cache_policy=NO_CACHE)
def git_commit(root: Path, run_name: str) -> str | None:
    """Commit what DVC recorded and git carries (dvc.lock, metrics, reports, DVC's .gitignore files); nothing
    changed: no commit (None)."""
    log = get_run_logger()
    paths = git_sync.changed(root, git_sync.recorded_by_git(root))
    if not paths:
        log.info("nothing changed in dvc.lock, metrics or reports: no commit")
        return None
    sha = git_sync.commit(root, paths, f"scheduled run {run_name}: {git_sync.stages_changed(root)} stages ran")
    log.info("committed %s (%d files: %s)", sha, len(paths), ", ".join(paths))
    return sha


@task(name="git-push", **RETRY)
def git_push(root: Path, where: git_sync.Checkout) -> str:
    """Push the branch to its upstream (rebasing the run's commit first if someone pushed during the run)."""
    sha = git_sync.push(root, where)
    get_run_logger().info("git push: %s is on %s", sha, where.upstream)
    return sha


@task(name="verify-outputs", cache_policy=NO_CACHE)
def verify_outputs(root: Path) -> str:
    """Re-hash every output and the cache objects they use (``flows/verify.py``): damage fails the run here, before
    ``dvc push``, so a damaged object never reaches the remote."""
    report = verify_project(root)
    if not report.whole:
        raise DamagedOutputError(report.summary())
    get_run_logger().info("%s", report.summary())
    return report.summary()


@flow(name="scheduled-distill-pipeline")
def scheduled_pipeline(project_dir: str = ".", verify: bool = False) -> str:
    """One scheduled run: git pull, dvc pull, the pipeline as a subflow (report artifacts included), with ``verify``
    every output re-hashed (damage fails the run), dvc push, then the result (dvc.lock, metrics, reports) committed
    on the current branch and pushed to its upstream."""
    root = Path(project_dir).resolve()
    log = get_run_logger()
    where = git_sync.checkout(root)
    if where is None or where.branch is None:
        log.warning(
            "%s: no git pull, and the result will not be committed",
            "not a git repository" if where is None else "HEAD is detached",
        )
    elif where.upstream:
        git_pull(root, where.upstream)
    else:
        log.info("branch %s has no upstream: no git pull, and the result's commit stays local", where.branch)
    dvc_pull(root)
    report = distill_pipeline(str(root))
    if verify:  # on demand (--verify, or the run's parameter in the UI): it re-reads every output
        verify_outputs(root)
    dvc_push(root)  # before the commit: a clone that sees the commit can pull its outputs
    if where and where.branch:
        git_commit(root, flow_run.get_name())
        if where.upstream and git_sync.ahead(root):
            git_push(root, where)  # also pushes an earlier run's commit whose push failed
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split("\n")[0])
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cron", help="cron schedule (default: schedule.cron in params.yaml)")
    when.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS instead of on a cron")
    parser.add_argument("--verify", action="store_true", help="re-hash every output before dvc push (make verify)")
    args = parser.parse_args(argv)
    params = load_or_exit()  # bad params: exit 2 now, not at every scheduled run
    if not os.environ.get("PREFECT_API_URL"):
        print(
            "warning: PREFECT_API_URL is not set; scheduled runs need a running `prefect server start`", file=sys.stderr
        )
    schedule = {"interval": args.interval} if args.interval else {"cron": args.cron or params.schedule.cron}
    # limit=1: two runs at once would contend for DVC's repository lock.
    parameters = {"project_dir": str(Path.cwd()), "verify": args.verify}
    scheduled_pipeline.serve(name="scheduled", parameters=parameters, limit=1, **schedule)
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
