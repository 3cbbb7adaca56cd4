"""``python -m flows.serve`` against a real Prefect server: a scheduled run completes and pushes to the remote."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from prefect import flow
from prefect.client.orchestration import get_client

from flows.serve import default_remote, dvc_push
from tasks.params import ParamsError, parse_params
from tests.conftest import ROOT, run
from tests.prefect_server import PrefectServer, prefect_server, stop, wait_for  # noqa: F401  (fixture)

SCHEDULED_RUN_TIMEOUT = 240


def test_cron_comes_from_params() -> None:
    tiny = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    assert parse_params({**tiny, "schedule": {"cron": "30 1 * * 1"}}).schedule.cron == "30 1 * * 1"
    assert parse_params({k: v for k, v in tiny.items() if k != "schedule"}).schedule.cron == "0 3 * * *"
    with pytest.raises(ParamsError, match="schedule.cron: .every day. is not a valid 5-field cron expression"):
        parse_params({**tiny, "schedule": {"cron": "every day"}})


def test_a_failed_push_is_retried(tiny_project: Path, tmp_path: Path) -> None:
    """Pull and push meet the network: a push that fails because the remote is not there yet is tried again.

    The remote path is a file at first (the push fails), and becomes a folder 3 s later, before the
    first retry (10 s): the task ends Completed after two runs.
    """
    run(["dvc", "repro", "prepare"], tiny_project)
    remote = tmp_path / "remote"
    remote.write_text("not a folder yet")
    run(["dvc", "remote", "add", "-d", "local", str(remote)], tiny_project)

    def remote_comes_up() -> None:
        remote.unlink()
        remote.mkdir()

    timer = threading.Timer(3, remote_comes_up)

    @flow
    def push_once() -> tuple[str, int]:
        timer.start()
        state = dvc_push(tiny_project, return_state=True)
        with get_client(sync_client=True) as client:
            return state.type.value, client.read_task_run(state.state_details.task_run_id).run_count

    state, runs = push_once()
    timer.join()
    assert (state, runs) == ("COMPLETED", 2)
    assert any(path.is_file() for path in remote.rglob("*")), "the retried push uploaded the outputs"


def test_scheduled_run_completes(prefect_server: PrefectServer, finished_project: Path, tmp_path: Path) -> None:  # noqa: F811
    project = finished_project  # a finished run: the scheduled run then only checks DVC's cache, fast
    assert default_remote(project) is None  # pull/push skip quietly without one (the UI test's path)
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], project)

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--interval", "10"], cwd=project, env=prefect_server.env(),
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
    assert "up to date" in run(["dvc", "status"], project).stdout
