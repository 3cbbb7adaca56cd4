"""``python -m flows.serve`` against a real Prefect server: a scheduled run completes and pushes to the remote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.pipeline import distill_pipeline, publish_report
from flows.serve import default_remote, dvc_pull, dvc_push, scheduled_pipeline
from tasks.params import ParamsError, parse_params
from flows.dvc_stages import run_stage
from tests.conftest import ROOT, run
from tests.prefect_server import PrefectServer, prefect_server, stop, wait_for  # noqa: F401  (fixture)

SCHEDULED_RUN_TIMEOUT = 240


def test_cron_comes_from_params() -> None:
    tiny = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    assert parse_params({**tiny, "schedule": {"cron": "30 1 * * 1"}}).schedule.cron == "30 1 * * 1"
    assert parse_params({k: v for k, v in tiny.items() if k != "schedule"}).schedule.cron == "0 3 * * *"
    with pytest.raises(ParamsError, match="schedule.cron: String should match pattern"):
        parse_params({**tiny, "schedule": {"cron": "every day"}})


def test_only_data_transfers_retry() -> None:
    """Pull and push meet the network; stage work is deterministic and would fail the same way again."""
    for io_task in (dvc_pull, dvc_push):
        assert io_task.retries == 3 and io_task.retry_delay_seconds == [10, 20, 40]
    for work in (run_stage, publish_report, distill_pipeline, scheduled_pipeline):
        assert not work.retries


def test_scheduled_run_completes(prefect_server: PrefectServer, tiny_project: Path, tmp_path: Path) -> None:  # noqa: F811
    run(["dvc", "repro"], tiny_project)  # the scheduled run then only checks DVC's cache: fast
    assert default_remote(tiny_project) is None  # pull/push skip quietly without one (the UI test's path)
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], tiny_project)

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--interval", "10"], cwd=tiny_project, env=prefect_server.env(),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        def deployment() -> dict | None:
            assert serving.poll() is None, f"serve exited:\n{log.read_text()[-4000:]}"
            found = prefect_server.post("/deployments/filter", {"deployments": {"name": {"any_": ["scheduled"]}}})
            return found[0] if found else None

        deployment_id = wait_for(deployment, 60, what="the deployment")["id"]

        def completed_runs() -> list[dict]:
            assert serving.poll() is None, f"serve exited:\n{log.read_text()[-4000:]}"
            runs = prefect_server.post("/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})
            broken = [r for r in runs if r["state"]["type"] in ("FAILED", "CRASHED")]
            assert not broken, f"{broken[0]['state']}\n{log.read_text()[-4000:]}"
            return [r for r in runs if r["state"]["type"] == "COMPLETED"]

        done = wait_for(completed_runs, SCHEDULED_RUN_TIMEOUT, what="a completed scheduled run")[0]
    finally:
        stop(serving)

    assert done["auto_scheduled"], "the run came from the schedule, not a manual trigger"
    [subflow] = prefect_server.post("/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [done["id"]]}}})
    assert subflow["state"]["type"] == "COMPLETED"
    assert prefect_server.post("/artifacts/filter", {"artifacts": {"key": {"any_": ["distill-report"]}, "flow_run_id": {"any_": [subflow["id"]]}}})
    assert any(path.is_file() for path in remote.rglob("*")), "dvc push uploaded the outputs"
    assert "up to date" in run(["dvc", "status"], tiny_project).stdout
