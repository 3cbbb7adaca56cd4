"""Local inputs the params name are DVC deps: an edit reruns the stages that read them, nothing else.

They live under ``inputs/data/`` (corpora, STSb folders) and ``inputs/models/`` (model folders),
the folders ``dvc.yaml`` lists as deps; a local path elsewhere is refused before anything runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from sentence_distill import assets
from sentence_distill.config.params import ParamsError, parse_params
from tests.project import ROOT, run

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
SENTENCES = [f"Local corpus sentence number {i}, long enough to be kept." for i in range(400)]


def changed_stages(project: Path) -> set[str]:
    """The stages `dvc status` reports as changed."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout)
    return set(status)


def test_local_paths_outside_inputs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("\n".join(SENTENCES))
    with pytest.raises(ParamsError, match=r"prepare.corpus: local path 'corpus.txt' is outside inputs/data/"):
        parse_params({**TINY, "prepare": {**TINY["prepare"], "corpus": "corpus.txt"}})

    teacher = Path(assets.resolve_model(TINY["teacher"]["model"]))
    (tmp_path / "inputs" / "models").mkdir(parents=True)
    (tmp_path / "inputs" / "models" / "linked").symlink_to(teacher, target_is_directory=True)
    with pytest.raises(ParamsError, match=r"teacher.model: inputs/models/linked is a symlink to a folder, which DVC does not follow"):
        parse_params({**TINY, "teacher": {**TINY["teacher"], "model": "inputs/models/linked"}})

    shutil.copytree(teacher, tmp_path / "inputs" / "models" / "copied")
    (tmp_path / "inputs" / "data").mkdir()
    (tmp_path / "inputs" / "data" / "corpus.txt").symlink_to(tmp_path / "corpus.txt")  # a linked file is fine
    parse_params({
        **TINY,
        "prepare": {**TINY["prepare"], "corpus": "inputs/data/corpus.txt"},
        "teacher": {**TINY["teacher"], "model": "inputs/models/copied"},
    })


def test_an_edited_local_input_reruns_the_stages_that_read_it(tiny_project: Path) -> None:
    project = tiny_project
    (project / "inputs" / "data" / "news.txt").write_text("\n".join(SENTENCES) + "\n")
    shutil.copytree(Path(assets.resolve_model(TINY["teacher"]["model"])), project / "inputs" / "models" / "minilm")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["prepare"].update(corpus="inputs/data/news.txt", include_stsb_train=False)
    params["teacher"]["model"] = "inputs/models/minilm"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "prepare"], project)
    assert json.loads((project / "metrics" / "prepare.json").read_text())["corpus"]["lines_read"] == 400
    assert "prepare" not in changed_stages(project)

    # More sentences in the local corpus: prepare is stale, and its rerun reads them.
    with (project / "inputs" / "data" / "news.txt").open("a") as corpus:
        corpus.write("One more sentence that the corpus gained after the run.\n")
    assert "prepare" in changed_stages(project)
    run(["dvc", "repro", "prepare"], project)
    assert json.loads((project / "metrics" / "prepare.json").read_text())["corpus"]["lines_read"] == 401

    # An edit inside the local teacher's folder makes the stages that load it stale, and not prepare.
    run(["dvc", "repro", "teacher_embeddings", "evaluate_teacher"], project)
    assert not {"prepare", "teacher_embeddings", "evaluate_teacher"} & changed_stages(project)
    config = project / "inputs" / "models" / "minilm" / "config_sentence_transformers.json"
    config.write_text(json.dumps(json.loads(config.read_text()), indent=4))
    stale = changed_stages(project)
    assert {"teacher_embeddings", "evaluate_teacher"} <= stale and "prepare" not in stale, stale
