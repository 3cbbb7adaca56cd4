"""The tiny profile end to end, through both drivers: `dvc repro` and the Prefect flow."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import yaml

from tests.prefect_server import PrefectServer
from tests.project import TEST_ENV, run

RELOAD_SCRIPT = """
import json, sys
from pathlib import Path
from sentence_transformers import SentenceTransformer
dims = {}
for path in sorted(p.parent for p in Path(sys.argv[1]).rglob("modules.json")):
    # Plain sentence-transformers, as the README says: an ONNX or OpenVINO int8 folder by its backend and file.
    info = json.loads((path / "quantization.json").read_text()) if (path / "quantization.json").is_file() else {}
    if info.get("backend") in ("onnx", "openvino"):
        model = SentenceTransformer(str(path), backend=info["backend"], model_kwargs={"file_name": info["file_name"]})
    else:
        model = SentenceTransformer(str(path))
    dims[str(path)] = model.encode(["A fresh process loads every model."]).shape[1]
print(json.dumps(dims))
"""


def ran_stages(output: str) -> list[str]:
    """The stages DVC ran, from the output of `dvc repro` or of the flow (which streams it)."""
    return re.findall(r"Running stage '([^']+)'", output)


def test_dvc_repro_end_to_end(tiny_pipeline_run: Path, tmp_path: Path) -> None:
    project = tiny_pipeline_run
    report = (project / "reports" / "report.md").read_text()
    for model in (
        "teacher",
        "L1",
        "L1-onnx-int8",
        "L1-openvino-int8",
        "L1-torch-int8",
        "L1-pca32",
        "L1-pca32-onnx-int8",
        "L1-pca32-openvino-int8",
        "L1-emb-binary",
    ):
        assert f"| {model} " in report or f"| {model} *" in report

    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    eval_metrics = json.dumps(metrics)
    assert "stsb_test_spearman" in eval_metrics
    teacher = json.loads((project / "metrics/eval/teacher.json").read_text())["variants"]["teacher"]
    assert 0.7 < teacher["stsb_test_spearman"] <= 1.0
    # int8 folders hold no fp32 weights; their parameters are still the fp32 model's.
    for base in ("L1", "L1-pca32"):
        variants = json.loads((project / f"metrics/eval/{base}.json").read_text())["variants"]
        assert {variants[f"{base}-{b}"]["parameters"] for b in ("onnx-int8", "openvino-int8", "torch-int8")} == {
            variants[base]["parameters"]
        }

    dims = json.loads(run(["python", "-c", RELOAD_SCRIPT, "models"], project).stdout.strip().splitlines()[-1])
    assert dims == {
        "models/L1/pca-quantized/32/onnx-int8": 32,
        "models/L1/pca-quantized/32/openvino-int8": 32,
        "models/L1/pca-quantized/32/torch-int8": 32,
        "models/L1/pca/32": 32,
        "models/L1/quantized/onnx-int8": 384,
        "models/L1/quantized/openvino-int8": 384,
        "models/L1/quantized/torch-int8": 384,
        "models/L1/student": 384,
    }

    benchmark = json.loads((project / "metrics/benchmark.json").read_text())
    assert set(benchmark["models"]) == {
        "teacher",
        "L1",
        "L1-onnx-int8",
        "L1-openvino-int8",
        "L1-torch-int8",
        "L1-pca32",
        "L1-pca32-onnx-int8",
        "L1-pca32-openvino-int8",
        "L1-pca32-torch-int8",
    }
    assert benchmark["environment"]["threads"] == 2 and benchmark["environment"]["versions"]["onnxruntime"]
    assert benchmark["method"]["rounds"] == 2
    one_layer = benchmark["models"]["L1"]
    assert one_layer["architecture"]["layers"] == 1 and benchmark["models"]["teacher"]["architecture"]["layers"] == 6
    assert one_layer["speedup_vs_teacher"]["median"] > 1.5  # 1 of the teacher's 6 layers
    assert (
        one_layer["speedup_vs_teacher"]["q1"]
        <= one_layer["speedup_vs_teacher"]["median"]
        <= one_layer["speedup_vs_teacher"]["q3"]
    )
    assert benchmark["models"]["L1-pca32-onnx-int8"]["fp32_model"] == "L1-pca32"
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert summary["best_student"].startswith("L1") and not summary["best_student"].startswith("teacher")

    # Every model folder has a card; its release folder has the full one, with this model's own figures.
    evaluated = {
        k: v
        for f in (project / "metrics/eval").glob("*.json")
        for k, v in json.loads(f.read_text())["variants"].items()
    }
    labels = sorted(set(benchmark["models"]) - {"teacher"})
    families = {
        "stsb_test_kept",
        "classification_accuracy",
        "clustering_v_measure",
        "retrieval_ndcg_at_10",
        "families_kept_mean",
    }
    assert (
        all(families <= set(m) for m in evaluated.values()) and len(evaluated) == 1 + 3 + 2 * 4 + 2 * 3
    )  # embedding precisions too
    assert evaluated["teacher"]["families_kept_mean"] == 1.0 and 0 < evaluated["L1"]["families_kept_mean"] < 1.5
    # The profile's two own tasks are scored on every variant (int8, PCA, embedding precisions too), with their
    # share of the teacher's headline figure; the report has a column each and their mean.
    for name, variant in evaluated.items():
        own = variant["own_tasks"]
        assert set(own) == {"titles", "title_pairs"}, name
        assert 0 < own["titles"]["figures"]["ndcg_at_10"] <= 1 and 0 < own["title_pairs"]["figures"]["f1"] <= 1, name
        assert own["titles"]["kept"] > 0 and variant["own_tasks_kept_mean"] > 0, name
    assert evaluated["teacher"]["own_tasks_kept_mean"] == 1.0
    assert "| titles | title_pairs | own mean |" in report
    prepared = json.loads((project / "metrics/prepare.json").read_text())
    assert prepared["documents"] == {"articles": 100, "topics": 5} and prepared["corpus"]["articles_left_out"] == 100
    # The selection rule's answer opens the report; release/selected/ is that model, loaded as its card's snippet says.
    selected = json.loads((project / "metrics/selected.json").read_text())["chosen"]
    assert selected is not None and selected["model"] in labels  # the tiny profile's floor (0.5) is met
    assert report.startswith(f"# Distillation trade-offs\n\n## Selected model: {selected['model']}\n")
    snippet = re.search(r"```python\n(.*?)\n```", (project / "release/selected/README.md").read_text(), re.DOTALL)
    assert run(["python", "-c", snippet.group(1)], project).stdout.startswith(f"(2, {selected['dimension']})")
    assert sorted(p.name for p in (project / "release").iterdir()) == sorted([*labels, "selected"])
    for folder in ("models/L1/student", "models/L1/pca/32"):  # the save-time card of an fp32 model
        assert (project / folder / "README.md").is_file(), folder
    released = json.loads(run(["python", "-c", RELOAD_SCRIPT, "release"], project).stdout.strip().splitlines()[-1])
    assert released == {
        **{f"release/{label}": 32 if "pca32" in label else 384 for label in labels},
        "release/selected": selected["dimension"],
    }  # each loads as its card says
    for label in labels:
        card = (project / "release" / label / "README.md").read_text()
        assert f"# {label}\n" in card and "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
        assert f"| {evaluated[label]['stsb_test_spearman']:.4f}" in card
        assert (
            f"**Speed-up over the teacher:** {benchmark['models'][label]['speedup_vs_teacher']['median']:.2f}x" in card
        )
        assert f"{benchmark['environment']['cpu']}, {benchmark['environment']['cores']} cores" in card

    again = run(["dvc", "repro"], project)
    assert ran_stages(again.stdout) == []
    assert run(["dvc", "status"], project).stdout.strip() == "Data and pipelines are up to date."

    plots = run(["dvc", "plots", "show", "-o", str(tmp_path / "plots-html")], project)
    page = (tmp_path / "plots-html" / "index.html").read_text()
    assert "STSb test Spearman against speed-up" in page and "against bytes per embedding" in page, plots.stdout
    assert "metrics/students/L1/training/plots/metrics/eval/stsb_dev_spearman.tsv" in page  # DVCLive's training curves


def test_experiments_rerun_only_what_they_change(finished_project: Path) -> None:
    project = finished_project
    # Compare a second configuration as users do: an experiment, then exp show / metrics diff.
    # Each PCA dimension is its own unit: adding one builds and measures only it.
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline run"], project)
    experiment = run(["dvc", "exp", "run", "-S", "pca.dims=[32,16]"], project)
    # validate reruns for any param change; its output does not change, so nothing else reruns for it
    stages = ran_stages(experiment.stdout)
    assert stages[0] == "validate" and sorted(stages[1:]) == sorted(
        ["pca@L1-16", "quantize_pca@L1-16", "evaluate_pca@L1-16", "benchmark", "report", "release"]
    )
    report = (project / "reports" / "report.md").read_text()
    assert "| L1-pca16-onnx-int8 " in report and "| L1-pca32-onnx-int8 " in report
    assert "pca.dims" in run(["dvc", "exp", "show", "--csv"], project).stdout.splitlines()[0]
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], project).stdout)
    evaluated = " ".join(file for file in diff if file.startswith("metrics/eval"))
    assert "L1-pca16" in evaluated and "L1-pca32" not in evaluated  # dimension 32's quality was not measured again

    # Speed settings change only the speed figures: the benchmark and the report rerun, nothing else.
    retimed = run(["dvc", "exp", "run", "-S", "benchmark.rounds=3"], project)
    retimed_stages = ran_stages(retimed.stdout)  # the release cards carry the speed-ups: they are rewritten too
    assert retimed_stages[:2] == ["validate", "benchmark"] and sorted(retimed_stages[2:]) == ["release", "report"]
    assert json.loads((project / "metrics/benchmark.json").read_text())["method"]["rounds"] == 3

    # The evaluation articles are the evaluate stages' input alone: shorter ones retrain nothing.
    run(["dvc", "exp", "run", "-S", "prepare.document_chars=300", "prepare"], project)
    stale = set(json.loads(run(["dvc", "status", "--json"], project).stdout))
    assert "evaluate_teacher" in stale and all(stage.startswith("evaluate") for stage in stale), stale


def run_flow(project: Path, *args: str, server: PrefectServer | None = None) -> str:
    """``python -m flows.pipeline``; its log. Without ``server`` it starts a temporary Prefect server of its
    own, as a user's plain run does (seconds of every run); with one, it reports to that running server."""
    env = server.env() if server else {k: v for k, v in TEST_ENV.items() if k != "PREFECT_API_URL"}
    result = run(["python", "-m", "flows.pipeline", *args], project, env=env)
    return result.stderr + result.stdout


def stage_states(log: str) -> dict[str, str]:
    """Each stage task's final Prefect state name (Completed, Cached), from the flow's log."""
    finished = re.findall(r"Task run '([^']+)' - Finished in state (\w+)\(", log)
    return {name: state for name, state in finished if not name.startswith("publish-report")}


def stage_intervals(log: str) -> dict[str, tuple[str, str]]:
    """When each stage that ran started its command and when its task finished (log timestamps)."""
    started = {name: time for time, name in re.findall(r"^(\S+) .*Task run '([^']+)' - Running stage", log, re.M)}
    finished = {name: time for time, name in re.findall(r"^(\S+) .*Task run '([^']+)' - Finished in state", log, re.M)}
    return {name: (started[name], finished[name]) for name in started}


def lock_digest(project: Path) -> dict:
    """dvc.lock without content hashes: no two runs write identical bytes (model cards record training
    time, embedding shards have random names, metrics record speeds); `dvc status` checks the hashes."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    return {
        name: {**stage, **{key: sorted(item["path"] for item in stage.get(key, [])) for key in ("deps", "outs")}}
        for name, stage in lock.items()
    }


def test_prefect_flow_end_to_end(tiny_project: Path, tiny_pipeline_run: Path, prefect_server: PrefectServer) -> None:
    stages = run(["dvc", "stage", "list", "--names-only"], tiny_project).stdout.split()
    first = run_flow(tiny_project, "--jobs", "2")  # no server: the flow starts its temporary one
    assert "Starting temporary server" in first
    assert "Flow run" in first and "Completed" in first
    assert (tiny_project / "reports" / "report.md").is_file()
    assert (tiny_project / "models" / "L1" / "pca-quantized" / "32" / "onnx-int8" / "quantization.json").is_file()
    assert stage_states(first) == dict.fromkeys(stages, "Completed")
    # Progress reaches the run's log (tqdm lines with what is left), and each stage ends with a summary line.
    assert re.search(r"encoding into data/embeddings/\w+: 100%.*sentence", first), first[-3000:]
    assert re.search(r"student@L1: ran in [\d.]+ s, peak memory [\d.]+ GiB", first)
    assert sorted(ran_stages(first)) == sorted(stages)
    # --jobs 2: independent stages ran at once, and dvc.lock is the one a sequential `dvc repro` writes.
    intervals = sorted(stage_intervals(first).values())
    assert any(later[0] < earlier[1] for earlier, later in zip(intervals, intervals[1:], strict=False)), intervals
    assert lock_digest(tiny_project) == lock_digest(tiny_pipeline_run)
    # The flow recorded every stage with DVC: nothing left for dvc to do.
    assert run(["dvc", "status"], tiny_project).stdout.strip() == "Data and pipelines are up to date."
    assert ran_stages(run(["dvc", "repro"], tiny_project).stdout) == []

    second = run_flow(tiny_project, server=prefect_server)  # a running server: no temporary one to start
    assert stage_states(second) == {}  # nothing to do: no stage task, one line naming them all
    assert f"{len(stages)} of {len(stages)} stages up to date: code_digests, validate, prepare" in second
    assert ran_stages(second) == []


def test_flow_restores_from_run_cache(finished_project: Path, prefect_server: PrefectServer) -> None:
    """Switch params.yaml to another configuration and back: the flow restores, as `dvc repro` does.

    The finished run's run-cache already holds the original configuration, so the test runs the
    flow twice instead of three times. The switch is one the benchmark alone reads (its rounds):
    the stage reruns, then comes back from DVC's run-cache, in a fraction of a retrained student's
    time; DVC restores any stage it can hash the same way, whatever its outputs. Its metrics file
    records measured speeds, which no second measurement repeats byte for byte: equal bytes mean
    restored, not rerun.
    """
    project = finished_project
    params = project / "params.yaml"
    original = params.read_text()
    measured = project / "metrics" / "benchmark.json"
    first = measured.read_text()
    assert json.loads(first)["method"]["rounds"] == 2

    params.write_text(original.replace("  rounds: 2\n", "  rounds: 1\n"))
    changed = run_flow(project, server=prefect_server)
    assert ran_stages(changed)[:2] == ["validate", "benchmark"] and sorted(ran_stages(changed)[2:]) == [
        "release",
        "report",
    ]
    assert json.loads(measured.read_text())["method"]["rounds"] == 1

    params.write_text(original)
    started = time.monotonic()
    back = run_flow(project, server=prefect_server)
    print(f"run-cache round trip: {time.monotonic() - started:.1f} s")
    assert "benchmark" not in ran_stages(back)
    # Only stages DVC keeps out of its run-cache run again, in seconds: validate (a persistent output)
    # and report (uncached plain outputs); release (cached outputs) is restored like the benchmark.
    assert set(ran_stages(back)) <= {"validate", "report"}, ran_stages(back)
    assert stage_states(back)["benchmark"] == "Cached"
    assert "Stage 'benchmark' is cached - skipping run" in back
    assert re.search(r"benchmark: restored from the run-cache in [\d.]+ s", back), back[-3000:]
    assert measured.read_text() == first
    assert run(["dvc", "status"], project).stdout.strip() == "Data and pipelines are up to date."
