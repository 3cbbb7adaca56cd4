"""Bad params: one clear message naming the key, the bad value and what is allowed; exit 2; nothing written. The
schema and the relations between keys; the inputs the params name are ``test_params_inputs.py``'s."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentence_distill.config.load import ParamsError, load_params, parse_params
from tests.project import ROOT, run
from tests.tiny_params import with_change

INVALID = [
    (
        "unknown key",
        with_change("distill.learnig_rate", 0.1),
        "distill.learnig_rate: unknown key (allowed keys: epochs",
    ),
    ("wrong type", with_change("distill.batch_size", "big"), "distill.batch_size: Input should be a valid integer"),
    (
        "learning rate <= 0",
        with_change("distill.learning_rate", 0),
        "distill.learning_rate: Input should be greater than 0 (got 0)",
    ),
    ("missing section", with_change("teacher", ...), "teacher: required key is missing"),
    (
        "layer outside teacher",
        with_change("students", {"S": {"layers": [0, 6]}}),
        "students.S.layers: layer index [6] is outside the teacher (allowed 0..5",
    ),
    (
        "duplicate layers",
        with_change("students", {"S": {"layers": [1, 1]}}),
        "students.S: Value error, layers has duplicates: [1, 1]",
    ),
    (
        "static and layers",
        with_change("students", {"S": {"static": True, "layers": [0]}}),
        "students.S: Value error, give only one of layers, num_layers, model, static (got layers, static)",
    ),
    (
        "static Matryoshka",
        with_change("students", {"S": {"static": True, "matryoshka_dims": [64]}}),
        "students.S: Value error, matryoshka_dims applies to transformer students, not static ones",
    ),
    (
        "untrained Matryoshka",
        with_change("students", {"L": {"num_layers": 2, "train": False, "matryoshka_dims": [64]}}),
        "students.L: Value error, matryoshka_dims needs train: true",
    ),
    (
        "Matryoshka duplicates",
        with_change("students", {"L": {"num_layers": 2, "matryoshka_dims": [64, 64]}}),
        "students.L: Value error, matryoshka_dims has duplicates: [64, 64]",
    ),
    (
        "no layers",
        with_change("students", {"S": {"layers": []}}),
        "students.S: Value error, layers must keep at least one layer",
    ),
    (
        "more layers than teacher",
        with_change("students", {"S": {"num_layers": 7}}),
        "students.S.num_layers: 7 is more than the teacher's 6 layers",
    ),
    (
        "zero layers",
        with_change("students", {"S": {"num_layers": 0}}),
        "students.S.num_layers: Input should be greater than 0 (got 0)",
    ),
    (
        "PCA above embedding",
        with_change("pca.dims", [512]),
        "pca.dims: 512 is not below the embedding size 384 of student 'L1' (allowed 1..383)",
    ),
    ("PCA key dvc.yaml lists", with_change("pca.in_memory_rows", ...), "pca.in_memory_rows: required key is missing"),
    ("PCA fit input", with_change("pca.fit_on", "raw"), "pca.fit_on: Input should be 'normalized' or 'unnormalized'"),
    (
        "PCA above fitting rows",
        with_change("pca.fit_sentences", 20),
        "pca.dims: 32 needs more than the at most 20 fitting sentences",
    ),
    (
        "unknown quantization backend",
        with_change("quantize.backends", ["tensorrt"]),
        "quantize.backends.0: Input should be 'onnx-int8', 'openvino-int8' or 'torch-int8'",
    ),
    (
        "heldout leaves nothing",
        with_change("prepare.heldout_sentences", 300),
        "prepare.heldout_sentences: 300 leaves no training sentences",
    ),
    (
        "student lr <= 0",
        with_change("students", {"S": {"layers": [0], "distill": {"learning_rate": 0}}}),
        "students.S.distill.learning_rate: Input should be greater than 0 (got 0)",
    ),
    (
        "student distill key",
        with_change("students", {"S": {"layers": [0], "distill": {"batch_size": 8}}}),
        "students.S.distill.batch_size: unknown key (allowed keys: epochs, learning_rate, warmup_ratio, eval_steps, "
        "train_sentences, processes, loss, contrastive_temperature, precision)",
    ),
    (
        "no training process",
        with_change("distill.processes", 0),
        "distill.processes: Input should be greater than 0 (got 0)",
    ),
    (
        "processes that do not divide the batch",
        with_change("distill.processes", 3),
        "distill.processes: 3 processes cannot share distill.batch_size=16 evenly "
        "(allowed: a divisor of the batch size, 1, 2, 4, 8, 16)",
    ),
    (
        "student processes that do not divide the batch",
        with_change("students", {"S": {"layers": [0], "distill": {"processes": 5}}}),
        "students.S.distill.processes: 5 processes cannot share distill.batch_size=16 evenly "
        "(allowed: a divisor of the batch size, 1, 2, 4, 8, 16)",
    ),
    (
        "bad student name",
        with_change("students", {"a/b": {"layers": [0]}}),
        "students.a/b: invalid student name 'a/b' (allowed: letters, digits and _;",
    ),
    (
        "student name with a dot",
        with_change("students", {"L3.v2": {"layers": [0]}}),
        "students.L3.v2: invalid student name 'L3.v2' (allowed: letters, digits and _; "
        "a '.' breaks DVC's students.${key}",
    ),
    (
        "student named teacher",
        with_change("students", {"teacher": {"layers": [0]}}),
        "students.teacher: the name 'teacher' is reserved",
    ),
    (
        "student named like a PCA label",
        with_change("students", {"L3-pca128": {"layers": [0]}}),
        "students.L3-pca128: invalid student name 'L3-pca128'",
    ),
    (
        "student named like an int8 label",
        with_change("students", {"X-onnx-int8": {"layers": [0]}}),
        "students.X-onnx-int8: invalid student name",
    ),
    (
        "student named like an embedding label",
        with_change("students", {"X-emb-binary": {"layers": [0]}}),
        "students.X-emb-binary: invalid student name",
    ),
    (
        "cron minute 61",
        with_change("schedule.cron", "61 3 * * *"),
        "schedule.cron: '61 3 * * *' is not a valid 5-field cron expression (minute 0-59",
    ),
    (
        "cron with 4 fields",
        with_change("schedule.cron", "0 3 * *"),
        "schedule.cron: '0 3 * *' is not a valid 5-field cron expression",
    ),
    (
        "cron hashed",
        with_change("schedule.cron", "H 3 * * *"),
        "schedule.cron: 'H 3 * * *' is not a valid 5-field cron expression",
    ),
    (
        "max_chars below min_chars",
        with_change("prepare.max_chars", 5),
        "prepare.max_chars: 5 is not above prepare.min_chars=10 (allowed: max_chars > min_chars)",
    ),
    (
        "max_seq_length beyond positions",
        with_change("teacher.max_seq_length", 100000),
        "teacher.max_seq_length: 100000 is beyond the 512 positions the teacher can embed (allowed 1..512",
    ),
    (
        "undecodable share above 1",
        with_change("prepare.max_undecodable_share", 2),
        "prepare.max_undecodable_share: Input should be less than or equal to 1 (got 2)",
    ),
]


@pytest.mark.parametrize(("case", "raw", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_params_name_the_key(case: str, raw: dict, message: str) -> None:
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert message in str(error.value)


BOOLEANS = [  # YAML reads yes, on and true as a boolean: refused for a number, not taken as 1
    ("int", with_change("teacher.batch_size", True), "teacher.batch_size: Input should be a valid integer (got True)"),
    (
        "float",
        with_change("distill.learning_rate", True),
        "distill.learning_rate: Input should be a valid number, not a boolean (got True)",
    ),
    (
        "student's float",
        with_change("students", {"L1": {"layers": [0], "distill": {"epochs": True}}}),
        "students.L1.distill.epochs: Input should be a valid number, not a boolean (got True)",
    ),
    ("int in a list", with_change("pca.dims", [True]), "pca.dims.0: Input should be a valid integer (got True)"),
]


@pytest.mark.parametrize(("case", "raw", "message"), BOOLEANS, ids=[c[0] for c in BOOLEANS])
def test_a_boolean_is_not_a_number(case: str, raw: dict, message: str) -> None:
    with pytest.raises(ParamsError) as error:
        parse_params(raw)
    assert str(error.value) == message


def test_numbers_keep_their_written_forms() -> None:
    """A float takes an integer, and text PyYAML did not read as a number (``1e-4``: YAML 1.1 wants a dot)."""
    raw = with_change("distill.learning_rate", "1e-4")
    raw["prepare"]["max_undecodable_share"] = 0
    params = parse_params(raw, check_inputs=False)
    assert params.distill.learning_rate == 1e-4 and params.prepare.max_undecodable_share == 0.0
    with pytest.raises(ParamsError, match=r"^teacher.batch_size: Input should be a valid integer \(got 8.0\)$"):
        parse_params(with_change("teacher.batch_size", 8.0))


def test_student_distill_overrides_only_its_own_training() -> None:
    schedule = {"epochs": 3, "warmup_ratio": 0.05, "eval_steps": 7, "train_sentences": 100}
    raw = with_change("students", {"S": {"layers": [0], "distill": schedule}, "T": {"layers": [1]}})
    params = parse_params(raw)
    own, other = params.distill_for("S"), params.distill_for("T")
    for key, value in schedule.items():
        assert getattr(own, key) == value and getattr(other, key) == getattr(params.distill, key) != value
    assert own.learning_rate == other.learning_rate == params.distill.learning_rate
    with pytest.raises(ParamsError, match=r"^students.S.distill.warmup_ratio: "):
        parse_params(with_change("students", {"S": {"layers": [0], "distill": {"warmup_ratio": 1.0}}}))


def test_a_student_can_go_without_pca_or_int8_models() -> None:
    raw = with_change(
        "students", {"S": {"layers": [0], "pca": False}, "T": {"layers": [1], "quantize": False}, "U": {"static": True}}
    )
    raw["pca"]["dims"] = [32]
    params = parse_params(raw)
    assert [params.pca_dims_for(n) for n in "STU"] == [[], [32], [32]]
    assert (
        params.backends_for("S") == params.quantize.backends
        and params.backends_for("T") == params.backends_for("U") == []
    )
    raw["pca"]["dims"] = [512]  # above MiniLM's 384 dimensions: refused for the students that get PCA models only
    raw["students"] = {"S": {"layers": [0], "pca": False}}
    assert parse_params(raw).pca_dims_for("S") == []
    raw["students"]["T"] = {"layers": [1]}
    with pytest.raises(ParamsError, match="pca.dims: 512 is not below the embedding size 384 of student 'T'"):
        parse_params(raw)


def test_training_processes_are_not_capped_at_the_cpu_count() -> None:
    """More processes than cores is slow, not wrong: only the batch size limits them (each takes batch_size / N)."""
    assert parse_params(with_change("distill.processes", 16)).distill_for("L1").processes == 16  # 16 > the CI's cores
    own = parse_params(
        with_change("students", {"S": {"layers": [0], "distill": {"processes": 2}}, "T": {"layers": [1]}})
    )
    assert own.distill_for("S").processes == 2 and own.distill_for("T").processes == own.distill.processes == 1


def test_profiles_are_valid() -> None:
    for profile in ["params.yaml", "profiles/tiny.yaml", "profiles/mpnet.yaml", "profiles/reference.yaml"]:
        params = load_params(ROOT / profile)
        assert params.students
    reference = load_params(ROOT / "profiles" / "reference.yaml")
    assert reference.report.compare_with_reference and reference.students["MiniLM"].model is not None


def test_bad_params_exit_2_and_write_nothing(tiny_project: Path) -> None:
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["students"] = {"L1": {"layers": [0, 9]}}
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params))
    before = sorted(p.relative_to(tiny_project) for p in tiny_project.rglob("*") if ".git" not in p.parts)
    for command in (
        ["python", "-m", "flows.pipeline"],
        ["python", "-m", "tasks.prepare"],
        ["python", "-m", "tasks.validate"],
    ):
        result = run(command, tiny_project, check=False, timeout=300)
        assert result.returncode == 2, result.stderr
        assert "students.L1.layers: layer index [9] is outside the teacher" in result.stderr
        assert "Traceback" not in result.stderr
    after = sorted(p.relative_to(tiny_project) for p in tiny_project.rglob("*") if ".git" not in p.parts)
    assert after == before
