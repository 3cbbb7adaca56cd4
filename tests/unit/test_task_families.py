"""Each task family's scorer on small cases whose answer is known: perfect vectors score 1, random
vectors score chance, a paraphrase ranked second has a reciprocal rank of 1/2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentence_distill.evaluation.task_families import (
    clustering_v_measure,
    few_shot_classification,
    retrieval_pairs,
    retrieval_scores,
)


def labelled(classes: int, per_class: int) -> np.ndarray:
    return np.repeat(np.arange(classes), per_class)


def test_perfect_vectors_classify_and_cluster_perfectly() -> None:
    labels = labelled(5, 40)
    rng = np.random.default_rng(0)
    perfect = np.eye(5)[labels] + rng.normal(scale=0.01, size=(len(labels), 5))
    scores = few_shot_classification(perfect, labels, per_class=8, draws=3, seed=0)
    assert scores == {"accuracy": 1.0, "macro_f1": 1.0}
    assert clustering_v_measure(perfect, labels, seeds=[0, 1, 2]) == pytest.approx(1.0)


def test_random_vectors_score_chance() -> None:
    labels = labelled(5, 200)
    noise = np.random.default_rng(1).normal(size=(len(labels), 32))
    scores = few_shot_classification(noise, labels, per_class=8, draws=5, seed=0)
    assert abs(scores["accuracy"] - 0.2) < 0.04 and scores["macro_f1"] < 0.25
    assert clustering_v_measure(noise, labels, seeds=[0, 1]) < 0.02


def test_a_draw_trains_on_per_class_examples_and_tests_on_the_rest() -> None:
    """Seeded: the same seed gives the same figures, another seed other draws."""
    labels = labelled(3, 30)
    vectors = np.random.default_rng(2).normal(size=(len(labels), 8)) + np.eye(8)[labels] * 1.5
    once = few_shot_classification(vectors, labels, per_class=4, draws=4, seed=7)
    assert once == few_shot_classification(vectors, labels, per_class=4, draws=4, seed=7)
    assert once != few_shot_classification(vectors, labels, per_class=4, draws=4, seed=8)
    with pytest.raises(ValueError):  # more examples asked than a label has
        few_shot_classification(vectors, labels, per_class=31, draws=1, seed=0)


def test_retrieval_with_a_known_rank() -> None:
    """One pair scored 5: from "a", its paraphrase "b" ranks second behind "c" (1/2); from "b", "a"
    ranks first (1). The pair scored 1 makes no query. MRR@10 = 0.75; nDCG@10 = (1/log2(3) + 1) / 2."""
    pairs = [("a", "b", 5.0), ("c", "d", 1.0)]
    vectors = {
        "a": np.array([1.0, 0.0, 0.0]),
        "c": np.array([0.95, 0.3, 0.0]),
        "b": np.array([0.6, 0.0, 0.8]),
        "d": np.array([0.0, -1.0, 0.0]),
    }
    queries, corpus, relevant = retrieval_pairs(pairs, min_score=4.0)
    assert sorted(queries.values()) == ["a", "b"] and sorted(corpus.values()) == ["a", "b", "c", "d"]
    scores = retrieval_scores(pairs, vectors, min_score=4.0)
    assert scores["mrr_at_10"] == pytest.approx(0.75)
    assert scores["ndcg_at_10"] == pytest.approx((1 / math.log2(3) + 1) / 2)
