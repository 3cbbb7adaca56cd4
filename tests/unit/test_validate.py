"""The validate stage: bad params stop `python -m tasks.validate` with one line per problem and exit 2, before
anything is written (under `dvc repro` of a finished run: ``tests/e2e/test_validate.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.project import ROOT, TEST_ENV, run
from tests.tiny_params import with_tiny_tasks

TINY = (ROOT / "profiles" / "tiny.yaml").read_text()


def edited(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


BAD_FILES = [  # (case, params.yaml content, the lines the user sees after "error: invalid params in params.yaml:")
    (
        "cron minute 61",
        edited(TINY, 'cron: "0 3 * * *"', 'cron: "61 3 * * *"'),
        [
            "schedule.cron: '61 3 * * *' is not a valid 5-field cron expression (minute 0-59, hour 0-23, "
            "day of month 1-31, month 1-12, day of week 0-6; e.g. '0 3 * * *')"
        ],
    ),
    (
        "two problems",
        edited(edited(TINY, "max_chars: 2000", "max_chars: 5"), "  L1:\n", "  L1.v2:\n"),
        [
            "students.L1.v2: invalid student name 'L1.v2' (allowed: letters, digits and _; a '.' breaks DVC's "
            "students.${key} and '-' is kept for generated labels such as L3-pca128)",
            "prepare.max_chars: 5 is not above prepare.min_chars=10 (allowed: max_chars > min_chars)",
        ],
    ),
    (
        "max_seq_length",
        edited(TINY, "max_seq_length: null", "max_seq_length: 100000"),
        [
            "teacher.max_seq_length: 100000 is beyond the 512 positions the teacher can embed "
            "(allowed 1..512, or null for the model's own limit)"
        ],
    ),
    (
        "missing corpus",
        edited(TINY, "corpus: bbc-news", "corpus: data/no-such-corpus.txt"),
        ["prepare.corpus: file or folder 'data/no-such-corpus.txt' does not exist"],
    ),
    (
        "missing teacher folder",
        edited(TINY, "model: sentence-transformers/all-MiniLM-L6-v2", "model: ./models/no-such-teacher"),
        ["teacher.model: model folder './models/no-such-teacher' does not exist"],
    ),
    (
        "missing STSb folder",
        edited(TINY, "stsb: sentence-transformers/stsb", "stsb: ./no-such-stsb"),
        ["prepare.stsb: './no-such-stsb' has no sts-train.csv, sts-dev.csv and sts-test.csv"],
    ),
    (
        "processes that do not divide the batch",
        edited(TINY, "  processes: 1 ", "  processes: 3 "),
        [
            "distill.processes: 3 processes cannot share distill.batch_size=16 evenly "
            "(allowed: a divisor of the batch size, 1, 2, 4, 8, 16)"
        ],
    ),
    (
        "non-UTF-8 file",
        edited(TINY, "# Tiny profile", "# Tiny profile \udce9").encode("utf-8", "surrogateescape"),
        None,
    ),  # no header line: the file itself is named
]


@pytest.mark.parametrize(("case", "content", "lines"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_params_stop_validate_with_one_line_per_problem(tmp_path: Path, case: str, content, lines) -> None:
    params = with_tiny_tasks(tmp_path) / "params.yaml"
    params.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(["python", "-m", "tasks.validate"], tmp_path, check=False, env={**TEST_ENV, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    if lines is None:
        assert result.stderr.strip().splitlines() == [
            "error: invalid params in params.yaml:",
            "params.yaml: not UTF-8 text (byte 0xe9 on line 1); save the file as UTF-8",
        ]
    else:
        assert result.stderr.strip().splitlines() == ["error: invalid params in params.yaml:", *lines]
    assert not (tmp_path / "data").exists()


def test_validated_file_is_the_same_for_every_valid_params_file(tmp_path: Path) -> None:
    """So a change to one param reruns validate, then only the stages that read that param."""
    env = {**TEST_ENV, "PYTHONPATH": str(ROOT)}
    contents = []
    for text in (TINY, edited(TINY, "rounds: 2", "rounds: 3")):
        (with_tiny_tasks(tmp_path) / "params.yaml").write_text(text)
        run(["python", "-m", "tasks.validate"], tmp_path, env=env)
        contents.append((tmp_path / "data" / "validated.json").read_bytes())
    assert contents[0] == contents[1]


def test_dvc_orders_validate_before_every_stage() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["validate"]["params"] == [{"params.yaml": None}], "validate reads every key"
    for name, stage in stages.items():
        if name not in ("validate", "code_digests"):  # code_digests reads no param: it fingerprints the code
            deps = stage.get("do", stage)["deps"]
            assert "data/validated.json" in deps, f"stage {name} does not wait for validate"
