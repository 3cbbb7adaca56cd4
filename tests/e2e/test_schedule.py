"""``python -m flows.serve`` against a real Prefect server, a bare git remote and a DVC remote folder.

A scheduled run pulls what a user pushed to git, runs the pipeline (the teacher encodes only the new
sentences), pushes the outputs to the DVC remote and commits dvc.lock, metrics and reports to git, so a
fresh clone plus ``dvc pull`` has the result. A failed stage fails the run; a blocked pull fails it first. (A
push that someone else's push overtook, rebased or stopped: ``tests/unit/test_schedule.py``.)
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from prefect import flow
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.serve import default_remote, dvc_push, git_pull, scheduled_pipeline
from sentence_distill import assets
from tests.prefect_server import PrefectServer, stop, wait_for
from tests.project import ROOT, make_project, run
from tests.unit.test_schedule import head

SCHEDULED_RUN_TIMEOUT = 600  # the whole (small) pipeline after a corpus change: 3-4 min on 2 shared cores
INTERVAL = 10  # seconds between scheduled runs
# How often the served process asks the server for runs that are due (Prefect's default: 10 s); each poll is one
# small request, and the test waits that long for the first run and again for the run after it.
RUNNER_POLL_SECONDS = 2


def small_params() -> dict:
    """The tiny profile made as small as validation allows: a local corpus only, one student taken from the
    teacher's first layer without training, no PCA dimension, no int8 backend, one benchmark round."""
    params = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    params["prepare"] |= {
        "corpus": "inputs/data/news.txt",
        "include_stsb_train": False,
        "max_sentences": None,
        "heldout_sentences": 10,
        "stsb_test_pairs": 50,
    }
    params["students"] = {"L1": {"layers": [0], "train": False}}
    params["pca"]["dims"] = []
    params["quantize"]["backends"] = []
    params["evaluate"] |= {"check_sentences": 8, "embedding_precisions": [], "calibration_sentences": 16}
    params["benchmark"] |= {"sentences": 8, "latency_queries": 1, "rounds": 1}
    return params


def news_lines(start: int, count: int) -> list[str]:
    """Lines of the packaged BBC news corpus, each a paragraph of a few sentences."""
    lines = [
        line.strip()
        for path in sorted(assets.bbc_news_folder().rglob("*.txt"))
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if len(line.strip()) > 40
    ]
    return lines[start : start + count]


def small_project(target: Path, corpus: list[str]) -> Path:
    """A git repository of the project with ``small_params`` and ``corpus`` as ``inputs/data/news.txt``."""
    project = make_project(target)
    (project / "params.yaml").write_text(yaml.safe_dump(small_params(), sort_keys=False))
    (project / "inputs" / "data" / "news.txt").write_text("\n".join(corpus) + "\n")
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "small params, local corpus"], project)
    return project


@contextlib.contextmanager
def reporting_to(server: PrefectServer):
    """Flow runs in this process report to ``server``; its logs and events are sent before the block ends (once
    the session's server stops, Prefect's workers would try to send them at exit for a minute)."""
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        try:
            yield
        finally:
            APILogWorker.drain_all()
            EventsWorker.drain_all()


def task_runs(server: PrefectServer, task_run_id: str, state_type: str) -> list[dict]:
    """The task run once the server has recorded it in ``state_type`` (it records task runs from events, a moment
    after the flow saw them)."""

    def recorded() -> list[dict]:
        found = server.post("/task_runs/filter", {"task_runs": {"id": {"any_": [task_run_id]}}})
        return [r for r in found if r["state_type"] == state_type]

    return wait_for(recorded, 30, interval=0.5, what=f"task run {task_run_id} {state_type}")


def test_a_failed_push_is_retried(prefect_server: PrefectServer, tiny_project: Path, tmp_path: Path) -> None:
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
    def push_once() -> str:
        timer.start()
        return str(dvc_push(tiny_project, return_state=True).state_details.task_run_id)

    with reporting_to(prefect_server):
        task_run_id = push_once()
    timer.join()
    assert task_runs(prefect_server, task_run_id, "COMPLETED")[0]["run_count"] == 2
    assert any(path.is_file() for path in remote.rglob("*")), "the retried push uploaded the outputs"


def test_a_blocked_pull_fails_at_once(prefect_server: PrefectServer, tmp_path: Path) -> None:
    """A pull that diverged history or local changes block fails the git-pull task with the problem named,
    without retries (the same pull would fail again), and leaves the checkout as it was."""
    origin, served, other = tmp_path / "origin.git", tmp_path / "served", tmp_path / "other"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "clone", "-q", str(origin), str(served)], tmp_path)
    (served / "notes.txt").write_text("one\n")
    for cmd in (
        ["git", "add", "notes.txt"],
        ["git", "commit", "-qm", "one"],
        ["git", "push", "-q", "-u", "origin", "HEAD"],
    ):
        run(cmd, served)
    one = head(served)
    run(["git", "clone", "-q", str(origin), str(other)], tmp_path)
    (other / "notes.txt").write_text("one\ntwo\n")
    run(["git", "commit", "-qam", "two"], other)
    run(["git", "push", "-q"], other)

    @flow
    def pull_in_flow() -> tuple[str, str, str]:
        state = git_pull(served, "origin", return_state=True)
        return state.type.value, state.message, str(state.state_details.task_run_id)

    def pull_once() -> tuple[str, str, int]:
        state, message, task_run_id = pull_in_flow()
        return state, message, task_runs(prefect_server, task_run_id, state)[0]["run_count"]

    (served / "local.txt").write_text("a commit the remote does not have\n")
    run(["git", "add", "local.txt"], served)
    run(["git", "commit", "-qm", "local"], served)
    local = head(served)
    with reporting_to(prefect_server):
        diverged = pull_once()
        assert head(served) == local
        run(["git", "reset", "-q", "--hard", one], served)
        (served / "notes.txt").write_text("one\nedited here\n")
        dirty = pull_once()
    assert diverged[0] == "FAILED" and diverged[2] == 1, diverged
    assert "the branch has diverged from its upstream" in diverged[1]
    assert dirty[0] == "FAILED" and dirty[2] == 1, dirty
    assert "uncommitted changes to tracked files block the pull" in dirty[1]
    assert (served / "notes.txt").read_text() == "one\nedited here\n"
    assert head(served) == one


def test_a_failed_stage_fails_the_run(prefect_server: PrefectServer, tmp_path: Path) -> None:
    """A failed stage leaves its task run, the pipeline subflow and the scheduled run Failed, which is what the
    UI shows, and nothing is committed. The corpus has only lines too short to be sentences: validation accepts
    the file (it is not empty), the prepare stage stops on it (seconds, before any model loads)."""
    project = small_project(tmp_path / "project", ["too short", "tiny"])
    assert default_remote(project) is None  # no DVC remote, no upstream branch: pull and push are skipped
    commit = head(project)
    with reporting_to(prefect_server):
        state = scheduled_pipeline(str(project), return_state=True)
    assert state.is_failed()
    [parent] = prefect_server.post(
        "/flow_runs/filter", {"flow_runs": {"id": {"any_": [str(state.state_details.flow_run_id)]}}}
    )
    [subflow] = prefect_server.post(
        "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [parent["id"]]}}}
    )
    assert (parent["state"]["type"], subflow["state"]["type"]) == ("FAILED", "FAILED")
    assert "stage prepare: dvc repro exited" in parent["state"]["message"]
    stages = {
        t["name"]: t["state"]["type"]
        for t in prefect_server.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [subflow["id"]]}}})
    }
    assert (stages["validate"], stages["prepare"]) == ("COMPLETED", "FAILED")
    assert "COMPLETED" not in {stages.get(name) for name in ("teacher_embeddings", "report")}
    assert head(project) == commit, "a failed run commits nothing"


def test_scheduled_run_records_its_result(prefect_server: PrefectServer, tmp_path: Path) -> None:
    """A user adds sentences to the corpus in their clone and pushes; the next scheduled run pulls it, encodes
    only the new sentences, pushes the outputs to the DVC remote and commits dvc.lock, metrics and reports; a
    fresh clone with `dvc pull` then has the new result and nothing to run. A run with nothing new commits nothing.

    The baseline (the prepared corpus and its teacher embeddings) is a `dvc repro teacher_embeddings` pushed by
    the user; the deployment's own checkout is a clone that starts with no outputs: its run pulls them.
    """
    origin, dvc_remote = tmp_path / "origin.git", tmp_path / "dvc-remote"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    user = small_project(tmp_path / "user", news_lines(0, 30))
    run(["dvc", "remote", "add", "-d", "shared", str(dvc_remote)], user)  # in .dvc/config, committed
    run(["dvc", "repro", "teacher_embeddings"], user)
    baseline = json.loads((user / "metrics" / "prepare.json").read_text())["kept"]
    for cmd in (
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "baseline"],
        ["git", "remote", "add", "origin", str(origin)],
        ["git", "push", "-q", "-u", "origin", "HEAD"],
        ["dvc", "push", "-q"],
    ):
        run(cmd, user)
    served, editor = tmp_path / "served", tmp_path / "editor"
    for clone in (served, editor):
        run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    with (editor / "inputs" / "data" / "news.txt").open("a") as corpus:
        corpus.write("\n".join(news_lines(30, 8)) + "\n")
    run(["git", "commit", "-qam", "more news"], editor)
    run(["git", "push", "-q"], editor)
    corpus_commit = head(editor)

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--interval", str(INTERVAL)],
            cwd=served,
            env={**prefect_server.env(), "PREFECT_RUNNER_POLL_FREQUENCY": str(RUNNER_POLL_SECONDS)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def scheduled_runs() -> list[dict]:
            assert serving.poll() is None, f"serve exited:\n{log.read_text()[-4000:]}"
            found = prefect_server.post("/deployments/filter", {"deployments": {"name": {"any_": ["scheduled"]}}})
            runs = prefect_server.post(
                "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [d["id"] for d in found]}}}
            )
            broken = [r for r in runs if r["state"]["type"] in ("FAILED", "CRASHED")]
            assert not broken, f"{broken[0]['state']}\n{log.read_text()[-4000:]}"
            return runs

        def result_commit() -> tuple[str, str] | None:
            scheduled_runs()
            sha, parent, subject = run(["git", "log", "-1", "--format=%H%n%P%n%s"], origin).stdout.splitlines()
            return (sha, subject) if parent == corpus_commit else None

        sha, subject = wait_for(result_commit, SCHEDULED_RUN_TIMEOUT, what="the scheduled run's commit on the remote")
        name, stages_ran = re.fullmatch(r"scheduled run (\S+): (\d+) stages ran", subject).groups()

        def finished(condition) -> list[dict]:
            return [r for r in scheduled_runs() if r["state"]["type"] == "COMPLETED" and condition(r)]

        [done] = wait_for(lambda: finished(lambda r: r["name"] == name), 60, what=f"run {name} completed")
        # the next run has nothing new to do: it commits nothing
        wait_for(lambda: finished(lambda r: r["start_time"] > done["end_time"]), 180, what="a run after it")
    finally:
        stop(serving)

    assert done["auto_scheduled"], "the run came from the schedule, not a manual trigger"
    assert run(["git", "log", "-1", "--format=%H"], origin).stdout.strip() == sha, (
        "a run with nothing new made a commit"
    )
    assert int(stages_ran) == 10, (
        subject
    )  # every stage but validate (release included): the corpus is an input of prepare
    messages = [
        entry["message"]
        for entry in prefect_server.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [done["id"]]}}})
    ]
    assert any(m.startswith(f"committed {sha}") for m in messages), "the commit's sha is in the run's log"
    [subflow] = prefect_server.post("/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [done["id"]]}}})
    assert subflow["state"]["type"] == "COMPLETED"
    assert prefect_server.post(
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": ["distill-report"]}, "flow_run_id": {"any_": [subflow["id"]]}}},
    )

    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(origin), str(fresh)], tmp_path)
    run(["dvc", "pull", "-q"], fresh)
    assert "up to date" in run(["dvc", "status"], fresh).stdout
    assert not run(["git", "status", "--porcelain"], fresh).stdout
    kept = json.loads((fresh / "metrics" / "prepare.json").read_text())["kept"]
    assert kept > baseline
    assert json.loads((fresh / "data" / "teacher.json").read_text())["sentences"] == kept
    assert (fresh / "reports" / "report.md").is_file() and (fresh / "models" / "L1" / "student").is_dir()

    # the teacher's cache, pulled from the DVC remote, held the baseline: only the new sentences were encoded
    counts = json.loads((fresh / "metrics" / "teacher_embeddings.json").read_text())
    assert (counts["requested"], counts["cached"], counts["encoded"]) == (kept, baseline, kept - baseline), counts
