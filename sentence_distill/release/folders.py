"""``release/<label>/`` for every model folder of a run: its files hard-linked from ``models/`` (the same
inodes as DVC's cache: no disk), and a card of its own figures; and ``release/selected/``, the model the
selection rule picked (``metrics/selected.json``), linked the same way, its card opening with why.

Every card is built before anything is written, so a stale or missing figure writes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from sentence_distill.config.schema import Params
from sentence_distill.fileio import atomic_dir
from sentence_distill.paths import (
    BENCHMARK_FILE,
    EVAL_DIR,
    FP32,
    SELECTED,
    SELECTED_FILE,
    TEACHER_FILE,
    eval_file,
    student_metrics_file,
    variant_folder,
    variant_label,
)
from sentence_distill.provenance import how_made
from sentence_distill.records.benchmark import BenchmarkFile
from sentence_distill.records.evaluation import EvaluationFile
from sentence_distill.records.student import StudentMetrics
from sentence_distill.release.card import build_card
from sentence_distill.release.figures import figures, speed_lines
from sentence_distill.release.stale import LOCK_FILE, check_lock, check_selection
from sentence_distill.report.answer import chosen_lines

log = logging.getLogger(__name__)

RELEASE_DIR = Path("release")
CARD = "README.md"


def variants(params: Params) -> list[tuple[str, str, int | None]]:
    """(student, group, dim) of every model folder the run makes: fp32 and int8, with and without PCA."""
    return [
        (name, group, dim)
        for name in params.students
        for dim in [None, *params.pca_dims_for(name)]
        for group in [FP32, *params.backends_for(name)]
    ]


def link_tree(source: Path, target: Path) -> None:
    """``target`` with ``source``'s files hard-linked (copied across file systems), the saved card left out."""
    for file in sorted(source.rglob("*")):
        if not file.is_file() or file.relative_to(source).as_posix() == CARD:
            continue
        dest = target / file.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file, dest)
        except OSError:
            shutil.copy2(file, dest)


def release(
    params: Params,
    release_dir: Path = RELEASE_DIR,
    eval_dir: Path = EVAL_DIR,
    benchmark_file: Path = BENCHMARK_FILE,
    lock_file: Path | None = LOCK_FILE,
    selected_file: Path = SELECTED_FILE,
) -> list[str]:
    """Write ``release_dir`` with a folder per model of the run, and ``selected`` when the rule picked one; the
    folders written, in order."""
    targets = {variant_label(n, g, d): (n, g, d) for n, g, d in variants(params)}
    if lock_file is not None:
        check_lock([variant_folder(n, g, d) for n, g, d in targets.values()], lock_file)
    benchmark = BenchmarkFile.read(benchmark_file)
    teacher = json.loads(TEACHER_FILE.read_text())  # the teacher stage's record of its model and sentences

    def card(label: str, runs_as: str, path: Path, **selected) -> tuple[Path, str]:
        """The folder of ``runs_as`` (the model ``label`` loads) and ``label``'s card, released at ``path``."""
        name, group, dim = targets[runs_as]
        folder, evaluation = variant_folder(name, group, dim), EvaluationFile.read(eval_file(name, dim, eval_dir))
        rows, results = figures(label, evaluation.variants)
        student = StudentMetrics.read(student_metrics_file(name))
        made = how_made(params, name, student, teacher, dim, group)
        return folder, build_card(
            label,
            folder,
            made,
            rows,
            results,
            speed_lines(runs_as, benchmark),
            teacher["model"],
            source=student.source or teacher["model"],
            path=path.as_posix(),
            **selected,
        )

    cards = {label: card(label, label, release_dir / label) for label in targets}
    selection = check_selection(selected_file, targets, eval_dir, benchmark)
    chosen = selection.chosen
    if chosen is not None:
        cards[SELECTED] = card(
            chosen.model,
            chosen.runs_as,
            release_dir / SELECTED,
            truncate_dim=chosen.truncate_dim,
            selected="\n".join(chosen_lines(selection)),
        )
    with atomic_dir(release_dir) as tmp:
        for label, (folder, card) in cards.items():
            link_tree(folder, tmp / label)
            (tmp / label / CARD).write_text(card, encoding="utf8")
    log.info("released %d folders in %s%s", len(cards), release_dir, f" ({SELECTED}: {chosen.model})" if chosen else "")
    return list(cards)
