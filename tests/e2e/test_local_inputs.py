"""An edited local input reruns, under `dvc repro`, the stages that read it and nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from sentence_distill import assets
from tests.project import run
from tests.unit.test_local_inputs import SENTENCES, TINY


def changed_stages(project: Path) -> set[str]:
    """The stages `dvc status` reports as changed."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout)
    return set(status)


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
