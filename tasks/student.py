"""Stage ``student@NAME``: build the student and distill it with MSE on the teacher's embeddings.

    python -m tasks.student NAME

Reads ``params.students.<name>``, ``params.distill`` (with the student's own ``distill`` overrides),
``params.teacher.model`` (or the student's own ``spec.model``), the prepared corpus (a ``parallel`` student:
the parallel pairs instead) and the teacher's targets from the embedding cache (never re-encoded).
Writes the best checkpoint by STSb dev Spearman (a parallel student's: by its dev translations' MSE) to
``models/<name>/student`` and ``metrics/students/<name>.json``, and the training curves (loss, STSb dev
Spearman, held-out MSE by step) with DVCLive to ``metrics/students/<name>/training``. Training
checkpoints live in ``.work/checkpoints/<name>`` so a killed run resumes from its last complete one;
they are removed once the model is saved. The library's ``sentence_distill.students.trainer`` does the
work; with ``distill.processes`` N > 1 it runs this stage again as N workers
(``sentence_distill.students.distributed``), the first of which writes the outputs.
"""

from __future__ import annotations

import shutil

from sentence_distill.cli import run_for_student, stage_main
from sentence_distill.config.schema import Params
from sentence_distill.fileio import atomic_dir
from sentence_distill.paths import CHECKPOINTS_DIR, student_dir, student_metrics_file
from sentence_distill.provenance import name_saved_model
from sentence_distill.records.student import StudentMetrics
from sentence_distill.students.trainer import train_student


def student_stage(name: str, params: Params) -> None:
    trained = train_student(name, params)
    if trained is None:  # the workers this stage launched wrote the outputs, or this is not the first worker
        return
    student, metrics = trained
    name_saved_model(student, name, metrics["source"])
    with atomic_dir(student_dir(name)) as tmp:
        student.save(str(tmp))
    StudentMetrics.from_dict(metrics).write(student_metrics_file(name))
    shutil.rmtree(CHECKPOINTS_DIR / name, ignore_errors=True)  # the run is done: nothing may resume from it


def main(argv: list[str] | None = None) -> int:
    return run_for_student("student", argv, student=student_stage)


if __name__ == "__main__":
    raise SystemExit(stage_main(main))
