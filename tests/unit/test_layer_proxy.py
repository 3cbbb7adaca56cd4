"""``bench/layer_proxy.py``: candidate layer sets ranked untrained, on a tiny case whose best set is known."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.distance import cosine

from bench.layer_proxy import candidate_sets, rank_layer_sets
from sentence_distill.config.schema import StudentSpec
from sentence_distill.students.build import build_student

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = [
    "A man is playing a guitar on stage.",
    "The central bank raised interest rates again.",
    "Two dogs run across a snowy field.",
    "The film won three awards at the festival.",
    "A woman is slicing tomatoes in the kitchen.",
    "Shares in the carmaker fell sharply on Monday.",
    "Children are playing football in the park.",
    "The minister resigned after the vote.",
]


def test_candidates_are_the_named_strategies_then_the_others() -> None:
    sets = candidate_sets(3, 6, limit=40)
    assert sets[:3] == [([0, 2, 5], "spread"), ([0, 1, 2], "first"), ([3, 4, 5], "last")]
    assert len(sets) == 20 and len({tuple(keep) for keep, _ in sets}) == 20  # every set of 3 of 6, once
    assert [keep for keep, _ in candidate_sets(2, 6, limit=40)[:3]] == [[0, 5], [0, 1], [4, 5]]
    assert candidate_sets(1, 6, limit=40)[0] == ([0], "spread/first")  # one set, two names
    few = candidate_sets(3, 6, limit=6)
    assert len(few) == 6 and few[:3] == sets[:3] and few == candidate_sets(3, 6, limit=6)  # seeded


def test_the_layer_set_that_made_the_targets_ranks_first() -> None:
    """Targets from the teacher cut to [1, 4]: that set is at MSE 0 and, with STSb scores that are its own
    cosines, Spearman 1; the others rank below it by either figure."""
    known, _ = build_student(StudentSpec(layers=[1, 4]), MINILM, "")
    targets = known.encode(SENTENCES, convert_to_numpy=True)
    pairs = list(itertools.combinations(SENTENCES, 2))
    stsb = {
        "sentence1": [a for a, _ in pairs],
        "sentence2": [b for _, b in pairs],
        "score": [1 - cosine(*known.encode([a, b])) for a, b in pairs],
    }
    sets = [([0, 5], "spread"), ([0, 1], "first"), ([1, 4], ""), ([4, 5], "last")]
    by_mse = rank_layer_sets(MINILM, sets, SENTENCES, targets, stsb, by="mse")
    assert by_mse[0]["layers"] == [1, 4] and by_mse[0]["heldout_mse_x100"] < 1e-6
    assert all(row["heldout_mse_x100"] > 0.01 for row in by_mse[1:])
    by_stsb = rank_layer_sets(MINILM, sets, SENTENCES, targets, stsb, by="stsb")
    assert by_stsb[0]["layers"] == [1, 4] and np.isclose(by_stsb[0]["stsb_dev_spearman"], 1.0)
