"""The schedule's parts that need no server: the cron expression from params, and the git push of a scheduled run
that someone else's push overtook (``tests/e2e/test_schedule.py`` runs ``python -m flows.serve``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows import git_sync
from sentence_distill.config.load import ParamsError, parse_params
from tests.project import ROOT, run


def head(repo: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def test_cron_comes_from_params() -> None:
    tiny = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    assert parse_params({**tiny, "schedule": {"cron": "30 1 * * 1"}}).schedule.cron == "30 1 * * 1"
    assert parse_params({k: v for k, v in tiny.items() if k != "schedule"}).schedule.cron == "0 3 * * *"
    with pytest.raises(ParamsError, match="schedule.cron: .every day. is not a valid 5-field cron expression"):
        parse_params({**tiny, "schedule": {"cron": "every day"}})


def test_a_push_race_rebases_or_stops(tmp_path: Path) -> None:
    """Someone pushed while the run ran: the run's commit is rebased onto theirs and pushed; if they changed
    dvc.lock too, the push stops with the way out named, and the commit stays local. Plain git, no Prefect."""
    origin, served, user = tmp_path / "origin.git", tmp_path / "served", tmp_path / "user"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "clone", "-q", str(origin), str(served)], tmp_path)
    (served / "dvc.lock").write_text("stages: {}\n")
    (served / "params.yaml").write_text("a: 1\n")
    for cmd in (["git", "add", "-A"], ["git", "commit", "-qm", "start"], ["git", "push", "-q", "-u", "origin", "HEAD"]):
        run(cmd, served)
    run(["git", "clone", "-q", str(origin), str(user)], tmp_path)
    where = git_sync.checkout(served)

    def race(path: str, text: str) -> None:  # the user pushes, then the run commits and pushes
        run(["git", "pull", "-q"], user)
        (user / path).write_text(text)
        run(["git", "commit", "-qam", f"user edits {path}"], user)
        run(["git", "push", "-q"], user)
        (served / "dvc.lock").write_text(f"stages: {{run: {text.strip()!r}}}\n")
        git_sync.commit(served, ["dvc.lock"], "scheduled run")

    race("params.yaml", "a: 2\n")
    pushed = git_sync.push(served, where)
    log = run(["git", "log", "--format=%H %s", "-2"], origin).stdout.splitlines()
    assert log == [f"{pushed} scheduled run", f"{head(user)} user edits params.yaml"]

    race("dvc.lock", "stages: {}  # by hand\n")
    mine = head(served)
    with pytest.raises(
        git_sync.GitRefused, match=r"moved on during the run .*CONFLICT.* dvc.lock.*git reset --hard origin/"
    ):
        git_sync.push(served, where)
    assert head(served) == mine and head(origin) == head(user)
    assert not run(["git", "status", "--porcelain"], served).stdout, "the rebase was aborted"
