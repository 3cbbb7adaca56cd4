"""Selecting a profile never loses an edit of params.yaml that is kept nowhere else."""

from __future__ import annotations

from pathlib import Path

from tests.project import ROOT, run


def test_profile_replaces_only_what_is_kept_elsewhere(tiny_project: Path) -> None:
    params = tiny_project / "params.yaml"
    mpnet = (ROOT / "profiles" / "mpnet.yaml").read_text()

    run(["python", "-m", "flows.profile", "mpnet"], tiny_project)  # the committed params.yaml is in git
    assert params.read_text() == mpnet
    assert "params.yaml" in run(["git", "status", "--short"], tiny_project).stdout
    assert "teacher.model" in run(["dvc", "params", "diff"], tiny_project).stdout

    run(["python", "-m", "flows.profile", "tiny"], tiny_project)  # mpnet's text is a profile
    edited = params.read_text() + "# my edit\n"
    params.write_text(edited)
    refused = run(["python", "-m", "flows.profile", "mpnet"], tiny_project, check=False)
    assert refused.returncode == 2 and "nothing was changed" in refused.stderr
    assert params.read_text() == edited

    unknown = run(["python", "-m", "flows.profile", "nope"], tiny_project, check=False)
    assert unknown.returncode == 2 and "mpnet, reference, tiny" in unknown.stderr

    params.write_text((ROOT / "profiles" / "tiny.yaml").read_text())  # the edit dropped: tiny's text is a profile
    run(["python", "-m", "flows.profile", "reference"], tiny_project)
    assert params.read_text() == (ROOT / "profiles" / "reference.yaml").read_text()
