"""``release/selected/``: the model the selection rule picked, released like the others, and its card's usage snippet
loads and encodes it in a fresh process, on a real model (all-MiniLM-L6-v2 cut to one layer). A Matryoshka cut ships
as the folder of the model it cuts, loaded with ``truncate_dim``; no model meeting the rule writes no folder; a
selection older than the figures stops the release.

The int8 backends' load lines run on real int8 exports in the end-to-end tier (``tests/e2e/test_pipeline.py``)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard
from sentence_transformers import SentenceTransformer

from sentence_distill import assets
from sentence_distill.config.load import parse_params
from sentence_distill.config.schema import Params, SelectParams
from sentence_distill.paths import SELECTED_FILE, variant_folder, variant_label
from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.evaluation import EvaluationFile, VariantMetrics
from sentence_distill.records.selection import Selection
from sentence_distill.records.student import StudentMetrics, Training
from sentence_distill.release.folders import RELEASE_DIR, release, variants
from sentence_distill.release.stale import StaleFigures
from sentence_distill.report.rows import collect_rows
from sentence_distill.report.selection import select_model
from sentence_distill.students.build import prune_layers
from tests.project import ROOT, TEST_ENV, run
from tests.report_runs import ENVIRONMENT, speed

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
STSB = {"teacher": 0.82, "L1": 0.75, "L1-mrl32": 0.70, "L1-pca32": 0.69}  # every other variant: 0.60
SPEEDUP = {"L1": (3.0, 2.9, 3.1), "L1-pca32": (1.5, 1.4, 1.6)}  # every int8 copy: 5x [4.9-5.1]


@pytest.fixture(scope="module")
def one_layer(tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2 with its first layer only, saved as the student stage saves a student."""
    folder = tmp_path_factory.mktemp("one-layer") / "student"
    prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0]).save(str(folder))
    return folder


def metrics(label: str) -> VariantMetrics:
    dim = 32 if "32" in label else 384
    return VariantMetrics(
        stsb_test_spearman=STSB.get(label, 0.60),
        dimension=dim,
        bytes_per_embedding=4 * dim,
        disk_bytes=20_000_000,
        runs_as="L1" if label == "L1-mrl32" else None,
        fp32_model=label if label == "L1-mrl32" else None,
    )


@pytest.fixture
def run_files(one_layer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Params:
    """A finished tiny-profile run: the real one-layer model as L1, every other model folder a stand-in."""
    params = parse_params(yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text()), check_inputs=False)
    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/teacher.json").write_text(json.dumps({"model": MINILM, "dimension": 384, "sentences": 300}))
    training = Training(
        train_seconds=1.0,
        steps=8,
        best_step=8,
        selected_by="stsb_dev_spearman",
        best_stsb_dev_spearman=0.7,
        resumed_from=None,
        epochs=1.0,
        learning_rate=1e-4,
        processes=1,
    )
    student = StudentMetrics(
        name="L1", source=MINILM, layers=1, kept_layers=[0], trained=True, parameters=1000, training=training
    )
    student.write(Path("metrics/students/L1.json"))
    evaluation = {"teacher": {"teacher": metrics("teacher")}, "L1": {"L1-mrl32": metrics("L1-mrl32")}}
    speeds = {"teacher": speed(1.0, 1.0, 1.0, "teacher")}
    for name, group, dim in variants(params):
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        if label == "L1":
            folder.mkdir(parents=True)
            for file in one_layer.rglob("*"):
                if file.is_file():
                    (folder / file.relative_to(one_layer)).parent.mkdir(parents=True, exist_ok=True)
                    os.link(file, folder / file.relative_to(one_layer))
        else:
            folder.mkdir(parents=True)
            (folder / "model.bin").write_text(f"weights of {label}")
        if group != "fp32":  # what the quantize stage writes: how to load the int8 weights
            backend = {"onnx-int8": "onnx", "openvino-int8": "openvino"}.get(group, group)
            info = {"backend": backend, "file_name": f"{backend}/model_qint8.{backend}"}
            (folder / "quantization.json").write_text(json.dumps(info))
        evaluation.setdefault(f"{name}-pca{dim}" if dim else name, {})[label] = metrics(label)
        fp32 = variant_label(name, "fp32", dim)
        speeds[label] = speed(*SPEEDUP.get(label, (5.0, 4.9, 5.1)), fp32)
    speeds["L1-mrl32"] = speeds["L1"]
    for file, variants_ in evaluation.items():
        EvaluationFile(variants=variants_).write(Path("metrics/eval") / f"{file}.json")
    method = {"sentences": 32, "batch_size": 16, "latency_queries": 4, "rounds": 2, "min_seconds": 0.05}
    benchmark = {"method": {**method, "seed": 42, "seconds": 1.0}, "environment": ENVIRONMENT, "models": speeds}
    BenchmarkFile.from_dict(benchmark).write(Path("metrics/benchmark.json"))
    return params


def select_and_release(params: Params, **rule) -> list[str]:
    """The report stage's selection (``metrics/selected.json``), then the release stage."""
    rows = collect_rows(params, Path("metrics/eval"), Path("metrics/benchmark.json"))
    select_model(rows, SelectParams(**rule)).write(SELECTED_FILE)
    return release(params, lock_file=None)


def snippet(card: str) -> str:
    [code] = re.findall(r"```python\n(.*?)\n```", card, flags=re.DOTALL)
    return code


@pytest.mark.parametrize(
    ("rule", "label", "dimension"),
    [
        ({"floor": 0.8, "constraints": {"backends": ["fp32"]}}, "L1", 384),
        ({"floor": 0.8, "constraints": {"backends": ["fp32"], "max_bytes_per_embedding": 128}}, "L1-mrl32", 32),
    ],
    ids=["fp32 model", "Matryoshka cut"],
)
def test_the_selected_model_loads_and_encodes_as_its_card_says(run_files, rule, label, dimension) -> None:
    released = select_and_release(run_files, **rule)
    assert released[-1] == "selected" and released[:-1] == [variant_label(*v) for v in variants(run_files)]
    selected = RELEASE_DIR / "selected"
    weights = next(selected.glob("*.safetensors"))
    assert weights.stat().st_ino == (Path("models/L1/student") / weights.name).stat().st_ino  # a hard link
    card = ModelCard.load(selected / "README.md")
    assert card.data.model_name == label and f"# {label}\n" in card.text
    why = card.text.index("## Why this model")
    assert why < card.text.index("## How this model was made")
    assert f"**{label}** (fp32" in card.text and "Rule (`select` in params.yaml): the floor (80%" in card.text
    assert f"| {STSB[label]:.4f}" in card.text  # its own figures, a cut's included
    code = snippet(card.text)
    assert 'path = "release/selected"' in code
    assert ("truncate_dim=32" in code) == (label == "L1-mrl32")
    result = run(["python", "-c", code], Path.cwd(), env={**TEST_ENV, "HF_HUB_OFFLINE": "1"}, timeout=300)
    printed = re.fullmatch(r"\((\d+), (\d+)\) tensor\(\[\[(-?[\d.]+)\]\]\)", result.stdout.strip())
    assert printed is not None, result.stdout
    sentences, dims, similarity = printed.groups()
    assert (int(sentences), int(dims)) == (2, dimension) and 0.3 < float(similarity) <= 1.0  # two paraphrases


def test_every_card_has_its_own_snippet(run_files) -> None:
    select_and_release(run_files, floor=0.8, constraints={"backends": ["fp32"]})
    onnx = snippet((RELEASE_DIR / "L1-onnx-int8" / "README.md").read_text())
    assert onnx.startswith("from sentence_transformers import SentenceTransformer\n")
    assert 'path = "release/L1-onnx-int8"' in onnx
    assert (
        'model = SentenceTransformer(path, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"})' in onnx
    )
    torch_int8 = snippet((RELEASE_DIR / "L1-pca32-torch-int8" / "README.md").read_text())
    assert torch_int8.startswith("import sentence_distill.models\n")
    assert "model = sentence_distill.models.load_variant(path)" in torch_int8
    assert "model = SentenceTransformer(path)\n" in snippet((RELEASE_DIR / "L1-pca32" / "README.md").read_text())


def test_no_model_meeting_the_rule_writes_no_selected_folder(run_files) -> None:
    released = select_and_release(run_files, floor=0.95)  # L1 keeps 91%
    assert "selected" not in released and not (RELEASE_DIR / "selected").exists()
    assert Selection.read(SELECTED_FILE).nearest.model == "L1"


def test_a_selection_older_than_the_figures_stops_the_release(run_files) -> None:
    rows = collect_rows(run_files, Path("metrics/eval"), Path("metrics/benchmark.json"))
    select_model(rows, SelectParams(floor=0.8, constraints={"backends": ["fp32"]})).write(SELECTED_FILE)
    evaluation = EvaluationFile.read(Path("metrics/eval/L1.json"))
    evaluation.variants["L1"] = replace(metrics("L1"), stsb_test_spearman=0.74)
    evaluation.write(Path("metrics/eval/L1.json"))  # L1 evaluated again after the report stage ran
    with pytest.raises(StaleFigures, match="metrics/selected.json was written from older figures of L1"):
        release(run_files, lock_file=None)
    assert not RELEASE_DIR.exists()
