"""How long the evaluation articles must be for classification and clustering to tell models apart.

    python -m bench.article_length [--chars 600 400 300]

Run in a project where the pipeline has built the students. For each length, cuts the evaluation
articles that ``prepare`` sets aside (the same seeded articles, ``prepare.article_text``) to that many
characters, embeds them with the teacher and every fp32 student, and prints each one's few-shot
classification accuracy and k-means V-measure (``sentence_distill.evaluation.task_families``, with the evaluate params)
and the students' shares of the teacher's figures. A length at which students keep more than the
teacher has stopped telling them apart.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sentence_distill.config.load import load_or_exit
from sentence_distill.data.sources import article_text, evaluation_articles
from sentence_distill.evaluation.task_families import clustering_v_measure, few_shot_classification
from sentence_distill.models import load_model, load_variant
from sentence_distill.paths import TEACHER, student_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, nargs="+", default=[600, 400, 300])
    args = parser.parse_args()
    params = load_or_exit(check_inputs=False)
    evaluate = params.evaluate
    articles = evaluation_articles(params.prepare.documents_per_topic, params.prepare.seed)
    labels = np.asarray([topic for _, topic in articles])
    models = {TEACHER: load_model(params.teacher.model, params.teacher.max_seq_length)}
    models.update({name: load_variant(student_dir(name)) for name in params.students})
    for chars in args.chars:
        texts = [article_text(path, chars) for path, _ in articles]
        scores = {}
        for name, model in models.items():
            start = time.perf_counter()
            vectors = np.asarray(model.encode(texts, batch_size=evaluate.batch_size), dtype=np.float32)
            seconds = time.perf_counter() - start
            accuracy = np.mean(
                [
                    few_shot_classification(vectors, labels, shot, evaluate.classification_draws, seed=shot)["accuracy"]
                    for shot in evaluate.classification_shots
                ]
            )
            v_measure = clustering_v_measure(vectors, labels, range(evaluate.clustering_seeds))
            scores[name] = accuracy, v_measure
            print(
                f"{chars} chars  {name:10s} embedded in {seconds:5.1f} s  "
                f"accuracy {accuracy:.4f}  V-measure {v_measure:.4f}"
            )
        for name in params.students:
            print(
                f"{chars} chars  {name:10s} keeps classification {scores[name][0] / scores[TEACHER][0]:.1%}  "
                f"clustering {scores[name][1] / scores[TEACHER][1]:.1%}"
            )


if __name__ == "__main__":
    main()
