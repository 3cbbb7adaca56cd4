"""DVC sees every input: each stage lists the project code it runs, and every param has its value in the file.

DVC reruns a stage when a listed dep or param changes, and only then. A project module that a stage
imports but does not list would let an edit go unnoticed (stale outputs); a module it lists but does
not import reruns it for nothing. A schema key missing from ``params.yaml`` has its value in code,
where DVC cannot see it change.
"""

from __future__ import annotations

import pytest
import yaml
from pydantic import BaseModel

from sentence_distill.config.schema import Params
from tests.code_deps import PROJECT_PACKAGES, project_imports, stage_commands
from tests.project import ROOT

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
def test_each_stage_lists_exactly_the_project_code_it_imports(stage: str, module: str, deps: list[str]) -> None:
    closure = project_imports(module)
    deps = [d for d in deps if d.startswith(tuple(f"{package}/" for package in PROJECT_PACKAGES))]
    assert sorted(deps) == sorted(closure), (
        f"{stage}: dvc.yaml lists {sorted(set(deps) - closure)} that it does not import, "
        f"and misses {sorted(closure - set(deps))} that it imports"
    )


@pytest.mark.parametrize(("stage", "module", "deps"), stage_commands(), ids=[s for s, _, _ in stage_commands()])
def test_a_stage_that_reads_a_local_input_lists_its_folder(stage: str, module: str, deps: list[str]) -> None:
    code = [path for path in project_imports(module) if not path.startswith(PARAMS_CODE)]
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
