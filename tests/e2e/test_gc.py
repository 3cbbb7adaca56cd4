"""Disk footprint: outputs linked to DVC's cache, int8 folders without fp32 weights, and ``python -m flows.gc``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.project import run


def test_outputs_are_links_to_the_dvc_cache_and_int8_folders_hold_no_fp32_weights(tiny_pipeline_run: Path) -> None:
    weights = tiny_pipeline_run / "models/L1/student/model.safetensors"
    assert weights.stat().st_nlink >= 2, "the workspace file and DVC's cache entry are one file on disk"
    assert weights.stat().st_ino == (tiny_pipeline_run / "models/L1/pca/32/model.safetensors").stat().st_ino, (
        "the PCA model's copy of the student's weights is the same file on disk"
    )
    int8_folders = [path.parent for path in (tiny_pipeline_run / "models").rglob("quantization.json")]
    assert len(int8_folders) == 6  # quantized and pca-quantized/32, three backends each
    with_fp32 = sorted(
        str(folder.relative_to(tiny_pipeline_run)) for folder in int8_folders if list(folder.glob("*.safetensors"))
    )
    assert with_fp32 == [
        "models/L1/pca-quantized/32/torch-int8",
        "models/L1/quantized/torch-int8",
    ]  # torch-int8 rebuilds from them


def test_gc_removes_only_what_the_current_results_do_not_use(finished_project: Path) -> None:
    project = finished_project
    current = json.loads((project / "data/teacher.json").read_text())["fingerprint"]
    # What an earlier teacher and a student since removed from params.yaml leave behind.
    shutil.copytree(project / "data/embeddings" / current, project / "data/embeddings/0123456789abcdef0123")
    shutil.copytree(project / "data/student_embeddings/L1", project / "data/student_embeddings/L9")
    run(["dvc", "commit", "--force"], project)
    assert "up to date" in run(["dvc", "status"], project).stdout
    lock = (project / "dvc.lock").read_text()

    params = project / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("seed: 42", "seed: 7", 1))
    refused = run(["python", "-m", "flows.gc"], project, check=False)
    assert refused.returncode == 2 and "not up to date" in refused.stderr and "Traceback" not in refused.stderr
    assert (project / "data/student_embeddings/L9").is_dir() and (project / "dvc.lock").read_text() == lock
    params.write_text(original)

    cache_files = sum(1 for path in (project / ".dvc/cache").rglob("*") if path.is_file())
    result = run(["python", "-m", "flows.gc"], project)
    assert "removing data/embeddings/0123456789abcdef0123" in result.stdout
    assert "removing data/student_embeddings/L9" in result.stdout
    assert [path.name for path in (project / "data/embeddings").iterdir()] == [current]
    student_cache = project / "data/student_embeddings/L1"
    kept = json.loads((student_cache / "current.json").read_text())["fingerprint"]
    assert sorted(path.name for path in student_cache.iterdir()) == sorted(["current.json", kept])
    assert sum(1 for path in (project / ".dvc/cache").rglob("*") if path.is_file()) < cache_files
    # The results are still those of the current params: nothing is stale, nothing reruns.
    assert "up to date" in run(["dvc", "status"], project).stdout
    assert "Stage 'student@L1' didn't change, skipping" in run(["dvc", "repro"], project).stdout
