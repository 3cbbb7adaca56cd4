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


def project_imports(module: str) -> set[str]:
    """The project files ``module`` runs: itself, the modules it imports directly or not, and their data."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse((ROOT / (name.replace(".", "/") + ".py")).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT_PACKAGES:
                for (
                    alias
                ) in node.names:  # `from package import module` names a module; `from module import name` does not
                    submodule = f"{node.module}.{alias.name}"
                    is_module = (ROOT / (submodule.replace(".", "/") + ".py")).is_file()
                    pending.append(submodule if is_module else node.module)
            elif isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names if alias.name.split(".")[0] in PROJECT_PACKAGES]
    files = {name.replace(".", "/") + ".py" for name in seen}
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
