"""Static-embedding students: model2vec's distillation of the teacher's vocabulary (``static: true``), plain
and refined on the teacher's embeddings, through every stage: PCA folded into the table, no int8 model,
evaluation on every family, the benchmark, the report and the release (``tests/e2e/test_more_students.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.dense import Dense
from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
from sklearn.decomposition import PCA
from transformers import AutoTokenizer, BertConfig, BertModel

from sentence_distill import assets
from sentence_distill.paths import STATIC_TABLES_DIR
from sentence_distill.students.build import static_table
from sentence_distill.students.pca import projection, write_pca_model

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_pca_of_a_static_table_is_folded_into_it(tmp_path: Path) -> None:
    """A mean of projected rows is the projection of the mean: the folded table gives the Dense model's vectors."""
    minilm = SentenceTransformer(assets.resolve_model(MINILM), device="cpu")
    rows = minilm[0].auto_model.embeddings.word_embeddings.weight.detach()  # a real table: MiniLM's input embeddings
    static = SentenceTransformer(
        modules=[StaticEmbedding(minilm.tokenizer, embedding_weights=rows), Normalize()], device="cpu"
    )
    sentences = [
        f"Sentence {i} about the {w} market." for i, w in enumerate(["stock", "car", "film", "music", "food"] * 12)
    ]
    body = SentenceTransformer(modules=[static[0]], device="cpu")
    pca = PCA(n_components=16, svd_solver="full").fit(body.encode(sentences))
    static.save(str(tmp_path / "static"))  # as the student stage saves it
    (tmp_path / "folded").mkdir()
    write_pca_model(tmp_path / "static", tmp_path / "folded", pca, 16, fold=True)
    folded = SentenceTransformer(str(tmp_path / "folded"), device="cpu")
    assert [type(m) for m in folded] == [StaticEmbedding, Normalize] and folded.get_embedding_dimension() == 16
    weight, bias = projection(pca, 16)
    layer = Dense(384, 16, activation_function=torch.nn.Identity(), init_weight=weight, init_bias=bias)
    dense = SentenceTransformer(modules=[static[0], layer, Normalize()], device="cpu")  # as a transformer's
    np.testing.assert_allclose(folded.encode(sentences), dense.encode(sentences), atol=1e-5)


def test_a_static_table_is_distilled_once_per_teacher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyed by the teacher's fingerprint (and model2vec's version): the same teacher reuses the table, another
    one gets its own. The teacher is a real one-layer BERT of width 32 with MiniLM's tokenizer: seconds to distil."""
    minilm = assets.resolve_model(MINILM)
    teacher = tmp_path / "teacher"
    config = BertConfig.from_pretrained(
        minilm, num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(teacher)
    AutoTokenizer.from_pretrained(minilm).save_pretrained(teacher)
    monkeypatch.chdir(tmp_path)
    first = static_table(str(teacher), "fingerprint-a")
    written = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    assert StaticEmbedding.load(str(first)).get_embedding_dimension() == 32
    assert static_table(str(teacher), "fingerprint-a") == first
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*")} == written  # reused, not distilled again
    other = static_table(str(teacher), "fingerprint-b")
    assert other != first and sorted(p.name for p in STATIC_TABLES_DIR.iterdir() if p.is_dir()) == sorted(
        [first.name, other.name]
    )
