"""Release stage: every model of the run as a shareable folder ``release/<label>/`` with a full model card.

Model folders are the outputs of the student, pca and quantize stages, which run before evaluation
and the benchmark; no later stage may write into them. This stage, last, assembles
``release/<label>/`` (``sentence_distill.release.folders``): the model's files hard-linked from
``models/`` and a ``README.md`` rendered from ``sentence_distill/release/card_template.md``: the
figures as ``model-index`` metadata (``huggingface_hub.EvalResult``), how the model was made
(``sentence_distill.provenance``), how to load it, its figures of every task family and its speed-up
with the machine it was measured on. ``release/selected/`` is the model the report stage's selection rule picked
(``metrics/selected.json``), linked the same way, its card opening with why it was chosen; none when no model
meets the rule.

Stale figures: the stage depends on ``models``, ``metrics/eval``, ``metrics/benchmark.json`` and
``metrics/students``, so DVC reruns it (after evaluate and benchmark) whenever a model or a figure
changes. Before writing anything it checks that each model folder's hash in ``dvc.lock`` is the one
its evaluation read, and that every figure the card shows exists for that very label: a card never
shows another model's figures, and a missing figure stops the stage instead of being left out.
"""

from __future__ import annotations

from sentence_distill.cli import stage_main
from sentence_distill.config.load import load_or_exit
from sentence_distill.release.folders import release
from sentence_distill.release.stale import StaleFigures


def main(argv: list[str] | None = None) -> int:
    release(load_or_exit(check_inputs=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(stage_main(main, messages=(StaleFigures,)))
