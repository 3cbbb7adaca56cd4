"""Evaluation: the quality and size of every variant, measured the same way (speed: the benchmark stage).

- ``python -m tasks.evaluate teacher`` writes ``metrics/eval/teacher.json``.
- ``python -m tasks.evaluate NAME`` evaluates ``models/NAME/student`` and its int8 copies
  ``models/NAME/quantized/<backend>`` into ``metrics/eval/NAME.json``, and keeps each one's body
  outputs (every module before PCA and ``Normalize``) for the evaluation, check and calibration
  sentences in ``data/evaluation_bodies/NAME``.
- ``python -m tasks.evaluate NAME DIM`` evaluates ``models/NAME/pca/DIM`` and its int8 copies into
  ``metrics/eval/NAME-pcaDIM.json``, applying each one's PCA and ``Normalize`` to those stored body
  outputs instead of running the body again; each encodes only the check sentences itself, to prove that path.

Each body encodes each list of texts once, and each stage reads its inputs once.

Per variant (``sentence_distill/evaluation/``; the file's record: ``sentence_distill/records/evaluation.py``):
four task families (``task_families.py``), each with its share of the teacher's figure and the mean of those
shares: STSb test Spearman; few-shot topic classification of the evaluation BBC articles (accuracy, macro-F1);
their k-means clustering (V-measure); retrieval of STSb test paraphrases (nDCG@10, MRR@10). With parallel data
(``prepare.parallel``), translation retrieval of its held-out pairs (accuracy each way, source-target MSE), not
a share of the teacher's. Also MSE to the teacher's embeddings on the held-out corpus slice (when dimensions
match), size on disk, parameter count, embedding dimension and bytes per embedding; for the teacher, each
student and each PCA model in fp32, every embedding precision (int8, uint8, binary embeddings) on every family
too; each own task of ``evaluate.tasks`` (``own_tasks.py``), its figures and its share of the teacher's headline
figure. A Matryoshka student's evaluation also scores each of its ``matryoshka_dims`` k on every model of it: rows
``NAME-mrlK`` (and ``NAME-mrlK-<backend>``), its embeddings cut to k dimensions and normalized.
"""

from __future__ import annotations

from sentence_distill.cli import run_for_student, stage_main
from sentence_distill.config.schema import Params
from sentence_distill.data.task_files import TaskFileError
from sentence_distill.evaluation.variants import evaluation
from sentence_distill.paths import TEACHER, eval_file


def evaluate(name: str, params: Params, dim: int | None = None) -> None:
    evaluation(name, params, dim).write(eval_file(name, dim))


def main(argv: list[str] | None = None) -> int:
    return run_for_student(
        "evaluate",
        argv,
        student=evaluate,
        dimension=lambda name, dim, params: evaluate(name, params, dim),
        extra=(TEACHER,),
    )


if __name__ == "__main__":
    raise SystemExit(stage_main(main, messages=(TaskFileError,)))
