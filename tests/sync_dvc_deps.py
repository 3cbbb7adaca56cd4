"""Rewrite the project-code deps of every stage in ``dvc.yaml`` to what the stage imports.

``python -m tests.sync_dvc_deps`` after moving or splitting a module: each stage's list of ``tasks/``,
``sentence_distill/`` and ``flows/`` files becomes its import closure (``tests/test_dvc_deps.py``
checks the two agree), in place, keeping every other line and comment of the file.
"""

from __future__ import annotations

import re
import sys

from tests.code_deps import PROJECT_PACKAGES, project_imports, stage_commands
from tests.project import ROOT

CODE_DEP = re.compile(r"^(\s*)- (" + "|".join(PROJECT_PACKAGES) + r")/\S+\s*$")


def main() -> int:
    modules = {stage: module for stage, module, _ in stage_commands()}
    lines = (ROOT / "dvc.yaml").read_text().splitlines(keepends=True)
    out: list[str] = []
    stage = None
    for line in lines:
        top = re.match(r"^  ([a-z_]+):", line)
        if top:
            stage = top.group(1)
        dep = CODE_DEP.match(line)
        if not dep:
            out.append(line)
            continue
        if out and CODE_DEP.match(out[-1]):
            continue  # the stage's whole block was written at its first code dep
        indent = dep.group(1)
        out += [
            f"{indent}- {path}\n"
            for path in sorted(project_imports(modules[stage]), key=lambda p: (not p.startswith("tasks/"), p))
        ]
    (ROOT / "dvc.yaml").write_text("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
