"""int8 models exported through the real runtimes: ONNX Runtime, OpenVINO calibrated by NNCF, and torch's dynamic
quantization, each keeping the PCA and Normalize modules and loading again in a fresh process. An export takes tens
of seconds on 2 cores, which is why these run with the end-to-end tier and not in ``make test-fast``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from sklearn.decomposition import PCA

from sentence_distill import assets
from sentence_distill.data.sources import load_stsb
from sentence_distill.embedding_cache import model_fingerprint
from sentence_distill.evaluation.shared_body import BodyStore, SharedBody, check_shared_body
from sentence_distill.models import load_variant, torch_int8
from sentence_distill.quantization import (
    cpu_quantization_config,
    export_onnx_int8,
    export_openvino_int8,
    export_torch_int8,
    with_int8_transformer,
)
from tests.unit import test_models as model_tests
from tests.unit.test_models import MINILM, encode_in_fresh_process

# the unit module's fixtures: the same model, sentences and PCA model
minilm, sentences, pca_model = model_tests.minilm, model_tests.sentences, model_tests.pca_model


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_int8_keeps_pca_and_normalize(
    minilm: SentenceTransformer, pca_model: tuple[Path, PCA], sentences: list[str], tmp_path: Path
) -> None:
    pca_folder, _ = pca_model
    export_onnx_int8(Path(assets.resolve_model(MINILM)), tmp_path / "onnx-int8" / "student")
    with_int8_transformer(pca_folder, tmp_path / "onnx-int8" / "student", tmp_path / "onnx-int8" / "32")
    info = json.loads((tmp_path / "onnx-int8" / "32" / "quantization.json").read_text())
    config = cpu_quantization_config()  # avx512_vnni, avx512, avx2 or arm64: weights qint8 or quint8 by CPU
    assert info["backend"] == "onnx" and info["config"] == config and info["file_name"].endswith(f"int8_{config}.onnx")

    student = load_variant(tmp_path / "onnx-int8" / "student")
    assert cosine(student.encode(sentences), minilm.encode(sentences)).min() >= 0.98

    reduced = load_variant(tmp_path / "onnx-int8" / "32")
    vectors = reduced.encode(sentences)
    assert vectors.shape == (len(sentences), 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    fp32 = SentenceTransformer(str(pca_folder), device="cpu").encode(sentences)
    assert cosine(vectors, fp32).mean() >= 0.98
    # Evaluation scores the shared-body path: on the same batches it must give the variant's own vectors.
    shared = SharedBody(student, sentences, batch_size=32).stacked(reduced)
    check_shared_body("onnx-int8/32", vectors, shared)
    with pytest.raises(RuntimeError, match="onnx-int8/32: its own encode and the shared body disagree"):
        check_shared_body("onnx-int8/32", vectors, np.roll(shared, 1, axis=0))
    # No fp32 copy of the Transformer beside the int8 file; plain sentence-transformers loads it with its file name.
    assert not list((tmp_path / "onnx-int8" / "32").glob("*.safetensors"))
    assert not (tmp_path / "onnx-int8" / "32" / "README.md").exists(), (
        "the fp32 model's card (and figures) is not copied"
    )
    plain = SentenceTransformer(
        str(tmp_path / "onnx-int8" / "32"), backend="onnx", model_kwargs={"file_name": info["file_name"]}
    )
    np.testing.assert_allclose(plain.encode(sentences), vectors, atol=1e-5)


def calibration_sentences(start: int, stop: int) -> list[str]:
    return list(load_stsb("sentence-transformers/stsb")["train"]["sentence1"][start:stop])


@pytest.fixture(scope="module")
def openvino_int8_minilm(tmp_path_factory) -> tuple[Path, dict]:
    """MiniLM in OpenVINO int8 calibrated on 64 STSb train sentences, and the export's summary: an export takes
    tens of seconds, so the module exports once; tests read the folder, or change a copy of it."""
    folder = tmp_path_factory.mktemp("openvino-int8") / "student"
    summary = export_openvino_int8(Path(assets.resolve_model(MINILM)), folder, calibration_sentences(0, 64))
    return folder, summary


def test_openvino_int8_is_calibrated_and_keeps_pca_and_normalize(
    minilm: SentenceTransformer,
    pca_model: tuple[Path, PCA],
    openvino_int8_minilm: tuple[Path, dict],
    sentences: list[str],
    tmp_path: Path,
) -> None:
    pca_folder, _ = pca_model
    exported, summary = openvino_int8_minilm
    shutil.copytree(exported, tmp_path / "openvino-int8" / "student")
    with_int8_transformer(pca_folder, tmp_path / "openvino-int8" / "student", tmp_path / "openvino-int8" / "32")
    assert summary == {"calibration_sentences": 64}
    int8_weights = tmp_path / "openvino-int8" / "32" / "openvino" / "openvino_model_qint8_quantized.bin"
    assert not list((tmp_path / "openvino-int8" / "32").glob("*.safetensors"))
    assert int8_weights.stat().st_size < 0.4 * (Path(assets.resolve_model(MINILM)) / "model.safetensors").stat().st_size
    student = load_variant(tmp_path / "openvino-int8" / "student")
    assert cosine(student.encode(sentences), minilm.encode(sentences)).mean() >= 0.98

    reduced = load_variant(tmp_path / "openvino-int8" / "32")
    vectors = reduced.encode(sentences)
    assert vectors.shape == (len(sentences), 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    fp32 = SentenceTransformer(str(pca_folder), device="cpu").encode(sentences)
    assert cosine(vectors, fp32).mean() >= 0.98
    reloaded, _ = encode_in_fresh_process(tmp_path / "openvino-int8" / "32", sentences, tmp_path)
    np.testing.assert_allclose(reloaded, vectors, atol=1e-5)
    with pytest.raises(ValueError, match="calibration"):
        export_openvino_int8(pca_folder, tmp_path / "no-calibration", [])


def test_requantized_int8_model_is_not_scored_on_the_old_models_cached_outputs(
    minilm: SentenceTransformer, openvino_int8_minilm: tuple[Path, dict], sentences: list[str], tmp_path: Path
) -> None:
    source, folder, bodies = Path(assets.resolve_model(MINILM)), tmp_path / "openvino-int8", tmp_path / "bodies"
    fingerprints, outputs = [], []
    # The module's export (calibrated on sentences 0-63) in this folder, then this folder quantized again in its
    # place, calibrated on 16 other sentences (a smaller calibration set exports faster).
    for requantize in (False, True):
        shutil.rmtree(folder, ignore_errors=True)
        if requantize:
            export_openvino_int8(source, folder, calibration_sentences(64, 80))
        else:
            shutil.copytree(openvino_int8_minilm[0], folder)
        fingerprints.append(model_fingerprint(folder, max_seq_length=minilm.max_seq_length, precision="float32"))
        model = load_variant(folder)
        outputs.append(SharedBody(model, sentences, 32, store=BodyStore.for_model(model, bodies, folder)).outputs)
    assert fingerprints[0] != fingerprints[1], "the int8 weights changed but the fingerprint did not"
    assert len(list(bodies.iterdir())) == 2  # the re-quantized model's outputs were encoded, not read back
    own = SharedBody(load_variant(folder), sentences, 32).outputs  # the re-quantized model, no cache
    np.testing.assert_allclose(outputs[1], own, atol=1e-5)
    assert not np.allclose(outputs[0], outputs[1], atol=1e-5)


def test_torch_int8_round_trips_through_its_state_dict(
    minilm: SentenceTransformer, sentences: list[str], tmp_path: Path
) -> None:
    source = Path(assets.resolve_model(MINILM))
    export_torch_int8(source, tmp_path / "torch-int8" / "student")
    expected = torch_int8(SentenceTransformer(str(source), device="cpu")).encode(sentences)
    reloaded, _ = encode_in_fresh_process(tmp_path / "torch-int8" / "student", sentences, tmp_path)
    np.testing.assert_allclose(reloaded, expected, atol=1e-6)
    assert cosine(reloaded, minilm.encode(sentences)).mean() >= 0.9  # per-tensor torch int8 is coarser than ONNX
