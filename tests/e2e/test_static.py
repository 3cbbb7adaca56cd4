"""Static students S0 (distilled only) and S (also refined) through every stage of the run with more students."""

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
