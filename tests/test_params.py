"""Bad params: one clear message naming the key, the bad value and what is allowed; exit 2; nothing written."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tasks import params as params_module
from tasks.params import ParamsError, load_params, parse_params
from tests.conftest import ROOT, run

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())


def with_change(path: str, value) -> dict:
    """The tiny profile with one key set (value ``...`` deletes the key)."""
    params = copy.deepcopy(TINY)
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return params


INVALID = [
    ("unknown key", with_change("distill.learnig_rate", 0.1), "distill.learnig_rate: unknown key (allowed keys: epochs"),
    ("wrong type", with_change("distill.batch_size", "big"), "distill.batch_size: Input should be a valid integer"),
    ("learning rate <= 0", with_change("distill.learning_rate", 0), "distill.learning_rate: Input should be greater than 0 (got 0)"),
    ("missing section", with_change("teacher", ...), "teacher: required key is missing"),
    ("layer outside teacher", with_change("students", {"S": {"layers": [0, 6]}}), "students.S.layers: layer index [6] is outside the teacher (allowed 0..5"),
    ("duplicate layers", with_change("students", {"S": {"layers": [1, 1]}}), "students.S: Value error, layers has duplicates: [1, 1]"),
    ("no layers", with_change("students", {"S": {"layers": []}}), "students.S: Value error, layers must keep at least one layer"),
    ("more layers than teacher", with_change("students", {"S": {"num_layers": 7}}), "students.S.num_layers: 7 is more than the teacher's 6 layers"),
    ("zero layers", with_change("students", {"S": {"num_layers": 0}}), "students.S.num_layers: Input should be greater than 0 (got 0)"),
    ("PCA above embedding", with_change("pca.dims", [512]), "pca.dims: 512 is not below the embedding size 384 of student 'L1' (allowed 1..383)"),
    ("PCA key dvc.yaml lists", with_change("pca.in_memory_rows", ...), "pca.in_memory_rows: required key is missing"),
    ("PCA above fitting rows", with_change("pca.fit_sentences", 20), "pca.dims: 32 needs more than the at most 20 fitting sentences"),
    ("missing corpus file", with_change("prepare.corpus", "./no/such/corpus.txt"), "prepare.corpus: file or folder './no/such/corpus.txt' does not exist"),
    ("missing stsb folder", with_change("prepare.stsb", "/no/such/stsb"), "prepare.stsb: '/no/such/stsb' has no sts-train.csv"),
    ("missing teacher", with_change("teacher.model", "./no-such-model"), "teacher.model: model './no-such-model' is neither a local folder"),
    ("unknown quantization backend", with_change("quantize.backends", ["tensorrt"]), "quantize.backends.0: Input should be 'onnx-int8', 'openvino-int8' or 'torch-int8'"),
    ("heldout leaves nothing", with_change("prepare.heldout_sentences", 300), "prepare.heldout_sentences: 300 leaves no training sentences"),
    ("student lr <= 0", with_change("students", {"S": {"layers": [0], "distill": {"learning_rate": 0}}}), "students.S.distill.learning_rate: Input should be greater than 0 (got 0)"),
    ("student distill key", with_change("students", {"S": {"layers": [0], "distill": {"batch_size": 8}}}), "students.S.distill.batch_size: unknown key (allowed keys: epochs, learning_rate)"),
    ("bad student name", with_change("students", {"a/b": {"layers": [0]}}), "students.a/b.[key]: String should match pattern"),
]


@pytest.mark.parametrize(("case", "raw", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_params_name_the_key(case: str, raw: dict, message: str) -> None:
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert message in str(error.value)


def test_backend_without_its_packages_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(params_module.BACKEND_MODULES, "torch-int8", ("torch", "no_such_runtime_pkg"))
    with pytest.raises(ParamsError, match="quantize.backends: torch-int8 needs no_such_runtime_pkg, which is not installed"):
        parse_params(with_change("quantize.backends", ["torch-int8"]))


def test_student_distill_overrides_only_its_own_training() -> None:
    raw = with_change("students", {"S": {"layers": [0], "distill": {"epochs": 3}}, "T": {"layers": [1]}})
    params = parse_params(raw)
    own, other = params.distill_for("S"), params.distill_for("T")
    assert own.epochs == 3 and other.epochs == params.distill.epochs != 3
    assert own.learning_rate == other.learning_rate == params.distill.learning_rate


def test_profiles_are_valid() -> None:
    for profile in ["params.yaml", "profiles/tiny.yaml", "profiles/mpnet.yaml"]:
        params = load_params(ROOT / profile)
        assert params.students


def test_bad_params_exit_2_and_write_nothing(tiny_project: Path) -> None:
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["students"] = {"L1": {"layers": [0, 9]}}
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params))
    before = sorted(p.relative_to(tiny_project) for p in tiny_project.rglob("*") if ".git" not in p.parts)
    for command in (["python", "-m", "flows.pipeline"], ["python", "-m", "tasks.prepare"], ["python", "-m", "tasks.params"]):
        result = run(command, tiny_project, check=False, timeout=300)
        assert result.returncode == 2, result.stderr
        assert "students.L1.layers: layer index [9] is outside the teacher" in result.stderr
        assert "Traceback" not in result.stderr
    after = sorted(p.relative_to(tiny_project) for p in tiny_project.rglob("*") if ".git" not in p.parts)
    assert after == before
