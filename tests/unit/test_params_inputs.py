"""The inputs the params name, checked before any stage: local files and folders, hub ids offline, quantization
backends' packages, the packaged assets' digests. One clear message naming the key and the bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentence_distill import assets
from sentence_distill.config import checks
from sentence_distill.config.load import ParamsError, parse_params
from tests.project import ROOT
from tests.tiny_params import TINY, with_change


def test_stages_check_relations_but_not_inputs() -> None:
    """A stage's start (``check_inputs=False``) reads no input the params name: the validate stage checked them."""
    missing = with_change("prepare.corpus", "./no/such/corpus.txt")
    assert parse_params(missing, check_inputs=False).prepare.corpus == "./no/such/corpus.txt"
    with pytest.raises(ParamsError, match="prepare.corpus: file or folder './no/such/corpus.txt' does not exist"):
        parse_params(missing)
    with pytest.raises(ParamsError, match=r"^prepare.max_chars: 5 is not above prepare.min_chars=10"):
        parse_params(with_change("prepare.max_chars", 5), check_inputs=False)


@pytest.mark.parametrize("module", ["no_such_runtime_pkg", "optimum.no_such_runtime", "onnxruntime.no_such.sub"])
def test_backend_without_its_packages_is_named(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Down to submodules: an installed `optimum` without the runtime's subpackage is not enough."""
    monkeypatch.setitem(checks.BACKEND_MODULES, "torch-int8", ("torch", module))
    with pytest.raises(ParamsError, match=f"quantize.backends: torch-int8 needs {module}, which is not installed"):
        parse_params(with_change("quantize.backends", ["torch-int8"]))


def test_the_backends_runtime_submodules_are_checked() -> None:
    assert "optimum.intel.openvino" in checks.BACKEND_MODULES["openvino-int8"]
    assert "optimum.onnxruntime" in checks.BACKEND_MODULES["onnx-int8"]


def corpus_file(tmp_path: Path, name: str, content: bytes) -> str:
    (tmp_path / name).write_bytes(content)
    return str(tmp_path / name)


INPUTS = [  # (case, key, value built from tmp_path, message): local files the params name, checked before any stage
    (
        "missing corpus file",
        "prepare.corpus",
        lambda t: "./no/such/corpus.txt",
        "prepare.corpus: file or folder './no/such/corpus.txt' does not exist",
    ),
    (
        "missing stsb folder",
        "prepare.stsb",
        lambda t: "/no/such/stsb",
        "prepare.stsb: '/no/such/stsb' has no sts-train.csv",
    ),
    (
        "missing teacher folder",
        "teacher.model",
        lambda t: "./no-such-model",
        "teacher.model: model folder './no-such-model' does not exist",
    ),
    (
        "corpus of another kind",
        "prepare.corpus",
        lambda t: str(ROOT / "README.md"),
        "prepare.corpus: {value!r} is not a .txt, .csv or .parquet file",
    ),
    (
        "empty corpus file",
        "prepare.corpus",
        lambda t: corpus_file(t, "empty.txt", b""),
        "prepare.corpus: file '{value}' is empty (0 bytes)",
    ),
    (
        "csv without the column",
        "prepare.corpus",
        lambda t: corpus_file(t, "c.csv", b"id,sentence\n1,Hello there all.\n"),
        "prepare.corpus_column: column 'text' not in {value} (columns: id, sentence)",
    ),
    (
        "parquet without the column",
        "prepare.corpus",
        lambda t: corpus_file(t, "c.parquet", parquet_bytes(t)),
        "prepare.corpus_column: column 'text' not in {value} (columns: sentence)",
    ),
    ("folder without .txt", "prepare.corpus", lambda t: str(t), "prepare.corpus: folder '{value}' has no .txt files"),
    (
        "stsb folder without csv",
        "prepare.stsb",
        lambda t: str(t),
        "prepare.stsb: '{value}' has no sts-train.csv, sts-dev.csv and sts-test.csv",
    ),
    ("teacher folder without config", "teacher.model", lambda t: str(t), "teacher.model: '{value}' has no config.json"),
    (
        "teacher config not JSON",
        "teacher.model",
        lambda t: corpus_file(t, "config.json", b"{oops") and str(t),
        "teacher.model: {value}/config.json is not readable JSON",
    ),
]


def parquet_bytes(tmp_path: Path) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sentence": ["Hello there all."]}), tmp_path / "tmp.parquet")
    return (tmp_path / "tmp.parquet").read_bytes()


@pytest.mark.parametrize(("case", "key", "build", "message"), INPUTS, ids=[c[0] for c in INPUTS])
def test_inputs_the_params_name_are_checked(tmp_path: Path, case: str, key: str, build, message: str) -> None:
    value = build(tmp_path)
    with pytest.raises(ParamsError) as error:
        parse_params(with_change(key, value))
    assert message.format(value=value) in str(error.value)


OFFLINE = [  # hub ids that have no packaged copy, while the hub cannot be reached
    (
        "teacher hub id",
        "teacher.model",
        "someone/not-packaged-model",
        "teacher.model: model 'someone/not-packaged-model' has no packaged copy "
        "and the hub cannot be reached (offline)",
    ),
    (
        "student hub id",
        "students",
        {"S": {"model": "someone/not-packaged-model"}},
        "students.S.model: model 'someone/not-packaged-model' has no packaged copy",
    ),
    (
        "corpus hub id",
        "prepare.corpus",
        "someone/not-packaged-dataset",
        "prepare.corpus: 'someone/not-packaged-dataset' is a hub dataset id with no packaged copy "
        "and the hub cannot be reached (offline)",
    ),
    (
        "stsb hub id",
        "prepare.stsb",
        "someone/not-packaged-stsb",
        "prepare.stsb: 'someone/not-packaged-stsb' is a hub dataset id with no packaged copy",
    ),
]


@pytest.mark.parametrize(("case", "key", "value", "message"), OFFLINE, ids=[c[0] for c in OFFLINE])
def test_hub_ids_without_a_packaged_copy_fail_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: str, key: str, value, message: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    with pytest.raises(ParamsError) as error:
        parse_params(with_change(key, value))
    assert message in str(error.value)


def test_a_packaged_asset_that_does_not_match_its_digest_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    digests = json.loads(assets.DIGESTS_FILE.read_text())
    digests["all-MiniLM-L6-v2"] = "0" * 64  # as if the installed files had changed
    (tmp_path / "asset_digests.json").write_text(json.dumps(digests))
    monkeypatch.setattr(assets, "DIGESTS_FILE", tmp_path / "asset_digests.json")
    assets.verify_asset.cache_clear()
    try:
        with pytest.raises(
            ParamsError,
            match=r"teacher.model: packaged all-MiniLM-L6-v2 at .* does not match its recorded SHA-256 "
            r"\(13 files: got 3aaf3259c5e87d11, expected 0000000000000000 in asset_digests.json\); reinstall it",
        ):
            parse_params(TINY)
    finally:
        assets.verify_asset.cache_clear()


def test_packaged_assets_match_their_recorded_digests() -> None:
    assets.verify_asset.cache_clear()
    parse_params(TINY)  # MiniLM, STSb and BBC news, each hashed in full and found as recorded
    assert assets.verify_asset.cache_info().currsize == 3
