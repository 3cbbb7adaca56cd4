"""Stages import what their work needs: a stage's entry point, and the ground modules it imports, load no model
library at import, and a stage with nothing to build (a student without PCA or int8 models) writes its note without
ever importing torch. Each check runs in a fresh interpreter, whose ``sys.modules`` is the stage's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.project import ROOT, TEST_ENV, run
from tests.tiny_params import with_change

HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "optimum", "openvino", "onnxruntime", "datasets")
LOADED = f"import sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
ENTRY_POINTS = [  # the stages whose entry point starts light (the others start their heavy work at once)
    "tasks.pca",
    "tasks.quantize",
    "tasks.student_embeddings",
    "tasks.teacher_embeddings",
    "tasks.validate",
    "tasks.report",
    "tasks.release",
]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_imports_no_model_library(module: str) -> None:
    result = run(["python", "-c", f"import {module}; {LOADED}"], ROOT)
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()} at start-up"


NOTES = """
from tasks import pca, quantize, student_embeddings
for main, argv in ((pca.main, ["L1", "32"]), (quantize.main, ["L1", "32"]), (quantize.main, ["L1"]),
                   (student_embeddings.main, ["L1"])):
    assert main(argv) == 0, (main, argv)
"""


def test_a_stage_with_nothing_to_build_writes_its_note_without_torch(tmp_path: Path) -> None:
    params = with_change("students", {"L1": {"layers": [0], "pca": False, "quantize": False}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(["python", "-c", NOTES + LOADED], tmp_path, env={**TEST_ENV, "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip().splitlines()[-1] == "[]"
    for folder in ("models/L1/pca/32", "models/L1/pca-quantized/32", "models/L1/quantized"):
        assert [p.name for p in (tmp_path / folder).iterdir()] == ["README.md"]
    assert json.loads((tmp_path / "metrics/pca/L1/32.json").read_text())["not_requested"].endswith("pca is false.")
    assert (tmp_path / "data/student_embeddings/L1").is_dir()
