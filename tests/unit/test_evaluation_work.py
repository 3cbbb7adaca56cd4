"""Evaluation does each piece of work once: a stage reads its inputs once, each model body encodes each list of
texts once (a PCA dimension applies its PCA to the outputs its student's evaluation stored, and encodes only the
check sentences itself), and the figures are the ones the models' own encodes give. On the real
all-MiniLM-L6-v2 (the teacher), a 1-layer student cut from it and that student's PCA model."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Dense, Transformer
from sklearn.decomposition import PCA

from sentence_distill import assets
from sentence_distill.config.load import parse_params
from sentence_distill.data.sources import load_stsb
from sentence_distill.evaluation.inputs import EvaluationInputs
from sentence_distill.evaluation.precisions import embedding_quantization
from sentence_distill.evaluation.shared_body import CALIBRATION_BODY, EVALUATION_BODY, BodyStore, SharedBody
from sentence_distill.evaluation.variants import evaluation
from sentence_distill.models import load_variant, split_normalize, without_normalize
from sentence_distill.paths import (
    DOCUMENTS_FILE,
    FP32,
    PREPARED_DIR,
    TEACHER,
    body_cache_root,
    eval_file,
    pca_dir,
    student_dir,
)
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.students.build import prune_layers
from sentence_distill.teacher import embed_teacher
from tests.tiny_params import TINY

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def with_pca(student: SentenceTransformer, texts: list[str], dimension: int) -> SentenceTransformer:
    """The student with a PCA of its body's outputs of ``texts`` before its ``Normalize``, as the pca stage
    builds it."""
    body, tail = split_normalize(student)
    pca = PCA(n_components=dimension, svd_solver="full").fit(without_normalize(student).encode(texts))
    weight = torch.tensor(pca.components_, dtype=torch.float32)
    bias = -weight @ torch.tensor(pca.mean_, dtype=torch.float32)
    dense = Dense(384, dimension, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias)
    return SentenceTransformer(modules=[*body, dense, *tail], device="cpu")


@pytest.fixture(scope="module")
def stsb() -> dict:
    return load_stsb("sentence-transformers/stsb")


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformer:
    return SentenceTransformer(assets.resolve_model(MINILM), device="cpu")


def test_a_bodys_outputs_give_the_models_own_normalized_encode_bit_for_bit(
    minilm: SentenceTransformer, stsb: dict, tmp_path: Path
) -> None:
    """The calibration embeddings of a model, its cuts and a PCA model built on it come from one run of the body:
    the same arrays as ``encode(normalize_embeddings=True, truncate_dim=k)``, to the last bit, read from the
    cache or not. 45 sentences of many lengths (ties included) in batches of 8: the last batch is short."""
    sentences = list(dict.fromkeys(list(stsb["train"]["sentence1"])[:50]))[:45]
    pca_model = with_pca(minilm, sentences[:40], 16)
    store = BodyStore.for_model(minilm, tmp_path / "bodies", Path(assets.resolve_model(MINILM)))
    for kept_in in (None, store):
        shared = SharedBody(minilm, sentences, 8, store=kept_in, output=CALIBRATION_BODY, as_listed=True)
        for model, dims in ((minilm, [None, 128, 64]), (pca_model, [None, 8])):
            normalized = shared.normalized(model, 8, dims)
            for k in dims:
                own = model.encode(sentences, batch_size=8, normalize_embeddings=True, truncate_dim=k)
                np.testing.assert_array_equal(normalized[k], own)
    np.testing.assert_array_equal(SharedBody.stored(store, sentences, 8, CALIBRATION_BODY).outputs, shared.outputs)


class EncodedRows:
    """Rows each model body (its Transformer, by the folder it was loaded from) encodes while counting: a global
    forward hook on the real modules, nothing replaced."""

    def __init__(self) -> None:
        self.rows: Counter[str] = Counter()

    def __enter__(self) -> EncodedRows:
        def count(module: torch.nn.Module, args: tuple) -> None:
            if isinstance(module, Transformer):
                self.rows[Path(module.auto_model.name_or_path).name] += len(args[0]["input_ids"])

        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def write_prepared_data(stsb: dict) -> None:
    """A prepared corpus (40 training, 10 held-out sentences), 30 STSb test pairs and 18 labelled articles."""
    train = list(dict.fromkeys(stsb["train"]["sentence1"]))
    PREPARED_DIR.mkdir(parents=True)
    pq.write_table(
        pa.table({"sentence": train[:50], "split": ["train"] * 40 + ["heldout"] * 10}),
        PREPARED_DIR / "corpus.parquet",
    )
    pq.write_table(pa.table(stsb["test"][:30]), PREPARED_DIR / "stsb_test.parquet")
    pq.write_table(pa.table({"text": train[100:118], "label": ["a", "b", "c"] * 6}), DOCUMENTS_FILE)


def test_a_stage_encodes_each_list_once_per_body_and_scores_as_the_models_own_encode(
    minilm: SentenceTransformer, stsb: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    raw = {**TINY, "students": {"L1": {"layers": [0], "quantize": False}}, "pca": {**TINY["pca"], "dims": [16]}}
    raw["evaluate"] = {**TINY["evaluate"], "check_sentences": 8, "batch_size": 8, "calibration_sentences": 20}
    raw["evaluate"] |= {"embedding_precisions": ["int8", "binary"], "classification_shots": [2], "tasks": []}
    params = parse_params(raw, check_inputs=False)
    write_prepared_data(stsb)
    embed_teacher(params.teacher)
    student = prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0])
    student.save(str(student_dir("L1")))
    with_pca(student, list(dict.fromkeys(stsb["train"]["sentence2"]))[:40], 16).save(str(pca_dir("L1", 16)))
    inputs = EvaluationInputs.read(params.evaluate)
    sentences = len(dict.fromkeys(inputs.sentences(with_heldout=True)))
    assert (len(inputs.check), len(inputs.calibration), len(inputs.heldout)) == (8, 20, 10)

    rows = {}
    for name, dim in ((TEACHER, None), ("L1", None), ("L1", 16)):
        with EncodedRows() as encoded:
            evaluation(name, params, dim).write(eval_file(name, dim))
        rows[name, dim] = encoded.rows
    teacher_folder = Path(assets.resolve_model(MINILM)).name
    assert rows[TEACHER, None] == {teacher_folder: sentences + 20}  # the evaluation texts, the calibration sentences
    assert rows["L1", None] == {"student": sentences + 8 + 20}  # and the check sentences, for its PCA models
    assert rows["L1", 16] == {"16": 8}  # its own encode of the check sentences; the student is not even loaded

    # The PCA model's figures are those of its own encode of the calibration sentences (the path before the
    # student's body stored them), and of its PCA applied to the student's body outputs of the evaluation texts.
    pca_model = load_variant(pca_dir("L1", 16))
    variants = EvaluationFile.read(eval_file("L1", 16)).variants
    calibration = pca_model.encode(inputs.calibration, batch_size=8, normalize_embeddings=True)
    store = BodyStore.read(body_cache_root("L1", FP32), student_dir("L1"))
    shared = SharedBody.stored(store, inputs.sentences(with_heldout=True), 8, EVALUATION_BODY).embeddings(pca_model)
    own = embedding_quantization(pca_model, variants["L1-pca16"], shared, calibration, inputs, params.evaluate)
    for precision, metrics in own.items():
        written = variants[f"L1-pca16-emb-{precision}"]
        for field in fields(metrics):
            if getattr(metrics, field.name) is not None:
                assert getattr(written, field.name) == getattr(metrics, field.name), (precision, field.name)
