"""What each DVC stage runs: the stages' commands in ``dvc.yaml`` and the project files a stage's module imports.

Read by ``test_dvc_deps.py`` (a stage lists exactly what it imports) and by ``sync_dvc_deps.py`` (which rewrites
``dvc.yaml`` to say so).
"""

from __future__ import annotations

import ast
import shlex

import yaml

from tests.project import ROOT

PROJECT_PACKAGES = ("tasks", "sentence_distill", "flows")
DATA_READ_BY = {  # project files a module reads besides code
    "sentence_distill/assets.py": "sentence_distill/asset_digests.json",
    "sentence_distill/release/card.py": "sentence_distill/release/card_template.md",
}


def imported_modules(path: str) -> set[str]:
    """The project modules the file ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_PACKAGES:
            # `from package import module` names a module; `from module import name` does not
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if (ROOT / (submodule.replace(".", "/") + ".py")).is_file() else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] in PROJECT_PACKAGES}
    return found


def module_file(module: str) -> str:
    return module.replace(".", "/") + ".py"


def project_imports(module: str) -> set[str]:
    """The project files ``module`` runs: itself, the modules it imports directly or not, and their data."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += imported_modules(module_file(name))
    files = {module_file(name) for name in seen}
    return files | {DATA_READ_BY[f] for f in files if f in DATA_READ_BY}


def stage_commands() -> list[tuple[str, str, list[str]]]:
    """(stage, module, file deps) of every stage in dvc.yaml, foreach and matrix stages once each."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    found = []
    for name, stage in stages.items():
        body = stage.get("do", stage)
        words = shlex.split(body["cmd"])
        assert words[:2] == ["python", "-m"], f"{name}: {body['cmd']}"
        found.append((name, words[2], [d for d in body.get("deps", []) if isinstance(d, str)]))
    return found
