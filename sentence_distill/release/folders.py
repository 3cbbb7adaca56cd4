"""``release/<label>/`` for every model folder of a run: its files hard-linked from ``models/`` (the same
inodes as DVC's cache: no disk), and a card of its own figures.

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
from sentence_distill.release.stale import LOCK_FILE, check_lock

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
) -> list[str]:
    """Write ``release_dir`` with a folder per model of the run; the labels released, in order."""
    targets = variants(params)
    if lock_file is not None:
        check_lock([variant_folder(n, g, d) for n, g, d in targets], lock_file)
    benchmark = BenchmarkFile.read(benchmark_file)
    teacher = json.loads(TEACHER_FILE.read_text())  # the teacher stage's record of its model and sentences
    cards = {}
    for name, group, dim in targets:
        label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
        rows, results = figures(label, EvaluationFile.read(eval_file(name, dim, eval_dir)).variants)
        student = StudentMetrics.read(student_metrics_file(name))
        made = how_made(params, name, student, teacher, dim, group)
        cards[label] = (
            folder,
            build_card(
                label,
                folder,
                made,
                rows,
                results,
                speed_lines(label, benchmark),
                teacher["model"],
                source=student.source or teacher["model"],
            ),
        )
    with atomic_dir(release_dir) as tmp:
        for label, (folder, card) in cards.items():
            link_tree(folder, tmp / label)
            (tmp / label / CARD).write_text(card, encoding="utf8")
    log.info("released %d models in %s", len(cards), release_dir)
    return list(cards)
