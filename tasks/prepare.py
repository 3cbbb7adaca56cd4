"""Prepare data: STS benchmark splits and the unlabeled distillation corpus, as Parquet.

Reads ``params.prepare``: the corpus and STSb it names (``params.corpus``, ``params.stsb``; local ones lie under
``inputs/data/``) and, with ``prepare.parallel``, the parallel file, checked whole here as in the validate stage.
Writes ``data/prepared/``, ``data/documents.parquet`` (what they hold: ``sentence_distill/data/prepare.py``) and
``metrics/prepare.json`` with the counts of sentences read, dropped and truncated. A corpus that yields no usable
sentence, or has more than ``max_undecodable_share`` of its lines not valid UTF-8, stops the stage with those counts
(exit 2).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sentence_distill.cli import stage_main
from sentence_distill.config.load import ParamsError, load_or_exit
from sentence_distill.data.prepare import prepare_data
from sentence_distill.fileio import write_json

log = logging.getLogger(__name__)

METRICS_FILE = Path("metrics/prepare.json")


def main(argv: list[str] | None = None) -> int:
    params = load_or_exit(
        check_inputs=True
    )  # this stage reads the inputs the params name: checked whole, as in validate
    try:
        counts = prepare_data(params.prepare)
    except ParamsError as exc:  # an input that params alone cannot show to be unusable: exit 2, nothing written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(METRICS_FILE, counts)
    log.info("prepared corpus: %s", counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
