"""The run with more students (``more_students_run``: static S0 and S, Matryoshka M1, N1 without PCA or int8
models) through every stage. One module, so that one worker of `make test` builds that run and runs its tests."""

from __future__ import annotations

import json
from pathlib import Path

from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

from sentence_distill.paths import STATIC_TABLES_DIR


def test_static_students_go_through_every_stage(more_students_run: Path) -> None:
    project = more_students_run
    for name in ("S0", "S"):
        model = SentenceTransformer(str(project / "models" / name / "student"), device="cpu")
        assert [type(m) for m in model] == [StaticEmbedding, Normalize] and model.get_embedding_dimension() == 384
        pca = SentenceTransformer(str(project / "models" / name / "pca" / "32"), device="cpu")
        assert [type(m) for m in pca] == [StaticEmbedding, Normalize] and pca.get_embedding_dimension() == 32  # folded
        assert not [p for p in (project / "models" / name / "quantized").iterdir() if p.name != "README.md"]
        variants = json.loads((project / "metrics" / "eval" / f"{name}.json").read_text())["variants"]
        assert sorted(variants) == sorted([name, *(f"{name}-emb-{p}" for p in ("int8", "uint8", "binary"))])
        assert {"stsb_test_spearman", "classification_kept", "clustering_kept", "retrieval_kept"} <= set(variants[name])
        assert (
            f"{name}-pca32" in json.loads((project / "metrics" / "eval" / f"{name}-pca32.json").read_text())["variants"]
        )
    assert (
        len([p for p in (project / STATIC_TABLES_DIR).iterdir() if p.is_dir()]) == 1
    )  # S0 and S share one distillation
    students = {n: json.loads((project / "metrics" / "students" / f"{n}.json").read_text()) for n in ("S0", "S")}
    assert students["S0"]["trained"] is False and students["S"]["steps"] == 8
    # refining on the teacher's embeddings brings the table's outputs closer to them
    mse = {
        n: json.loads((project / "metrics" / "eval" / f"{n}.json").read_text())["variants"][n]["mse_to_teacher_x100"]
        for n in ("S0", "S")
    }
    assert mse["S"] < mse["S0"], mse
    benchmark = json.loads((project / "metrics" / "benchmark.json").read_text())["models"]
    assert benchmark["S"]["architecture"] == {"model_type": "static", "layers": 0, "hidden_size": 384}
    assert (
        benchmark["S"]["speedup_vs_teacher"]["median"] > benchmark["L1"]["speedup_vs_teacher"]["median"]
    )  # a lookup, not a layer
    report = (project / "reports" / "report.md").read_text()
    assert "No int8 models of S0, S: a static-embedding model has no matrix multiplication to quantize" in report
    assert SentenceTransformer(str(project / "release" / "S-pca32"), device="cpu").get_embedding_dimension() == 32
    assert "static embedding table" in (project / "release" / "S" / "README.md").read_text()


def test_a_matryoshka_student_goes_through_every_stage(more_students_run: Path) -> None:
    project = more_students_run
    summary = json.loads((project / "metrics" / "students" / "M1.json").read_text())
    assert summary["matryoshka_dims"] == [32, 16] and summary["steps"] == 8
    assert summary["train_sentences"] == 64  # distill.train_sentences: 8 steps of 16 go twice over them
    assert summary["precision"] == "bf16"  # its steps under bfloat16 autocast, its weights float32 (loaded below)
    model = SentenceTransformer(str(project / "models" / "M1" / "student"), device="cpu", truncate_dim=16)
    assert model.encode(["A man is playing a guitar."]).shape == (1, 16)
    variants = json.loads((project / "metrics" / "eval" / "M1.json").read_text())["variants"]
    for backend in ("", "-onnx-int8", "-openvino-int8", "-torch-int8"):
        for k in (32, 16):
            cut = variants[f"M1-mrl{k}{backend}"]
            assert cut["dimension"] == k and cut["runs_as"] == f"M1{backend}" and cut["fp32_model"] == f"M1-mrl{k}"
            assert {"stsb_test_spearman", "classification_kept", "clustering_kept", "retrieval_kept"} <= set(cut)
    assert (
        "M1-mrl16-emb-binary" in variants and "mse_to_teacher_x100" not in variants["M1"]
    )  # other axes than the teacher's
    report = (project / "reports" / "report.md").read_text()
    assert (
        "## Matryoshka cuts against PCA" in report and "| M1 | 32 | M1-mrl32 |" in report and "| M1-pca32 |" in report
    )
    rows = {r["model"]: r for r in json.loads((project / "reports" / "models.json").read_text())}
    assert rows["M1-mrl16"]["speedup"] == rows["M1"]["speedup"]  # a cut runs as its model
    comparison = json.loads((project / "metrics" / "summary.json").read_text())["matryoshka_against_pca"]
    assert [(c["dimension"], c["pca"]) for c in comparison] == [(32, "M1-pca32"), (16, None)]
    card = (project / "release" / "M1" / "README.md").read_text()
    assert "truncate_dim=k" in card and "first 16 dimensions (M1-mrl16)" in card


def test_a_student_without_pca_or_int8_models_has_none_anywhere(more_students_run: Path) -> None:
    """N1 (``pca: false, quantize: false``): its PCA and int8 stages write a note in place of a model, and no later
    stage evaluates, times, reports or releases one; its fp32 model goes everywhere as any student's."""
    project = more_students_run
    assert not any((project / "data" / "student_embeddings" / "N1").iterdir())  # nothing encoded to fit a PCA on
    for folder in ("pca/32", "pca-quantized/32", "quantized"):
        assert [p.name for p in (project / "models" / "N1" / folder).iterdir()] == ["README.md"], folder
    assert "students.N1.pca is false" in (project / "models" / "N1" / "pca" / "32" / "README.md").read_text()
    assert json.loads((project / "metrics" / "eval" / "N1-pca32.json").read_text())["variants"] == {}
    assert sorted(json.loads((project / "metrics" / "eval" / "N1.json").read_text())["variants"]) == [
        "N1",
        "N1-emb-binary",
        "N1-emb-int8",
        "N1-emb-uint8",
    ]
    timed = json.loads((project / "metrics" / "benchmark.json").read_text())["models"]
    assert "N1" in timed and not [label for label in timed if label.startswith("N1-")]
    assert "L1-pca32" in timed and "L1-onnx-int8" in timed  # the other students keep theirs
    released = sorted(p.name for p in (project / "release").iterdir() if p.name.startswith("N1"))
    assert released == ["N1"]
    report = (project / "reports" / "report.md").read_text()
    assert "| N1 |" in report and "N1-pca32" not in report and "N1-onnx-int8" not in report
    assert (
        "No int8 models of N1: their `quantize` is false" in report
        and "No PCA models of N1: their `pca` is false" in report
    )
