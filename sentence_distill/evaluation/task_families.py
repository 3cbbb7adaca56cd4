"""Quality beyond STSb: MTEB-style scores of the classification, clustering and retrieval task families, and
translation retrieval of parallel pairs where the pipeline has them.

Plain functions over embeddings computed beforehand (one row per document or sentence), so a model's
vectors are made once and shared by every family. scikit-learn fits the classifier and the k-means
and computes the metrics (nDCG@10 for retrieval too; MRR@10 is one line of numpy).

The scoring runs on one thread (``single_threaded``). After an encode, torch's OpenMP threads keep spinning for
work, and scikit-learn's own OpenMP and BLAS pools, sized to every core, then wait on them: a k-means of the
evaluation articles ran slower that way than on one thread, and many times slower when other work shared the
cores, with the same clusters. These fits are small; threads buy them nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, ndcg_score, v_measure_score
from threadpoolctl import threadpool_limits

from sentence_distill.records.evaluation import FamilyScores, OwnTaskScores, ShotScores, VariantMetrics


def few_shot_classification(
    embeddings: np.ndarray, labels: np.ndarray, per_class: int, draws: int, seed: int
) -> dict[str, float]:
    """Accuracy and macro-F1 of a logistic regression trained on ``per_class`` examples of each label
    and tested on all the others, averaged over ``draws`` seeded draws (MTEB's few-shot setting: with
    every document but a test fifth to train on, topic classification sits at its ceiling and no
    longer tells models apart)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    accuracy, macro_f1 = [], []
    for _ in range(draws):
        train = np.concatenate(
            [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
        )
        test = np.setdiff1d(np.arange(len(labels)), train)
        classifier = LogisticRegression(max_iter=1000).fit(embeddings[train], labels[train])
        predicted = classifier.predict(embeddings[test])
        accuracy.append(accuracy_score(labels[test], predicted))
        macro_f1.append(f1_score(labels[test], predicted, average="macro"))
    return {"accuracy": float(np.mean(accuracy)), "macro_f1": float(np.mean(macro_f1))}


def clustering_v_measure(embeddings: np.ndarray, labels: np.ndarray, seeds: Sequence[int]) -> float:
    """V-measure of k-means (k = the number of labels) against the labels, averaged over seeds.

    Each seed keeps the best of 10 k-means++ starts: with one start, the V-measure of the default
    profile's 3-layer student varied by 0.08 between seeds and two near-identical models differed by
    up to 0.11. With 10 starts one seed's figure still has a standard deviation of 0.005-0.010 (the default
    run's models, 20 seeds: ``bench/clustering_noise.py``), so the stage averages ``evaluate.clustering_seeds``
    of them (10: a standard error of 0.002-0.003; 3 left up to 0.006, over half a point of a kept share).
    """
    k = len(np.unique(labels))
    return float(
        np.mean(
            [
                v_measure_score(labels, KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings))
                for seed in seeds
            ]
        )
    )


def retrieval_pairs(pairs: Sequence[tuple[str, str, float]], min_score: float) -> tuple[dict, dict, dict]:
    """Queries, corpus and relevant documents from scored sentence pairs: every distinct sentence is a
    document; each sentence of a pair scored ``min_score`` or more is a query whose relevant documents
    are its partners. A query never retrieves itself (the evaluator skips a document with the query's id)."""
    ids: dict[str, str] = {}
    for first, second, _ in pairs:
        for text in (first, second):
            ids.setdefault(text, str(len(ids)))
    relevant: dict[str, set[str]] = {}
    for first, second, score in pairs:
        if score >= min_score and first != second:
            relevant.setdefault(ids[first], set()).add(ids[second])
            relevant.setdefault(ids[second], set()).add(ids[first])
    corpus = {i: text for text, i in ids.items()}
    queries = {i: corpus[i] for i in relevant}
    return queries, corpus, relevant


def retrieval_scores(
    pairs: Sequence[tuple[str, str, float]], embeddings: Mapping[str, np.ndarray], min_score: float, k: int = 10
) -> dict[str, float]:
    """nDCG@k and MRR@k (cosine, binary relevance) of finding a sentence's paraphrases among all sentences
    of the pairs, the query itself left out (as TREC, BEIR and MTEB do; sentence-transformers'
    ``InformationRetrievalEvaluator`` keeps it, and every query would find itself first)."""
    queries, corpus, relevant = retrieval_pairs(pairs, min_score)
    corpus_ids = list(corpus)
    vectors = np.stack([embeddings[corpus[i]] for i in corpus_ids]).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    position = {cid: n for n, cid in enumerate(corpus_ids)}
    rows = [position[q] for q in queries]
    scores = vectors[rows] @ vectors.T
    scores[np.arange(len(rows)), rows] = -np.inf  # a query never retrieves itself
    truth = np.zeros_like(scores)
    for n, q in enumerate(queries):
        truth[n, [position[d] for d in relevant[q]]] = 1
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(truth, top, axis=1)
    first = hits.argmax(axis=1)
    mrr = np.where(hits.any(axis=1), 1 / (first + 1), 0.0)
    scores[np.arange(len(rows)), rows] = -2.0  # below any cosine: ndcg_score needs finite scores
    return {f"ndcg_at_{k}": float(ndcg_score(truth, scores, k=k)), f"mrr_at_{k}": float(mrr.mean())}


def translation_scores(sources: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Translation retrieval of parallel pairs, as Tatoeba's: for each source, whether its own target is the
    nearest (cosine) of all targets, and the reverse (accuracy each way, and their mean); and the mean squared
    difference of a source's and its target's unit-length embeddings, x100: the language gap of the model."""
    sources = sources / np.linalg.norm(sources, axis=1, keepdims=True)
    targets = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    similarity = sources.astype(np.float64) @ targets.T.astype(np.float64)
    truth = np.arange(len(sources))
    forward = float(np.mean(similarity.argmax(axis=1) == truth))
    backward = float(np.mean(similarity.argmax(axis=0) == truth))
    return {
        "translation_accuracy_source_to_target": forward,
        "translation_accuracy_target_to_source": backward,
        "translation_accuracy": (forward + backward) / 2,
        "translation_mse_x100": float(((sources - targets) ** 2).mean() * 100),
    }


KEPT_SHARES = {  # each family's kept share (a VariantMetrics field): this figure of a model over the teacher's
    "stsb_test_kept": "stsb_test_spearman",
    "classification_kept": "classification_accuracy",
    "clustering_kept": "clustering_v_measure",
    "retrieval_kept": "retrieval_ndcg_at_10",
}


def single_threaded() -> threadpool_limits:
    """One thread for every OpenMP and BLAS pool in the process (torch's too), until the block ends."""
    return threadpool_limits(limits=1)


def family_scores(
    vectors: Mapping[str, np.ndarray],
    documents: Sequence[str],
    topics: Sequence[str],
    pairs: Sequence[tuple[str, str, float]],
    *,
    shots: Sequence[int],
    draws: int,
    clustering_seeds: int,
    retrieval_min_score: float,
    translations: Sequence[tuple[str, str]] = (),
    own_tasks: dict[str, OwnTaskScores] | None = None,
) -> FamilyScores:
    """Classification, clustering and retrieval figures of one variant from its vectors of the
    evaluation articles and the STSb test sentences (``vectors`` maps each text to its vector); with
    ``translations`` (held-out parallel pairs), translation retrieval too; ``own_tasks``, the figures of the
    user's own tasks (``OwnTasks.scores`` of the same vectors), are kept beside them."""
    labels = np.asarray(topics)
    articles = np.stack([vectors[text] for text in documents]).astype(np.float32)
    with single_threaded():
        by_shot = {
            shot: ShotScores(**few_shot_classification(articles, labels, per_class=shot, draws=draws, seed=shot))
            for shot in shots
        }
        clustering = clustering_v_measure(articles, labels, seeds=range(clustering_seeds))
        retrieval = retrieval_scores(pairs, vectors, retrieval_min_score)
        translation = {}
        if translations:
            sources, targets = zip(*translations, strict=True)
            translation = translation_scores(
                np.stack([vectors[t] for t in sources]), np.stack([vectors[t] for t in targets])
            )
    return FamilyScores(
        classification_shots=by_shot,
        classification_accuracy=float(np.mean([by_shot[shot].accuracy for shot in shots])),
        clustering_v_measure=clustering,
        retrieval_ndcg_at_10=retrieval["ndcg_at_10"],
        retrieval_mrr_at_10=retrieval["mrr_at_10"],
        **translation,
        own_tasks=own_tasks,
    )


def kept_shares(metrics: VariantMetrics, teacher: VariantMetrics) -> dict[str, Any]:
    """Each family's share of the teacher's figure, and their mean (what the report can rank on), as
    ``VariantMetrics`` fields; with own tasks, each one's headline figure's share too, and their mean."""
    kept: dict[str, Any] = {
        name: getattr(metrics, key) / getattr(teacher, key)
        for name, key in KEPT_SHARES.items()
        if getattr(metrics, key) is not None and getattr(teacher, key) is not None
    }
    if len(kept) == len(KEPT_SHARES):
        kept["families_kept_mean"] = float(np.mean(list(kept.values())))
    if metrics.own_tasks and teacher.own_tasks:
        kept["own_tasks"] = {name: own_kept(s, teacher.own_tasks[name]) for name, s in metrics.own_tasks.items()}
        shares = [s.kept for s in kept["own_tasks"].values()]
        kept["own_tasks_kept_mean"] = None if None in shares else float(np.mean(shares))
    return kept


def own_kept(scores: OwnTaskScores, teacher: OwnTaskScores) -> OwnTaskScores:
    """An own task's figures with the share of the teacher's headline figure they keep (None when the teacher's
    is 0)."""
    reference = teacher.figures[scores.headline]
    return replace(scores, kept=scores.figures[scores.headline] / reference if reference else None)
