"""Data versioning round trip: push a run to a DVC remote, clone with git, pull, and nothing reruns."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.project import run


def lock_outs(project: Path) -> list[str]:
    """Every output path that dvc.lock records."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def test_push_clone_pull_needs_no_rerun(finished_project: Path, tmp_path: Path) -> None:
    project = finished_project  # a finished `dvc repro`, not committed yet
    run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], project)
    # The usual commit after a run: dvc.lock, the .gitignore files DVC wrote, uncached metrics and reports, the remote.
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "run"], project)
    assert "data/prepared" not in run(["git", "ls-files"], project).stdout, "cached outputs stay out of git"
    run(["dvc", "push"], project)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / "data" / "embeddings").exists()
    assert "local" in run(["dvc", "remote", "list"], clone).stdout  # committed in .dvc/config
    run(["dvc", "pull"], clone)

    for path in ["data/prepared", "data/embeddings", "models/L1/student", *lock_outs(project)]:
        assert (clone / path).exists(), f"{path} not restored by dvc pull"
    assert any((clone / "data" / "embeddings").rglob("*.parquet")), "embedding cache shards restored"
    assert "up to date" in run(["dvc", "status"], clone).stdout

    lock = (clone / "dvc.lock").read_text()
    repro = run(["dvc", "repro"], clone)
    assert "Running stage" not in repro.stdout
    assert "didn't change" in repro.stdout
    assert "up to date" in repro.stdout
    assert (clone / "dvc.lock").read_text() == lock
    assert not run(["git", "status", "--porcelain"], clone).stdout, "the clone matches the pushed commit"
