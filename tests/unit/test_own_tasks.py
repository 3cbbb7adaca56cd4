"""Each kind of own task's scorer on hand-made vectors whose answer is known, the files of every format read the same
way, and each task's kept share of the teacher's headline figure."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentence_distill.config.schema import EvaluateParams, OwnTask
from sentence_distill.data.task_files import LabelledTexts, RetrievalSet, ScoredPairs, read_task
from sentence_distill.evaluation.own_tasks import (
    OwnTasks,
    classification_scores,
    clustering_scores,
    pair_classification_scores,
    retrieval_scores,
    sts_scores,
)
from sentence_distill.evaluation.task_families import kept_shares
from sentence_distill.records.evaluation import VariantMetrics


def angle(degrees: float) -> np.ndarray:
    """A unit vector in the plane: the cosine of two of them is the cosine of their angles' difference."""
    return np.array([math.cos(math.radians(degrees)), math.sin(math.radians(degrees))], dtype=np.float32)


def pairs_at(cosines: list[float]) -> dict[str, np.ndarray]:
    """Vectors of pairs ("x<i>", "y<i>") whose cosine similarity is ``cosines[i]``."""
    vectors = {}
    for i, cosine in enumerate(cosines):
        vectors[f"x{i}"], vectors[f"y{i}"] = angle(0), angle(math.degrees(math.acos(cosine)))
    return vectors


def pairs(values: list[float]) -> ScoredPairs:
    return ScoredPairs([f"x{i}" for i in range(len(values))], [f"y{i}" for i in range(len(values))], values)


def test_sts_is_the_spearman_correlation_of_cosine_with_the_scores() -> None:
    vectors = pairs_at([1.0, 0.0, -1.0])
    assert sts_scores(pairs([5.0, 2.5, 0.0]), vectors) == pytest.approx({"spearman": 1.0, "pearson": 1.0})
    assert sts_scores(pairs([0.0, 2.5, 5.0]), vectors)["spearman"] == pytest.approx(-1.0)
    # ranks of cosine 3 1 2 against scores 3 2 1: Spearman = 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5
    assert sts_scores(pairs([3.0, 2.0, 1.0]), pairs_at([0.9, 0.1, 0.5]))["spearman"] == pytest.approx(0.5)


def test_pair_classification_average_precision_and_best_threshold_f1() -> None:
    """Ranked by cosine: positive, negative, positive, negative. Average precision (1/1 + 2/3) / 2; the best F1
    takes the first three as positives (precision 2/3, recall 1: F1 0.8); the best accuracy is 3 of 4."""
    scores = pair_classification_scores(pairs([1, 1, 0, 0]), pairs_at([0.9, 0.1, 0.5, -0.5]))
    assert scores == pytest.approx({"average_precision": 5 / 6, "f1": 0.8, "accuracy": 0.75})
    perfect = pair_classification_scores(pairs([1, 1, 0, 0]), pairs_at([0.9, 0.8, 0.1, -0.5]))
    assert perfect == pytest.approx({"average_precision": 1.0, "f1": 1.0, "accuracy": 1.0})


def test_classification_full_and_few_shot() -> None:
    labels = ["a"] * 12 + ["b"] * 12 + ["c"] * 12
    rng = np.random.default_rng(0)
    vectors = {
        f"t{i}": np.eye(3)[ord(label) - ord("a")] + rng.normal(scale=0.01, size=3) for i, label in enumerate(labels)
    }
    texts = LabelledTexts(list(vectors), labels)
    assert classification_scores(texts, vectors, shots=[2, 4], draws=3) == {
        "accuracy": 1.0,
        "macro_f1": 1.0,
        "accuracy_2shot": 1.0,
        "macro_f1_2shot": 1.0,
        "accuracy_4shot": 1.0,
        "macro_f1_4shot": 1.0,
    }


def test_classification_without_information_predicts_the_larger_class() -> None:
    """Every text the same vector: each fold's classifier says 'a' (15 of 20); F1 of 'a' 2 * 0.75 / 1.75, of 'b' 0."""
    vectors = {f"t{i}": np.ones(3, dtype=np.float32) for i in range(20)}
    scores = classification_scores(LabelledTexts(list(vectors), ["a"] * 15 + ["b"] * 5), vectors, shots=[], draws=1)
    assert scores == pytest.approx({"accuracy": 0.75, "macro_f1": (1.5 / 1.75) / 2})


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_clustering_v_measure() -> None:
    labels = ["a"] * 10 + ["b"] * 10
    separated = {f"t{i}": angle(0 if label == "a" else 90) + i * 1e-3 for i, label in enumerate(labels)}
    assert clustering_scores(LabelledTexts(list(separated), labels), separated, seeds=2) == {"v_measure": 1.0}
    same = {f"t{i}": angle(0) for i in range(20)}  # one point: k-means finds one cluster, which says nothing
    assert clustering_scores(LabelledTexts(list(same), labels), same, seeds=2) == {"v_measure": 0.0}


def test_retrieval_ndcg_mrr_and_recall_at_known_ranks() -> None:
    """q1 finds its one document first. q2's documents d2 and d3 rank 1st and 3rd (d4 between): its nDCG@10 is
    (1 + 1/log2(4)) / (1 + 1/log2(3)); MRR@10 1 for both; Recall@100 1 for both."""
    vectors = {"q1": angle(180), "q2": angle(0), "d1": angle(179), "d2": angle(10), "d4": angle(20), "d3": angle(30)}
    task = RetrievalSet(
        {"q1": "q1", "q2": "q2"}, {d: d for d in ("d1", "d2", "d3", "d4")}, {"q1": {"d1"}, "q2": {"d2", "d3"}}
    )
    q2 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert retrieval_scores(task, vectors) == pytest.approx(
        {"ndcg_at_10": (1 + q2) / 2, "mrr_at_10": 1.0, "recall_at_100": 1.0}
    )


def test_retrieval_beyond_the_cut_offs() -> None:
    """The one relevant document ranked 11th of 120: nothing within 10 (nDCG@10 and MRR@10 0), found within 100."""
    vectors = {"q": angle(0), **{f"d{n}": angle(n) for n in range(120)}}
    task = RetrievalSet({"q": "q"}, {f"d{n}": f"d{n}" for n in range(120)}, {"q": {"d10"}})
    assert retrieval_scores(task, vectors) == {"ndcg_at_10": 0.0, "mrr_at_10": 0.0, "recall_at_100": 1.0}
    task = replace(task, relevant={"q": {"d110"}})
    assert retrieval_scores(task, vectors)["recall_at_100"] == 0.0


ROWS = [
    {"sentence1": "A man plays a guitar.", "sentence2": "A man is playing guitar.", "score": 4.8},
    {"sentence1": "A cat sleeps.", "sentence2": "The stock market fell.", "score": 0.2},
    {"sentence1": "Two dogs run.", "sentence2": "Dogs are running.", "score": 3.9},
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    if path.suffix in (".tsv", ".csv"):
        separator = "\t" if path.suffix == ".tsv" else ","
        lines = [separator.join(columns), *(separator.join(str(row[c]) for c in columns) for row in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl", ".parquet"])
def test_every_format_reads_the_same_pairs(tmp_path: Path, suffix: str) -> None:
    file = write_rows(tmp_path / f"pairs{suffix}", ROWS)
    task = OwnTask(name="p", kind="sts", data=str(file), score_range=(0, 5))
    assert read_task(task, shots=[8]) == ScoredPairs(
        [r["sentence1"] for r in ROWS], [r["sentence2"] for r in ROWS], [r["score"] for r in ROWS]
    )


def test_columns_named_in_params(tmp_path: Path) -> None:
    rows = [{"question": r["sentence1"], "answer": r["sentence2"], "same": int(r["score"] > 2)} for r in ROWS]
    file = write_rows(tmp_path / "pairs.csv", rows)
    task = OwnTask(
        name="p",
        kind="pair_classification",
        data=str(file),
        sentence1_column="question",
        sentence2_column="answer",
        label_column="same",
    )
    assert read_task(task, shots=[8]).values == [1.0, 0.0, 1.0]


def test_tasks_are_scored_together_and_keep_a_share_of_the_teachers_headline(tmp_path: Path) -> None:
    """Every text once in ``texts``; the variant's kept share is its headline over the teacher's, own is their mean."""
    sts = write_rows(tmp_path / "sts.tsv", ROWS)
    folder = tmp_path / "beir"
    write_rows(
        folder / "corpus.jsonl",
        [{"_id": "d1", "title": "Guitars", "text": "A man plays."}, {"_id": "d2", "text": "Cats."}],
    )
    write_rows(folder / "queries.jsonl", [{"_id": "q1", "text": "A man plays a guitar."}])
    (folder / "qrels" / "test.tsv").parent.mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    params = EvaluateParams(
        tasks=[
            OwnTask(name="pairs", kind="sts", data=str(sts), score_range=(0, 5)),
            OwnTask(name="search", kind="retrieval", data=str(folder)),
        ]
    )
    own = OwnTasks.read(params)
    texts = own.texts()
    assert sorted(texts) == sorted(
        {*[r["sentence1"] for r in ROWS], *[r["sentence2"] for r in ROWS], "Guitars A man plays.", "Cats."}
    )
    teacher_vectors = {t: angle(10 * n) for n, t in enumerate(texts)}
    teacher = VariantMetrics(
        dimension=2, bytes_per_embedding=8, stsb_test_spearman=0.8, own_tasks=own.scores(teacher_vectors, params)
    )
    assert teacher.own_tasks["search"].figures == {"ndcg_at_10": 1.0, "mrr_at_10": 1.0, "recall_at_100": 1.0}
    student_vectors = {**teacher_vectors, "Cats.": teacher_vectors["A man plays a guitar."]}  # d2 now first for q1
    student = VariantMetrics(
        dimension=2, bytes_per_embedding=8, stsb_test_spearman=0.7, own_tasks=own.scores(student_vectors, params)
    )
    kept = kept_shares(student, teacher)
    assert kept["own_tasks"]["search"].kept == pytest.approx(1 / math.log2(3))  # d1 second: nDCG 1/log2(3)
    pairs_kept = student.own_tasks["pairs"].figures["spearman"] / teacher.own_tasks["pairs"].figures["spearman"]
    assert kept["own_tasks"]["pairs"].kept == pytest.approx(pairs_kept)
    assert kept["own_tasks_kept_mean"] == pytest.approx((1 / math.log2(3) + pairs_kept) / 2)
    written = replace(student, **kept)
    assert VariantMetrics.from_dict(json.loads(json.dumps(written.to_dict()))) == written
    assert OwnTasks.read(EvaluateParams()).scores(teacher_vectors, EvaluateParams()) is None
