"""Validate: the first stage. Checks ``params.yaml`` whole, and every input it names, before any other stage runs.

DVC removes a stage's outputs before it runs the stage's command, so a stage that found a bad value
itself would already have lost its previous outputs. Every other stage lists ``data/validated.json``
as a dep, so ``dvc repro`` runs this stage first, and a bad value stops the run here (one line per
problem, exit 2) with every other output untouched. The file is declared ``persist`` (DVC does not
delete it before this stage runs) and its content is the same for every valid params file, so a
param change reruns this stage and then only the stages that read the changed param.

``python -m tasks.validate`` is also the command that checks ``params.yaml`` by hand (``make validate``).

Reads all of ``params.yaml``, the files, folders and models it names (configs only, and the packaged
assets' digests), the parallel-pairs file whole. Writes ``data/validated.json``.
"""

from __future__ import annotations

from pathlib import Path

from sentence_distill.cli import stage_main
from sentence_distill.config.load import DEFAULT_PARAMS_FILE, load_or_exit
from sentence_distill.fileio import write_json

VALIDATED_FILE = Path("data/validated.json")


def main(argv: list[str] | None = None) -> int:
    load_or_exit(DEFAULT_PARAMS_FILE, check_inputs=True)
    write_json(VALIDATED_FILE, {"params_file": str(DEFAULT_PARAMS_FILE), "valid": True})
    print(f"{DEFAULT_PARAMS_FILE}: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
