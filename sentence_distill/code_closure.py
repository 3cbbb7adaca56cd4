"""Which project files a module runs, and their digests: what a stage's outputs depend on besides its data and params.

A stage depends on one small file, ``data/code/<module>.json`` for the ``tasks/<module>.py`` it runs (the
``code_digests`` stage writes one for every stage module: each file of its import closure with its sha256), instead
of listing every module it imports in ``dvc.yaml``. DVC reads and rewrites the whole of ``dvc.lock`` after every
stage, so a thousand code entries there slow every stage down; and a new import is covered the moment it is
written. The closure is read from the source (``ast``), lazy imports inside functions included, so nothing is
imported to find it. The training cache key hashes the same closure of the trainer (``students/checkpoints.py``).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("tasks", "sentence_distill", "flows")
DATA_READ_BY = {  # project files a module reads besides code
    "sentence_distill/assets.py": "sentence_distill/asset_digests.json",
    "sentence_distill/release/card.py": "sentence_distill/release/card_template.md",
}
STAGE_PACKAGE = "tasks"  # tasks/<module>.py: the module a DVC stage runs (python -m tasks.<module> ...)
CODE_DIGESTS_DIR = Path("data/code")  # <module>.json: the digests of the files that stage module runs


def module_file(module: str) -> str:
    return module.replace(".", "/") + ".py"


def imported_modules(path: str, root: Path = ROOT) -> set[str]:
    """The project modules the file ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((root / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_PACKAGES:
            # `from package import module` names a module; `from module import name` does not
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if (root / module_file(submodule)).is_file() else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] in PROJECT_PACKAGES}
    return found


def project_files(module: str, root: Path = ROOT) -> set[str]:
    """The project files ``module`` runs: itself, the modules it imports directly or not, and their data."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += imported_modules(module_file(name), root)
    files = {module_file(name) for name in seen}
    return files | {DATA_READ_BY[f] for f in files if f in DATA_READ_BY}


def file_digests(files: set[str], root: Path = ROOT) -> dict[str, str]:
    """Each file's sha256, by path, sorted."""
    return {path: hashlib.sha256((root / path).read_bytes()).hexdigest() for path in sorted(files)}


def stage_module_digests(root: Path = ROOT) -> dict[str, dict]:
    """What ``data/code/<module>.json`` holds for each stage module ``tasks/<module>.py``: the module and the digest
    of each file it runs. Every module of ``tasks/``, not only those ``dvc.yaml`` names now: DVC does not let a
    stage depend on ``dvc.yaml``, and a new stage's module is then covered the moment it is written."""
    modules = [f"{STAGE_PACKAGE}.{p.stem}" for p in sorted((root / STAGE_PACKAGE).glob("*.py")) if p.stem != "__init__"]
    return {
        module.removeprefix(f"{STAGE_PACKAGE}."): {
            "module": module,
            "files": file_digests(project_files(module, root), root),
        }
        for module in modules
    }
