"""The evaluate stages score the user's own tasks (``evaluate.tasks``) on every variant, from the same shared body
as the other families: each body encodes the tasks' texts once, as a list of their own (a PCA dimension applies its
PCA to the outputs its student's evaluation stored), and the figures are those ``OwnTasks.scores`` gives on the
model's own encode of those texts. The other figures stay what they are without tasks. On the real
all-MiniLM-L6-v2 (the teacher), a 1-layer student cut from it and that student's PCA model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sentence_transformers import SentenceTransformer

from sentence_distill import assets
from sentence_distill.config.load import parse_params
from sentence_distill.data.sources import load_stsb
from sentence_distill.evaluation.inputs import EvaluationInputs
from sentence_distill.evaluation.own_tasks import OwnTasks
from sentence_distill.evaluation.precisions import embedding_quantization
from sentence_distill.evaluation.shared_body import EVALUATION_BODY, OWN_TASKS_BODY, BodyStore, SharedBody
from sentence_distill.evaluation.variants import evaluation
from sentence_distill.models import load_variant
from sentence_distill.paths import FP32, TEACHER, body_cache_root, eval_file, pca_dir, student_dir
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.students.build import prune_layers
from sentence_distill.teacher import embed_teacher
from tests.tiny_params import TINY
from tests.unit.test_evaluation_work import MINILM, EncodedRows, with_pca, write_prepared_data

STAGES = ((TEACHER, None), ("L1", None), ("L1", 16))


def write_tasks(stsb: dict, root: Path, taken: set[str]) -> list[dict]:
    """A retrieval task (8 STSb test first sentences finding their partners among 20 second sentences) and a
    classification task (3 made-up labels over 27 STSb train sentences), under ``root/inputs/tasks``; no text
    among ``taken`` (the evaluation sentences) or twice."""
    pairs = [
        (first, second)
        for first, second in zip(stsb["test"]["sentence1"][100:], stsb["test"]["sentence2"][100:], strict=True)
        if first != second and not {first, second} & taken
    ]
    pairs = list({first: second for first, second in pairs if second not in dict(pairs)}.items())[:20]
    used = taken | {text for pair in pairs for text in pair}
    texts = [text for text in dict.fromkeys(stsb["train"]["sentence2"]) if text not in used][:27]
    folder = root / "inputs" / "tasks" / "pairs_search"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "text": second} for i, (_, second) in enumerate(pairs)]
    queries = [{"_id": f"q{i}", "text": first} for i, (first, _) in enumerate(pairs[:8])]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(row) + "\n" for row in queries))
    qrels = "".join(f"q{i}\td{i}\t1\n" for i in range(8))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    labels = ["x", "y", "z"] * 9
    table = root / "inputs" / "tasks" / "labels.jsonl"
    table.write_text(
        "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(texts, labels, strict=True))
    )
    return [
        {"name": "pairs_search", "kind": "retrieval", "data": "inputs/tasks/pairs_search"},
        {"name": "labels", "kind": "classification", "data": "inputs/tasks/labels.jsonl"},
    ]


def write_models(stsb: dict) -> None:
    student = prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0])
    student.save(str(student_dir("L1")))
    with_pca(student, list(dict.fromkeys(stsb["train"]["sentence2"]))[:40], 16).save(str(pca_dir("L1", 16)))


def stage_params(tasks: list[dict]):
    raw = {**TINY, "students": {"L1": {"layers": [0], "quantize": False}}, "pca": {**TINY["pca"], "dims": [16]}}
    raw["evaluate"] = {**TINY["evaluate"], "check_sentences": 8, "batch_size": 8, "calibration_sentences": 20}
    raw["evaluate"] |= {"embedding_precisions": ["int8", "binary"], "classification_shots": [2], "tasks": tasks}
    return parse_params(raw, check_inputs=False)


def evaluate_all(params) -> dict:
    rows = {}
    for name, dim in STAGES:
        with EncodedRows() as encoded:
            evaluation(name, params, dim).write(eval_file(name, dim))
        rows[name, dim] = encoded.rows
    return rows


def without_own(metrics) -> dict:
    return {k: v for k, v in metrics.to_dict().items() if not k.startswith("own_tasks")}


def test_every_variant_scores_the_own_tasks_as_its_own_encode_and_keeps_the_other_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stsb = load_stsb("sentence-transformers/stsb")
    monkeypatch.chdir(tmp_path)
    write_prepared_data(stsb)
    taken = set(EvaluationInputs.read(stage_params([]).evaluate).sentences(with_heldout=True))
    tasks = write_tasks(stsb, tmp_path, taken)
    write_models(stsb)
    params = stage_params(tasks)
    embed_teacher(params.teacher)

    evaluate_all(stage_params([]))  # the same stages without tasks, from empty body caches
    before = {stage: EvaluationFile.read(eval_file(*stage)).variants for stage in STAGES}
    shutil.rmtree(tmp_path / "data" / "evaluation_bodies")
    rows = evaluate_all(params)
    after = {stage: EvaluationFile.read(eval_file(*stage)).variants for stage in STAGES}

    inputs = EvaluationInputs.read(params.evaluate)
    sentences = len(dict.fromkeys(inputs.sentences(with_heldout=True)))
    own = inputs.own_texts()
    assert len(own) == 20 + 8 + 27 and not set(own) & set(inputs.sentences(with_heldout=True))
    teacher_folder = Path(assets.resolve_model(MINILM)).name
    assert rows[TEACHER, None] == {teacher_folder: sentences + len(own) + 20}  # own texts once, beside the others
    assert rows["L1", None] == {"student": sentences + len(own) + 8 + 20}
    assert rows["L1", 16] == {"16": 8}  # the PCA model reads its student's stored outputs of the own texts too

    for stage in STAGES:  # every other figure as without tasks; every variant (precisions too) scores each task
        assert set(after[stage]) == set(before[stage])
        for label, metrics in after[stage].items():
            assert without_own(metrics) == without_own(before[stage][label]), label
            assert set(metrics.own_tasks) == {"pairs_search", "labels"}, label
            assert all(s.kept is not None for s in metrics.own_tasks.values()), label
            assert metrics.own_tasks_kept_mean is not None, label
    assert after[TEACHER, None][TEACHER].own_tasks_kept_mean == 1.0

    # The fp32 figures are those of each model's own encode of the own texts.
    own_tasks = OwnTasks.read(params.evaluate)
    models = {
        TEACHER: SentenceTransformer(assets.resolve_model(MINILM), device="cpu"),
        "L1": load_variant(student_dir("L1")),
        "L1-pca16": load_variant(pca_dir("L1", 16)),
    }
    for (name, dim), (label, model) in zip(STAGES, models.items(), strict=True):
        vectors = dict(zip(own, model.encode(own, batch_size=8), strict=True))
        expected = own_tasks.scores(vectors, params.evaluate)
        written = after[name, dim][label].own_tasks
        for task, scores in expected.items():
            assert written[task].figures == pytest.approx(scores.figures, abs=1e-6), (label, task)
    assert after[TEACHER, None][TEACHER].own_tasks["pairs_search"].figures["ndcg_at_10"] > 0.5  # a real model's

    # The PCA model's embedding precisions score the tasks on its PCA of the stored outputs, quantized.
    pca_model = models["L1-pca16"]
    store = BodyStore.read(body_cache_root("L1", FP32), student_dir("L1"))
    shared = SharedBody.stored(store, own, 8, OWN_TASKS_BODY).embeddings(pca_model)
    shared |= SharedBody.stored(store, inputs.sentences(with_heldout=True), 8, EVALUATION_BODY).embeddings(pca_model)
    calibration = pca_model.encode(inputs.calibration, batch_size=8, normalize_embeddings=True)
    variants = after["L1", 16]
    quantized = embedding_quantization(pca_model, variants["L1-pca16"], shared, calibration, inputs, params.evaluate)
    for precision, metrics in quantized.items():
        written = variants[f"L1-pca16-emb-{precision}"].own_tasks
        assert {t: s.figures for t, s in written.items()} == {t: s.figures for t, s in metrics.own_tasks.items()}
