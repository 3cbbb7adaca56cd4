"""Model folders from elsewhere (a DVC remote) are data, never code: crafted folders are refused unread.

Each case builds a real folder the way an attacker would and calls the real loader or copier; the
payload would create a marker file if it ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentence_distill.assets import AssetError
from sentence_distill.models import load_variant
from sentence_distill.paths import QUANTIZATION_FILE
from sentence_distill.quantization import with_int8_transformer

REPO = Path(__file__).resolve().parents[2]


class CreatesMarker:
    """Unpickling this calls ``open(marker, "w")``: code run by loading a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def crafted_folder(folder: Path, info: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / QUANTIZATION_FILE).write_text(json.dumps(info))
    return folder


def test_a_pickled_payload_in_torch_int8_weights_runs_nothing(tmp_path: Path) -> None:
    folder = crafted_folder(tmp_path / "model", {"backend": "torch-int8", "file_name": "torch_int8.pt"})
    marker = tmp_path / "payload-ran"
    torch.save({"weight": CreatesMarker(marker)}, folder / "torch_int8.pt")

    with pytest.raises(AssetError, match=r"torch_int8.pt: not a plain tensor state dict, refused"):
        load_variant(folder)
    assert not marker.exists(), "loading the crafted folder ran its payload"

    # the payload is real: unpickled the unsafe way (in another process), it runs
    unsafe = f"import torch; torch.load({str(folder / 'torch_int8.pt')!r}, weights_only=False)"
    subprocess.run([sys.executable, "-c", unsafe], cwd=REPO, capture_output=True, timeout=300)
    assert marker.exists()


def outside_names(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "model").mkdir(parents=True)
    os.symlink(tmp_path / "secret", tmp_path / "model" / "link")
    return {
        "parent": "../secret",
        "nested parent": "onnx/../../secret",
        "absolute": str(tmp_path / "secret"),
        "link out": "link",
    }


@pytest.mark.parametrize("case", ["parent", "nested parent", "absolute", "link out"])
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_file_names_that_leave_the_folder_are_refused(tmp_path: Path, case: str, backend: str) -> None:
    name = outside_names(tmp_path)[case]
    (tmp_path / "secret").write_text("not a model")
    folder = crafted_folder(tmp_path / "model", {"backend": backend, "file_name": name, "files": [name]})
    expected = "resolves outside" if case == "link out" else "is not a relative path inside"

    with pytest.raises(AssetError, match=f"quantization.json: file name .* {expected}"):
        load_variant(folder)
    target = tmp_path / "pca-quantized"
    with pytest.raises(AssetError, match=expected):
        with_int8_transformer(tmp_path / "pca", folder, target)
    assert not target.exists(), "nothing is copied from a folder that names a file outside itself"


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            {"idx": 0, "name": "0", "path": "../outside", "type": "sentence_transformers.models.Transformer"},
            "file name '../outside' is not a relative path inside",
        ),
        (
            {"idx": 0, "name": "0", "path": "", "type": "os.system"},
            "module type 'os.system' is not a sentence-transformers module",
        ),
    ],
    ids=["path out of the folder", "foreign module type"],
)
def test_modules_json_that_leaves_sentence_transformers_is_refused(tmp_path: Path, module: dict, message: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([module]))
    with pytest.raises(AssetError, match=message):
        load_variant(folder)
