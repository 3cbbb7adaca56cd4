"""``bench/results_page.py`` names the code a run's page comes from: a profile copied over ``params.yaml`` is the
profile, not an edit; a real edit is named by its whole path."""

from __future__ import annotations

from pathlib import Path

from bench.results_page import code_commit
from tests.project import run


def test_a_selected_profile_is_not_an_edit_and_an_edit_is_named(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "sentence_distill").mkdir()
    (tmp_path / "params.yaml").write_text("distill: {epochs: 1}\n")
    (tmp_path / "profiles" / "reference.yaml").write_text("distill: {epochs: 4}\n")
    (tmp_path / "sentence_distill" / "loss.py").write_text("WEIGHT = 1\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "run"]):
        run(cmd, tmp_path)
    head = run(["git", "rev-parse", "HEAD"], tmp_path).stdout.strip()

    (tmp_path / "params.yaml").write_text((tmp_path / "profiles" / "reference.yaml").read_text())
    assert code_commit(tmp_path, head, "reference") == (head, [])
    # the same params.yaml under another profile's name is an edit of the committed one
    assert code_commit(tmp_path, head, "default") == (head, ["local edits to params.yaml"])

    (tmp_path / "sentence_distill" / "loss.py").write_text("WEIGHT = 2\n")
    assert code_commit(tmp_path, head, "reference") == (head, ["local edits to sentence_distill/loss.py"])
