"""Code digests: the first stage. Writes ``data/code/<module>.json`` for every stage module ``tasks/<module>.py``: the
sha256 of each project file in its import closure (``sentence_distill/code_closure.py``).

Each stage depends on the file of the module it runs instead of listing its modules, so an edit reruns exactly the
stages whose code it changes (a file whose digests are unchanged is rewritten byte for byte, and DVC sees no
change), and ``dvc.lock`` holds one code entry a stage. This stage depends on the source folders whole (a new
module is seen without editing ``dvc.yaml``); it imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from sentence_distill.cli import stage_main
from sentence_distill.code_closure import CODE_DIGESTS_DIR, stage_module_digests
from sentence_distill.fileio import write_json


def main(argv: list[str] | None = None) -> int:
    digests = stage_module_digests(Path.cwd())
    for name, record in digests.items():
        write_json(CODE_DIGESTS_DIR / f"{name}.json", record)
    print(f"{CODE_DIGESTS_DIR}: the code of {len(digests)} stage modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
