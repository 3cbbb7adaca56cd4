"""Students, PCA and embedding precisions on the real all-MiniLM-L6-v2 model and real STSb sentences (int8 model
exports: ``tests/e2e/test_int8_exports.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
from sklearn.decomposition import PCA
from transformers import (
    AutoModel,
    BertConfig,
    DistilBertConfig,
    MPNetConfig,
    RobertaConfig,
)

from sentence_distill import assets
from sentence_distill.config.schema import StudentSpec
from sentence_distill.data.sources import load_stsb
from sentence_distill.evaluation.precisions import BITS_PER_VALUE, CalibratedSimilarityEvaluator
from sentence_distill.evaluation.shared_body import SharedBody
from sentence_distill.models import split_normalize
from sentence_distill.students.build import kept_layers, layer_stack, prune_layers
from sentence_distill.students.pca import fit_pca, unit_rows, write_pca_model
from tests.project import run

MINILM = "sentence-transformers/all-MiniLM-L6-v2"

ENCODE_SCRIPT = """
import sys, numpy as np
from sentence_distill.models import load_variant
model = load_variant(sys.argv[1])
layers = model[0].auto_model.config.num_hidden_layers if hasattr(model[0], "auto_model") else -1
np.save(sys.argv[2], model.encode(open(sys.argv[3]).read().splitlines()))
print(layers, sum(p.numel() for p in model.parameters()))
"""


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    """131 STSb test sentences (both sides of 75 pairs): every model here encodes them several times."""
    test = load_stsb("sentence-transformers/stsb")["test"]
    return list(dict.fromkeys(list(test["sentence1"][:75]) + list(test["sentence2"][:75])))


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformer:
    return SentenceTransformer(assets.resolve_model(MINILM), device="cpu")


def encode_in_fresh_process(folder: Path, sentences: list[str], tmp_path: Path) -> tuple[np.ndarray, str]:
    (tmp_path / "sentences.txt").write_text("\n".join(sentences))
    out = tmp_path / "vectors.npy"
    result = run(["python", "-c", ENCODE_SCRIPT, str(folder), str(out), str(tmp_path / "sentences.txt")], Path.cwd())
    return np.load(out), result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"num_layers": 6}, [0, 2, 4, 7, 9, 11]),
        ({"num_layers": 4}, [0, 4, 7, 11]),
        ({"num_layers": 3, "strategy": "first"}, [0, 1, 2]),
        ({"num_layers": 2, "strategy": "last"}, [10, 11]),
        ({"num_layers": 1}, [0]),
        ({"layers": [0, 5, 11]}, [0, 5, 11]),
        ({}, list(range(12))),
    ],
)
def test_kept_layers(spec: dict, expected: list[int]) -> None:
    assert kept_layers(StudentSpec(**spec), 12) == expected


@pytest.mark.parametrize(
    "config",
    [
        BertConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37),
        MPNetConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37),
        RobertaConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37),
        DistilBertConfig(dim=32, n_layers=4, n_heads=2, hidden_dim=37),
    ],
    ids=["bert", "mpnet", "roberta", "distilbert"],
)
def test_layer_stack_is_found_by_shape(config) -> None:
    encoder = AutoModel.from_config(config)
    parent, attr = layer_stack(encoder, 4)
    kept = torch.nn.ModuleList([getattr(parent, attr)[i] for i in (0, 3)])
    setattr(parent, attr, kept)
    output = encoder(input_ids=torch.tensor([[1, 5, 7, 2]]), attention_mask=torch.ones(1, 4, dtype=torch.long))
    assert output.last_hidden_state.shape == (1, 4, 32)
    assert len(getattr(parent, attr)) == 2


def test_pruned_student_reloads_identically(minilm: SentenceTransformer, sentences: list[str], tmp_path: Path) -> None:
    student = prune_layers(SentenceTransformer(assets.resolve_model(MINILM), device="cpu"), [0, 2, 4])
    expected = student.encode(sentences)
    parameters = sum(p.numel() for p in student.parameters())
    assert parameters < sum(p.numel() for p in minilm.parameters())
    student.save(str(tmp_path / "student"))
    vectors, facts = encode_in_fresh_process(tmp_path / "student", sentences, tmp_path)
    assert facts == f"3 {parameters}"
    np.testing.assert_array_equal(vectors, expected)


def reduced(minilm: SentenceTransformer, pca: PCA, dim: int, folder: Path, normalized_input: bool = False) -> Path:
    """The PCA model as the pca stage writes it, from MiniLM saved as the student stage saves a student."""
    if not (folder.parent / "student").is_dir():
        minilm.save(str(folder.parent / "student"))
    folder.mkdir()
    write_pca_model(folder.parent / "student", folder, pca, dim, normalized_input=normalized_input)
    return folder


@pytest.fixture(scope="module")
def pca_model(minilm: SentenceTransformer, sentences: list[str], tmp_path_factory) -> tuple[Path, PCA]:
    body, _ = split_normalize(minilm)
    pooled = SentenceTransformer(modules=body, device="cpu").encode(sentences[:200])
    pca = PCA(n_components=32, svd_solver="full").fit(pooled)
    return reduced(minilm, pca, 32, tmp_path_factory.mktemp("pca") / "32"), pca


def test_pca_is_the_centred_projection_before_normalize(
    minilm: SentenceTransformer, pca_model: tuple[Path, PCA], sentences: list[str], tmp_path: Path
) -> None:
    folder, pca = pca_model
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.get_embedding_dimension() == 32
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Dense", "Normalize"]
    body, _ = split_normalize(minilm)
    expected = pca.transform(SentenceTransformer(modules=body, device="cpu").encode(sentences))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    vectors = model.encode(sentences)
    np.testing.assert_allclose(vectors, expected, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reloaded, _ = encode_in_fresh_process(folder, sentences, tmp_path)
    np.testing.assert_array_equal(reloaded, vectors)
    # Evaluation runs the student's body once and applies each PCA variant's Dense + Normalize to it.
    shared = SharedBody(minilm, sentences, batch_size=32).embeddings(model)
    np.testing.assert_allclose(np.stack([shared[s] for s in sentences]), vectors, atol=2e-5)


def test_pca_fitted_on_unit_length_embeddings_normalizes_before_projecting(
    minilm: SentenceTransformer, sentences: list[str], tmp_path: Path
) -> None:
    body, _ = split_normalize(minilm)
    unit = unit_rows(SentenceTransformer(modules=body, device="cpu").encode(sentences))
    pca = PCA(n_components=16, svd_solver="full").fit(unit[:200])
    model = SentenceTransformer(str(reduced(minilm, pca, 16, tmp_path / "16", True)), device="cpu")
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Normalize", "Dense", "Normalize"]
    expected = pca.transform(unit)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    vectors = model.encode(sentences)
    np.testing.assert_allclose(vectors, expected, atol=2e-5)
    # without the Normalize before it, the same projection gives other vectors
    without = SentenceTransformer(str(reduced(minilm, pca, 16, tmp_path / "16-without")), device="cpu")
    assert np.abs(without.encode(sentences) - vectors).max() > 1e-2
    # the evaluation's shared body (the outputs before the trailing Normalize) gets both Normalize modules applied
    shared = SharedBody(minilm, sentences, batch_size=32).embeddings(model)
    np.testing.assert_allclose(np.stack([shared[s] for s in sentences]), vectors, atol=2e-5)


def test_incremental_pca_matches_pca_when_rows_do_not_fit(minilm: SentenceTransformer, sentences: list[str]) -> None:
    body, _ = split_normalize(minilm)
    vectors = dict(zip(sentences, SentenceTransformer(modules=body, device="cpu").encode(sentences), strict=True))
    lookup = lambda texts: np.stack([vectors[t] for t in texts])  # noqa: E731
    full = fit_pca(lookup, sentences, 16, in_memory_rows=len(sentences))
    chunked = fit_pca(lookup, sentences, 16, in_memory_rows=70)
    assert type(full).__name__ == "PCA" and type(chunked).__name__ == "IncrementalPCA"
    assert chunked.n_samples_seen_ == len(sentences)  # a short last chunk is merged, not dropped
    np.testing.assert_allclose(chunked.mean_, full.mean_, atol=1e-5)
    overlap = np.linalg.svd(chunked.components_[:8] @ full.components_.T, compute_uv=False)
    assert overlap.min() > 0.95  # the top 8 directions lie in the full PCA's 16-dim subspace
    assert abs(chunked.explained_variance_ratio_.sum() - full.explained_variance_ratio_.sum()) < 0.02


@pytest.fixture(scope="module")
def stsb_test_scored(minilm: SentenceTransformer, sentences: list[str]) -> dict:
    """100 STSb test pairs, their float32 embeddings and float32 score: the same for every precision, computed once."""
    test = load_stsb("sentence-transformers/stsb")["test"].select(range(100))
    first, second, scores = list(test["sentence1"]), list(test["sentence2"]), list(test["score"])
    return {
        "first": first,
        "second": second,
        "scores": scores,
        "calibration": minilm.encode(sentences[:100], normalize_embeddings=True),
        "embeddings": dict(zip(first + second, minilm.encode(first + second), strict=True)),
        "float32": EmbeddingSimilarityEvaluator(first, second, scores, name="sts-test")(minilm),
    }


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_embedding_quantization_sizes_and_scores(
    minilm: SentenceTransformer, stsb_test_scored: dict, precision: str
) -> None:
    first, second, float32 = stsb_test_scored["first"], stsb_test_scored["second"], stsb_test_scored["float32"]
    evaluator = CalibratedSimilarityEvaluator(
        first,
        second,
        stsb_test_scored["scores"],
        name="sts-test",
        precision=precision,
        calibration_embeddings=stsb_test_scored["calibration"],
        embeddings=stsb_test_scored["embeddings"],
    )
    vectors = evaluator.embed_inputs(minilm, first[:10])
    assert vectors.shape == (10, 384)
    if precision in ("binary", "ubinary"):
        assert set(np.unique(vectors)) == {-1.0, 1.0}
    else:
        assert np.array_equal(vectors, np.round(vectors)) and vectors.min() >= -128 and vectors.max() <= 255
    assert 384 * BITS_PER_VALUE[precision] // 8 == {"int8": 384, "uint8": 384, "binary": 48, "ubinary": 48}[precision]
    quantized = evaluator(minilm)
    assert quantized["sts-test_spearman_cosine"] > 0.9 * float32["sts-test_spearman_cosine"]
