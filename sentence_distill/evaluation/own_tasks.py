"""The user's own evaluation tasks (``evaluate.tasks``), scored on a variant's embeddings computed beforehand.

Every text a task needs (``OwnTasks.texts``) is embedded once per variant with the evaluation sentences, so a
retrieval corpus is embedded once per model body, and ``OwnTasks.scores`` reads each text's vector from the same
lookup every family reads. sentence-transformers' evaluators score sts (``EmbeddingSimilarityEvaluator``),
pair_classification (``BinaryClassificationEvaluator``) and retrieval (``InformationRetrievalEvaluator``), fed
the vectors instead of a model; scikit-learn the logistic regressions and k-means, as ``task_families.py`` does for
the BBC articles. Each kind has a headline figure, the one its kept share (of the teacher's) is of.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sentence_transformers.sentence_transformer.evaluation import (
    BinaryClassificationEvaluator,
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
)
from sentence_transformers.util import cos_sim
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from sentence_distill.config.schema import EvaluateParams, OwnTask
from sentence_distill.data.task_files import (
    CLASSIFICATION_FOLDS,
    LabelledTexts,
    RetrievalSet,
    ScoredPairs,
    TaskData,
    read_task,
    task_texts,
)
from sentence_distill.evaluation.task_families import clustering_v_measure, few_shot_classification, single_threaded
from sentence_distill.records.evaluation import OwnTaskScores

HEADLINES = {  # each kind's headline figure: what its kept share is of, and what select.rank_on: <task> ranks on
    "sts": "spearman",
    "pair_classification": "average_precision",
    "classification": "accuracy",
    "clustering": "v_measure",
    "retrieval": "ndcg_at_10",
}


class Precomputed:
    """An evaluator that reads each text's vector from ``vectors`` instead of encoding it with a model, and keeps
    its figures out of any model card (it is called without a model)."""

    vectors: Mapping[str, np.ndarray]

    def embed_inputs(self, model, sentences, **kwargs) -> np.ndarray:
        return np.stack([self.vectors[s] for s in sentences]).astype(np.float32)

    def store_metrics_in_model_card_data(self, *args, **kwargs) -> None:
        pass


class PrecomputedSimilarity(Precomputed, EmbeddingSimilarityEvaluator):
    pass


class PrecomputedBinary(Precomputed, BinaryClassificationEvaluator):
    pass


class PrecomputedRetrieval(Precomputed, InformationRetrievalEvaluator):
    pass


def _evaluated(evaluator: Precomputed, vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    evaluator.vectors = vectors
    with warnings.catch_warnings():  # the pair evaluator stacks its vectors from a list: slow for large sets only
        warnings.filterwarnings("ignore", message="Creating a tensor from a list of numpy.ndarrays")
        return {key: float(value) for key, value in evaluator(None).items()}


def sts_scores(pairs: ScoredPairs, vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Spearman (the headline) and Pearson correlation of the pairs' cosine similarities with their scores."""
    evaluator = PrecomputedSimilarity(
        pairs.first, pairs.second, pairs.values, similarity_fn_names=["cosine"], write_csv=False
    )
    figures = _evaluated(evaluator, vectors)
    return {"spearman": figures["spearman_cosine"], "pearson": figures["pearson_cosine"]}


def pair_classification_scores(pairs: ScoredPairs, vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Average precision of the pairs ranked by cosine similarity (the headline; no threshold to choose), and the
    F1 and accuracy at their best thresholds, as MTEB's pair classification."""
    labels = [int(v) for v in pairs.values]
    evaluator = PrecomputedBinary(pairs.first, pairs.second, labels, similarity_fn_names=["cosine"], write_csv=False)
    figures = _evaluated(evaluator, vectors)
    return {
        "average_precision": figures["cosine_ap"],
        "f1": figures["cosine_f1"],
        "accuracy": figures["cosine_accuracy"],
    }


def cross_validated_classification(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of a logistic regression trained on all the labelled texts but a held-out fold,
    every text predicted once over ``CLASSIFICATION_FOLDS`` stratified folds (seeded)."""
    labels = np.asarray(labels)
    predicted = np.empty_like(labels)
    folds = StratifiedKFold(n_splits=CLASSIFICATION_FOLDS, shuffle=True, random_state=0)
    for train, test in folds.split(embeddings, labels):
        classifier = LogisticRegression(max_iter=1000).fit(embeddings[train], labels[train])
        predicted[test] = classifier.predict(embeddings[test])
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, average="macro")),
    }


def classification_scores(
    texts: LabelledTexts, vectors: Mapping[str, np.ndarray], shots: Sequence[int], draws: int
) -> dict[str, float]:
    """The full classifier's accuracy (the headline) and macro-F1, and each few-shot setting's
    (``evaluate.classification_shots`` texts a class, ``classification_draws`` seeded draws averaged)."""
    embeddings = np.stack([vectors[t] for t in texts.texts]).astype(np.float32)
    labels = np.asarray(texts.labels)
    figures = cross_validated_classification(embeddings, labels)
    for shot in shots:
        few = few_shot_classification(embeddings, labels, per_class=shot, draws=draws, seed=shot)
        figures |= {f"accuracy_{shot}shot": few["accuracy"], f"macro_f1_{shot}shot": few["macro_f1"]}
    return figures


def clustering_scores(texts: LabelledTexts, vectors: Mapping[str, np.ndarray], seeds: int) -> dict[str, float]:
    """V-measure of k-means (k: the number of labels) against the labels, averaged over ``seeds`` seeds."""
    embeddings = np.stack([vectors[t] for t in texts.texts]).astype(np.float32)
    return {"v_measure": clustering_v_measure(embeddings, np.asarray(texts.labels), seeds=range(seeds))}


def retrieval_scores(task: RetrievalSet, vectors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """nDCG@10 (the headline), MRR@10 and Recall@100 of the corpus ranked by cosine similarity to each query with
    a relevant document; relevance is binary. A document whose id is a query's is not skipped."""
    evaluator = PrecomputedRetrieval(
        task.queries,
        task.corpus,
        task.relevant,
        mrr_at_k=[10],
        ndcg_at_k=[10],
        accuracy_at_k=[1],
        precision_recall_at_k=[100],
        map_at_k=[100],
        score_functions={"cosine": cos_sim},
        write_csv=False,
    )
    figures = _evaluated(evaluator, vectors)
    return {
        "ndcg_at_10": figures["cosine_ndcg@10"],
        "mrr_at_10": figures["cosine_mrr@10"],
        "recall_at_100": figures["cosine_recall@100"],
    }


def task_scores(task: OwnTask, data: TaskData, vectors: Mapping[str, np.ndarray], params: EvaluateParams) -> dict:
    """The figures of one task of any kind."""
    if task.kind == "sts":
        return sts_scores(data, vectors)
    if task.kind == "pair_classification":
        return pair_classification_scores(data, vectors)
    if task.kind == "classification":
        return classification_scores(data, vectors, params.classification_shots, params.classification_draws)
    if task.kind == "clustering":
        return clustering_scores(data, vectors, params.clustering_seeds)
    return retrieval_scores(data, vectors)


@dataclass(frozen=True)
class OwnTasks:
    """Every own task and its data, read (and checked) once per evaluation stage."""

    tasks: tuple[tuple[OwnTask, TaskData], ...]

    @classmethod
    def read(cls, params: EvaluateParams) -> OwnTasks:
        """``TaskFileError`` (one line: the task, the file, the problem) when a file changed into a bad one after
        the validate stage checked it."""
        return cls(tuple((task, read_task(task, params.classification_shots)) for task in params.tasks))

    def texts(self) -> list[str]:
        """Every text the tasks need embedded, each once: what the shared body adds to the evaluation sentences."""
        return list(dict.fromkeys(text for _, data in self.tasks for text in task_texts(data)))

    def scores(self, vectors: Mapping[str, np.ndarray], params: EvaluateParams) -> dict[str, OwnTaskScores] | None:
        """Each task's figures from ``vectors`` (text -> the variant's vector); None without tasks (the metrics
        files then have no key for them)."""
        if not self.tasks:
            return None
        with single_threaded():  # as the families are scored (task_families.py)
            return {
                task.name: OwnTaskScores(
                    kind=task.kind, headline=HEADLINES[task.kind], figures=task_scores(task, data, vectors, params)
                )
                for task, data in self.tasks
            }
