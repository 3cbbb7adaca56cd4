"""Serve the pipeline on a schedule: pull data, run (DVC skips unchanged stages), push new artifacts.

    prefect server start                                     # the UI and scheduler, on 127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve             # cron from params.yaml
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve --interval 3600

The cron comes from ``schedule.cron`` in params.yaml. Only the pull and
push tasks retry: they move data over the network, while stage work is deterministic and a
retry would fail the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dvc.repo import Repo
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows.pipeline import distill_pipeline
from tasks.cli import configure_logging
from tasks.params import load_or_exit

RETRY = {"retries": 3, "retry_delay_seconds": exponential_backoff(backoff_factor=10), "cache_policy": NO_CACHE}


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


@flow(name="scheduled-distill-pipeline")
def scheduled_pipeline(project_dir: str = ".") -> str:
    """One scheduled run: pull, the pipeline as a subflow (report artifacts included), push."""
    root = Path(project_dir).resolve()
    dvc_pull(root)
    report = distill_pipeline(str(root))
    dvc_push(root)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split("\n")[0])
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cron", help="cron schedule (default: schedule.cron in params.yaml)")
    when.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS instead of on a cron")
    args = parser.parse_args(argv)
    params = load_or_exit()  # bad params: exit 2 now, not at every scheduled run
    if not os.environ.get("PREFECT_API_URL"):
        print("warning: PREFECT_API_URL is not set; scheduled runs need a running `prefect server start`", file=sys.stderr)
    schedule = {"interval": args.interval} if args.interval else {"cron": args.cron or params.schedule.cron}
    # limit=1: two runs at once would contend for DVC's repository lock.
    scheduled_pipeline.serve(name="scheduled", parameters={"project_dir": str(Path.cwd())}, limit=1, **schedule)
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
