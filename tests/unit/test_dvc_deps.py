"""DVC sees every input: each stage depends on the digest of the project code it runs, and every param has its value
in the file.

DVC reruns a stage when a listed dep or param changes, and only then. Each stage depends on
``data/code/<module>.json`` of the ``tasks/<module>.py`` it runs, which the ``code_digests`` stage writes from that
module's import closure: a module that a stage imports and the digest missed would let an edit go unnoticed (stale
outputs); one it covers without running it would rerun the stage for nothing. A schema key missing from
``params.yaml`` has its value in code, where DVC cannot see it change.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from sentence_distill.code_closure import (
    CODE_DIGESTS_DIR,
    PROJECT_PACKAGES,
    STAGE_PACKAGE,
    project_files,
    stage_module_digests,
)
from sentence_distill.config.schema import Params
from tests.project import ROOT

DVC_STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
CODE_STAGE = "code_digests"


def stage_commands() -> list[tuple[str, str, list[str]]]:
    """(stage, module, file deps) of every stage in dvc.yaml, foreach stages once each."""
    found = []
    for name, stage in DVC_STAGES.items():
        body = stage.get("do", stage)
        words = shlex.split(body["cmd"])
        assert words[:2] == ["python", "-m"] and words[2].startswith(f"{STAGE_PACKAGE}."), f"{name}: {body['cmd']}"
        found.append((name, words[2], [d for d in body.get("deps", []) if isinstance(d, str)]))
    return found


@pytest.mark.parametrize(("stage", "module", "deps"), stage_commands(), ids=[s for s, _, _ in stage_commands()])
def test_each_stage_depends_on_its_module_digest_and_lists_no_module(stage: str, module: str, deps: list[str]) -> None:
    code = [d for d in deps if d.startswith(tuple(f"{package}/" for package in PROJECT_PACKAGES))]
    if stage == CODE_STAGE:  # the source folders whole: a new module is seen without editing dvc.yaml
        assert sorted(deps) == sorted(PROJECT_PACKAGES)
    else:
        digest = f"{CODE_DIGESTS_DIR}/{module.removeprefix(STAGE_PACKAGE + '.')}.json"
        assert digest in deps and code == [], deps
        assert not any(d.startswith(f"{CODE_DIGESTS_DIR}/") and d != digest for d in deps), deps


def test_the_code_stage_writes_one_digest_per_stage_module() -> None:
    outs = DVC_STAGES[CODE_STAGE]["outs"]
    modules = sorted(p.stem for p in (ROOT / STAGE_PACKAGE).glob("*.py") if p.stem != "__init__")
    assert [next(iter(out)) for out in outs] == [f"{CODE_DIGESTS_DIR}/{name}.json" for name in modules]
    assert all(out[next(iter(out))] == {"cache": False} for out in outs)


def test_a_digest_covers_the_module_closure_and_changes_only_for_the_modules_that_run_the_edit(tmp_path: Path) -> None:
    """The digest of each stage module holds every file it runs, lazy imports and read data files included, with
    its sha256; an edit to the report's charts changes the report's digest and no other."""
    digests = stage_module_digests(ROOT)
    assert {record["module"] for record in digests.values()} >= {module for _, module, _ in stage_commands()}
    for record in digests.values():
        assert set(record["files"]) == project_files(record["module"]), record["module"]
        for path, sha in record["files"].items():
            assert sha == hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
    assert "sentence_distill/asset_digests.json" in digests["prepare"]["files"]  # read by assets.py, not imported
    assert "sentence_distill/students/trainer.py" in digests["student"]["files"]
    assert "sentence_distill/students/trainer.py" not in digests["report"]["files"]
    for folder in PROJECT_PACKAGES:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    edited = tmp_path / "sentence_distill" / "report" / "charts.py"
    edited.write_text(edited.read_text() + "\n# an edit\n")
    changed = {name for name, record in stage_module_digests(tmp_path).items() if record != digests[name]}
    assert changed == {"report"}


# The local-input folders, and what a stage's code (the stage module and the library it imports; the params schema and
# checks aside, which name every input without reading it) says when it reads an input the params name.
LOCAL_INPUTS = {
    "inputs/data": ("params.corpus", "params.stsb"),
    "inputs/models": ("teacher.model", "spec.model", "load_model(params.model"),
    "inputs/tasks": ("OwnTasks.read(",),
}
NAMES_ONLY = {"report": "inputs/models"}  # names the teacher and option-1 models in its text, loads none of them
# The params checks read these whole in the validate stage alone (every stage imports the checks, only validate runs
# them all): a bad edit of a task file then stops `dvc repro` there, before an evaluate stage has lost its outputs.
CHECKED_BY_VALIDATE = {"inputs/tasks"}
PARAMS_CODE = "sentence_distill/config/"


@pytest.mark.parametrize(("stage", "module", "deps"), stage_commands(), ids=[s for s, _, _ in stage_commands()])
def test_a_stage_that_reads_a_local_input_lists_its_folder(stage: str, module: str, deps: list[str]) -> None:
    code = [path for path in project_files(module) if not path.startswith(PARAMS_CODE)]
    source = "".join((ROOT / path).read_text() for path in code)
    for folder, reads in LOCAL_INPUTS.items():
        reads_it = any(read in source for read in reads) and NAMES_ONLY.get(stage) != folder
        reads_it |= stage == "validate" and folder in CHECKED_BY_VALIDATE
        assert (folder in deps) == reads_it, f"{stage}: {folder} listed {folder in deps}"


def missing_keys(model: type[BaseModel], raw: dict, prefix: str) -> list[str]:
    missing = []
    for key, field in model.model_fields.items():
        if key == "students":  # each student's keys are alternatives (layers | num_layers | model)
            continue
        if key not in raw:
            missing.append(prefix + key)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            missing += missing_keys(field.annotation, raw[key], f"{prefix}{key}.")
    return missing


@pytest.mark.parametrize(
    "path", ["params.yaml", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "profiles").glob("*.yaml"))]
)
def test_every_param_has_its_value_in_the_file(path: str) -> None:
    """A default that lives only in code is a value DVC cannot see change."""
    raw = yaml.safe_load((ROOT / path).read_text())
    assert missing_keys(Params, raw, "") == []
