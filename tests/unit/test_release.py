"""The release stage on hand-made model folders and metric files: each card has its own model's figures.

Every model folder of the tiny profile (fp32 and int8, with and without PCA) gets ``release/<label>/``:
its files hard-linked, a card with how it was made, its evaluation figures of every task family, its
speed-up with the machine, and never the figures of the model it was made from (nor those of the card
sentence-transformers saved with it). A model rebuilt after its evaluation, or a label without
figures, stops the stage before it writes anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from sentence_distill.config.load import parse_params
from sentence_distill.paths import variant_folder, variant_label
from sentence_distill.provenance import how_made
from sentence_distill.records.benchmark import (
    Architecture,
    BenchmarkEnvironment,
    BenchmarkFile,
    BenchmarkMethod,
    Latency,
    ModelSpeed,
    Spread,
)
from sentence_distill.records.evaluation import EvaluationFile, VariantMetrics
from sentence_distill.records.selection import Selection
from sentence_distill.records.student import StudentMetrics, Training
from sentence_distill.release.folders import RELEASE_DIR, release, variants
from sentence_distill.release.stale import StaleFigures
from sentence_distill.report.selection import rule_of

ROOT = Path(__file__).resolve().parents[2]

SAVED_CARD = """---
tags:
- sentence-transformers
- generated_from_trainer
library_name: sentence-transformers
---

# SentenceTransformer

This is a [sentence-transformers](https://www.SBERT.net) model trained.

## Model Details

<!-- - **Base model:** [Unknown](https://huggingface.co/unknown) -->
- **Output Dimensionality:** 384 dimensions

## Evaluation

### Metrics

| Metric              | Value      |
|:--------------------|:-----------|
| **spearman_cosine** | **0.1111** |

<!--
## Bias, Risks and Limitations

*What are the known or foreseeable issues stemming from this model?*
-->

## Training Details

Training logs stay: they are the student's training history.
"""


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


# One student's training figures, as the student stage records them.
TRAINING = Training(
    train_seconds=1.0,
    steps=8,
    best_step=4,
    selected_by="stsb_dev_spearman",
    best_stsb_dev_spearman=0.69,
    resumed_from=None,
    epochs=1.0,
    learning_rate=1e-4,
    processes=1,
)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A finished tiny-profile run's files: each model's STSb test figure and speed-up differ by model."""
    params = parse_params(yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text()))
    monkeypatch.chdir(tmp_path)
    write(Path("data/teacher.json"), {"model": params.teacher.model, "dimension": 384, "sentences": 300})
    StudentMetrics(
        name="L1",
        source=params.teacher.model,
        layers=1,
        kept_layers=[0],
        trained=True,
        parameters=1000,
        training=TRAINING,
    ).write(Path("metrics/students/L1.json"))
    evaluation: dict[str, dict[str, VariantMetrics]] = {}
    speeds, lock = {}, {"schema": "2.0", "stages": {}}
    for i, (name, group, dim) in enumerate(variants(params)):
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        write(folder / "model.bin", f"weights of {label}")
        if group != "fp32":  # what the quantize stage writes: how to load the int8 weights
            backend = {"onnx-int8": "onnx", "openvino-int8": "openvino"}.get(group, group)
            write(folder / "quantization.json", {"backend": backend, "file_name": f"{backend}/model_qint8.{backend}"})
        if group == "fp32":  # an int8 folder has no card: the quantize stage leaves its fp32 model's card out
            write(folder / "README.md", SAVED_CARD)
        figures = VariantMetrics(
            stsb_test_spearman=0.5 + i / 100,
            dimension=dim or 384,
            bytes_per_embedding=4 * (dim or 384),
            parameters=1000,
            disk_bytes=2000,
        )
        evaluation.setdefault(f"{name}-pca{dim}" if dim else name, {})[label] = figures
        if group == "fp32":
            evaluation[f"{name}-pca{dim}" if dim else name][f"{label}-emb-binary"] = VariantMetrics(
                stsb_test_spearman=0.4, dimension=dim or 384, bytes_per_embedding=48
            )
        speeds[label] = ModelSpeed(
            device="cpu",
            sentences_per_second=Spread(100.0, 90.0, 110.0),
            speedup_vs_teacher=Spread(2 + i, 1.5 + i, 2.5 + i),
            speedup_vs_fp32=Spread(1.0, 1.0, 1.0),
            fp32_model=variant_label(name, "fp32", dim),
            repetitions=1,
            latency_ms=Latency(3.0, 4.0),
            architecture=Architecture("bert", 1, 384) if group == "fp32" else None,
        )
        out = folder.parent.as_posix() if group != "fp32" else folder.as_posix()
        lock["stages"][f"make {out}"] = {"outs": [{"path": out, "md5": f"{out}.dir"}]}
        lock["stages"].setdefault(f"evaluate@{name}{dim or ''}", {"deps": []})["deps"].append(
            {"path": out, "md5": f"{out}.dir"}
        )
    for file, variants_ in evaluation.items():
        EvaluationFile(variants=variants_).write(Path("metrics/eval") / f"{file}.json")
    BenchmarkFile(
        method=BenchmarkMethod(
            sentences=256, batch_size=32, latency_queries=16, rounds=7, min_seconds=0.2, seed=0, seconds=1.0
        ),
        environment=BenchmarkEnvironment(
            cpu="Test CPU 9000",
            int8_isa="avx2",
            cores=2,
            threads=2,
            device="cpu",
            gpu=None,
            python="3.11",
            versions={"sentence-transformers": "5.7.0"},
            git_commit="0123456789abcdef",
        ),
        models=speeds,
    ).write(Path("metrics/benchmark.json"))
    write(Path("dvc.lock"), yaml.safe_dump(lock))
    none_chosen = Selection(  # the report stage's selection: release/selected/ is test_selected_release.py's
        rule=rule_of(params.select), candidates=0, meeting=0, chosen=None, why="", runners_up=[], unmet=[]
    )
    none_chosen.write(Path("metrics/selected.json"))
    return params


def test_every_model_folder_gets_a_card_with_its_own_figures(run) -> None:
    labels = release(run)
    expected = [variant_label(*v) for v in variants(run)]
    assert labels == expected and sorted(p.name for p in RELEASE_DIR.iterdir()) == sorted(expected)
    evaluation = {
        k: v for f in Path("metrics/eval").glob("*.json") for k, v in json.loads(f.read_text())["variants"].items()
    }
    for i, (name, group, dim) in enumerate(variants(run)):
        label = expected[i]
        folder = RELEASE_DIR / label
        assert (folder / "model.bin").stat().st_ino == (
            variant_folder(name, group, dim) / "model.bin"
        ).stat().st_ino  # a hard link
        card = ModelCard.load(folder / "README.md")
        text = card.text
        assert card.data.base_model == run.teacher.model and card.data.model_name == label
        assert f"# {label}\n" in text
        assert f"| {evaluation[label]['stsb_test_spearman']:.4f}" in text  # its own STSb test figure ...
        assert "0.1111" not in text  # ... not the figures of the card it was saved with
        assert f"**Speed-up over the teacher:** {2 + i:.2f}x" in text and "Test CPU 9000, 2 cores" in text
        assert ("PCA:** 32 dimensions" in text) == (dim == 32)
        assert (f"Quantization:** {group}" in text) == (group != "fp32")
        assert (
            '**Load:** `SentenceTransformer(path, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"})`'
            in text
        ) == (group == "onnx-int8")
        assert ("binary embeddings" in text) == (group == "fp32")  # embedding precisions: the fp32 model's own
        assert "Teacher:** `sentence-transformers/all-MiniLM-L6-v2` (384-d)" in text and "layers kept: [0]" in text
        assert "best step 4 by STSb dev Spearman 0.6900" in text and "300 sentences of" in text
        results = {r.metric_type: r.metric_value for r in card.data.eval_results}
        assert results["stsb_test_spearman"] == evaluation[label]["stsb_test_spearman"]


def test_a_model_rebuilt_after_its_evaluation_writes_no_card(run) -> None:
    lock = yaml.safe_load(Path("dvc.lock").read_text())
    lock["stages"]["make models/L1/pca/32"]["outs"][0]["md5"] = "rebuilt.dir"
    Path("dvc.lock").write_text(yaml.safe_dump(lock))
    with pytest.raises(StaleFigures, match="models/L1/pca/32 changed after it was evaluated"):
        release(run)
    assert not RELEASE_DIR.exists()


def test_a_model_without_benchmark_figures_writes_no_card(run) -> None:
    bench = json.loads(Path("metrics/benchmark.json").read_text())
    del bench["models"]["L1-pca32-torch-int8"]
    Path("metrics/benchmark.json").write_text(json.dumps(bench))
    with pytest.raises(StaleFigures, match="no benchmark figures for L1-pca32-torch-int8"):
        release(run)
    assert not RELEASE_DIR.exists()


def test_how_made_says_what_each_kind_of_student_is() -> None:
    raw = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    raw["students"] = {"S": {"static": True, "train": False}, "M": {"layers": [0], "matryoshka_dims": [16]}}
    raw["pca"]["fit_on"] = "unnormalized"
    params = parse_params(raw, check_inputs=False)
    teacher = {"model": params.teacher.model, "dimension": 384, "sentences": 300}
    static = StudentMetrics(name="S", source=params.teacher.model, layers=0, static=True, trained=False, parameters=10)
    made = dict(how_made(params, "S", static, teacher, dim=32))
    assert made["Student"].startswith("a static embedding table of the teacher's vocabulary")
    assert made["Distillation"] == "none (the table was not refined)" and made["Quantization"] == "none (float32)"
    assert made["PCA"] == "32 dimensions, fitted on the student's unnormalized embeddings, folded into the table"
    matryoshka = StudentMetrics(
        name="M",
        source=params.teacher.model,
        layers=1,
        kept_layers=[0],
        trained=True,
        matryoshka_dims=[16],
        training=TRAINING,
        parameters=10,
    )
    assert (
        "first 16 dimensions are embeddings on their own"
        in dict(how_made(params, "M", matryoshka, teacher))["Matryoshka"]
    )
    assert "Matryoshka" not in dict(
        how_made(params, "M", matryoshka, teacher, dim=32, group="onnx-int8")
    )  # its PCA model
