"""Local inputs the params name are DVC deps: an edit reruns the stages that read them, nothing else
(``tests/e2e/test_local_inputs.py``).

They live under ``inputs/data/`` (corpora, STSb folders) and ``inputs/models/`` (model folders),
the folders ``dvc.yaml`` lists as deps; a local path elsewhere is refused before anything runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sentence_distill import assets
from sentence_distill.config.load import ParamsError, parse_params
from tests.project import ROOT
from tests.tiny_params import with_tiny_tasks

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
SENTENCES = [f"Local corpus sentence number {i}, long enough to be kept." for i in range(400)]


def test_local_paths_outside_inputs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(with_tiny_tasks(tmp_path))
    (tmp_path / "corpus.txt").write_text("\n".join(SENTENCES))
    with pytest.raises(ParamsError, match=r"prepare.corpus: local path 'corpus.txt' is outside inputs/data/"):
        parse_params({**TINY, "prepare": {**TINY["prepare"], "corpus": "corpus.txt"}})

    teacher = Path(assets.resolve_model(TINY["teacher"]["model"]))
    (tmp_path / "inputs" / "models").mkdir(parents=True)
    (tmp_path / "inputs" / "models" / "linked").symlink_to(teacher, target_is_directory=True)
    with pytest.raises(
        ParamsError, match=r"teacher.model: inputs/models/linked is a symlink to a folder, which DVC does not follow"
    ):
        parse_params({**TINY, "teacher": {**TINY["teacher"], "model": "inputs/models/linked"}})

    shutil.copytree(teacher, tmp_path / "inputs" / "models" / "copied")
    (tmp_path / "inputs" / "data").mkdir()
    (tmp_path / "inputs" / "data" / "corpus.txt").symlink_to(tmp_path / "corpus.txt")  # a linked file is fine
    parse_params(
        {
            **TINY,
            "prepare": {**TINY["prepare"], "corpus": "inputs/data/corpus.txt"},
            "teacher": {**TINY["teacher"], "model": "inputs/models/copied"},
        }
    )
