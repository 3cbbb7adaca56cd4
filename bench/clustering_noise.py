"""How much of a clustering figure is the k-means seed: each model's V-measure of the evaluation articles, seed
by seed, as the evaluate stage computes it (``clustering_v_measure``, 10 k-means++ starts a seed).

    cd RUN && python -m bench.clustering_noise models/L3/student sentence-transformers/all-MiniLM-L6-v2 --seeds 20

Prints a markdown table: the mean of the first 3 seeds (the figure ``evaluate.clustering_seeds: 3`` reports), of
the first 10, of all ``--seeds``, the standard deviation of one seed's figure, and the standard error of the mean of
3 and of 10. Run it in a finished run's folder (it reads ``data/documents.parquet``); a model is a folder or an
id ``load_model`` resolves (the packaged teacher).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from sentence_distill.data.corpus import evaluation_documents
from sentence_distill.evaluation.task_families import clustering_v_measure, single_threaded
from sentence_distill.models import load_model
from sentence_distill.paths import DOCUMENTS_FILE


def per_seed(model_id: str, documents: list[str], labels: np.ndarray, seeds: int) -> list[float]:
    vectors = load_model(model_id).encode(documents, batch_size=32)
    with single_threaded():
        return [clustering_v_measure(vectors, labels, [seed]) for seed in range(seeds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args(argv)
    documents, topics = evaluation_documents(DOCUMENTS_FILE)
    labels = np.asarray(topics)
    print(f"| model | 3 seeds | 10 seeds | {args.seeds} seeds | sd of one seed | se of 3 | se of 10 |")
    print("|---|---|---|---|---|---|---|")
    for model_id in args.models:
        v = np.array(per_seed(model_id, documents, labels, args.seeds))
        sd = float(v.std(ddof=1))
        print(
            f"| {model_id} | {v[:3].mean():.4f} | {v[:10].mean():.4f} | {v.mean():.4f} | {sd:.4f} | "
            f"{sd / np.sqrt(3):.4f} | {sd / np.sqrt(10):.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
