"""The PCA model's folder written as files (``write_pca_model``) against the one sentence-transformers' ``save`` writes
for the same model built from modules: the same files byte for byte (the card aside), the same vectors once loaded.
Real all-MiniLM-L6-v2, saved the way the student stage saves a student."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.dense import Dense
from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
from sklearn.decomposition import PCA

from sentence_distill import assets
from sentence_distill.assets import AssetError
from sentence_distill.models import embed_corpus, split_normalize, without_normalize
from sentence_distill.paths import student_dir, student_embeddings_dir
from sentence_distill.students.body import BODY_OUTPUT, StaleBodyCacheError, body_cache, record_body_cache
from sentence_distill.students.pca import write_pca_model

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = [
    f"Sentence {i} about the {w} market." for i, w in enumerate(["stock", "car", "film", "music", "food"] * 12)
]


def built_from_modules(student: Path, pca: PCA, dim: int, target: Path, normalized_input: bool, fold: bool) -> None:
    """The reduced model as sentence-transformers builds and saves it: the student loaded, a ``Dense`` layer of the
    PCA (float32 weight, bias ``-W @ mean`` in torch) before its ``Normalize``, or folded into its table."""
    model = SentenceTransformer(str(student), device="cpu")
    body, tail = split_normalize(model)
    weight = torch.tensor(pca.components_[:dim], dtype=torch.float32)
    bias = -weight @ torch.tensor(pca.mean_, dtype=torch.float32)
    dense = Dense(weight.shape[1], dim, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias)
    if fold:
        with torch.no_grad():
            rows = dense({"sentence_embedding": body[0].embedding.weight.detach().float()})["sentence_embedding"]
        modules = [StaticEmbedding(body[0].tokenizer, embedding_weights=rows.contiguous()), *tail]
    else:
        modules = [*body, *([Normalize()] if normalized_input else []), dense, *tail]
    SentenceTransformer(modules=modules, device="cpu").save(str(target))


def contents(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``folder``, the card left out."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
        for path in folder.rglob("*")
        if path.name != "README.md"
    }


@pytest.fixture(scope="module")
def minilm_student(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("minilm") / "student"
    SentenceTransformer(assets.resolve_model(MINILM), device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="module")
def static_student(tmp_path_factory) -> Path:
    """A static student of a real table (MiniLM's input embeddings), saved as the student stage saves one."""
    minilm = SentenceTransformer(assets.resolve_model(MINILM), device="cpu")
    rows = minilm[0].auto_model.embeddings.word_embeddings.weight.detach()
    folder = tmp_path_factory.mktemp("static") / "student"
    table = StaticEmbedding(minilm.tokenizer, embedding_weights=rows)
    SentenceTransformer(modules=[table, Normalize()], device="cpu").save(str(folder))
    return folder


@pytest.mark.parametrize(
    ("student", "normalized_input", "fold"),
    [("minilm", False, False), ("minilm", True, False), ("static", False, True)],
)
def test_the_folder_written_as_files_is_the_one_sentence_transformers_saves(
    request: pytest.FixtureRequest, student: str, normalized_input: bool, fold: bool, tmp_path: Path
) -> None:
    folder = request.getfixturevalue(f"{student}_student")
    body = without_normalize(SentenceTransformer(str(folder), device="cpu"))
    vectors = body.encode(SENTENCES)
    pca = PCA(n_components=16, svd_solver="full").fit(
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if normalized_input else vectors
    )
    built_from_modules(folder, pca, 16, tmp_path / "saved", normalized_input, fold)
    (tmp_path / "written").mkdir()
    write_pca_model(folder, tmp_path / "written", pca, 16, normalized_input=normalized_input, fold=fold)
    written = contents(tmp_path / "written")
    assert sorted(written) == sorted(contents(tmp_path / "saved"))
    assert written == contents(tmp_path / "saved")
    layers = [entry["type"].rsplit(".", 1)[-1] for entry in json.loads(written["modules.json"])]
    head = ["Normalize"] if normalized_input else []
    assert layers == (
        ["StaticEmbedding", "Normalize"] if fold else ["Transformer", "Pooling", *head, "Dense", "Normalize"]
    )
    loaded = SentenceTransformer(str(tmp_path / "written"), device="cpu")
    assert loaded.get_embedding_dimension() == 16
    np.testing.assert_array_equal(
        loaded.encode(SENTENCES), SentenceTransformer(str(tmp_path / "saved"), device="cpu").encode(SENTENCES)
    )


def test_the_pca_stage_finds_the_cache_of_its_student_and_refuses_another(
    minilm_student: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record ``student_embeddings`` writes lets the PCA stage recompute the cache's fingerprint from the student's
    files alone; a student whose files changed since is refused, not fitted on another model's vectors."""
    monkeypatch.chdir(tmp_path)
    folder = student_dir("X")
    shutil.copytree(minilm_student, folder, copy_function=os.link)
    body = without_normalize(SentenceTransformer(str(folder), device="cpu"))
    cache, _ = embed_corpus(body, folder, SENTENCES[:8], cache_root=student_embeddings_dir("X"), output=BODY_OUTPUT)
    record_body_cache("X", cache, body.max_seq_length)
    found = body_cache("X")
    assert found.fingerprint == cache.fingerprint and found.dimension == 384
    np.testing.assert_array_equal(found.lookup(SENTENCES[:8]), body.encode(SENTENCES[:8]))
    pooling = folder / "1_Pooling" / "config.json"
    changed = json.loads(pooling.read_text()) | {"pooling_mode": "max"}  # the student changed, its cache did not
    pooling.unlink()  # a new file: the link's other name, the fixture's, keeps its bytes
    pooling.write_text(json.dumps(changed))
    with pytest.raises(StaleBodyCacheError, match="student_embeddings@X"):
        body_cache("X")


def test_a_student_whose_modules_lie_outside_its_folder_is_refused(minilm_student: Path, tmp_path: Path) -> None:
    """The folder is read as files, not loaded, yet the checks of loading hold: no module folder outside it."""
    student = tmp_path / "student"
    shutil.copytree(minilm_student, student, copy_function=os.link)
    modules = json.loads((student / "modules.json").read_text())
    modules[1]["path"] = "../elsewhere"
    (student / "modules.json").unlink()  # a new file: the fixture's keeps its bytes
    (student / "modules.json").write_text(json.dumps(modules))
    pca = PCA(n_components=4).fit(np.random.default_rng(0).normal(size=(8, 384)))
    (tmp_path / "written").mkdir()
    with pytest.raises(AssetError, match="elsewhere"):
        write_pca_model(student, tmp_path / "written", pca, 4)
    assert not any((tmp_path / "written").iterdir())
