"""What every variant of a stage is scored on, read once per stage: the STSb test pairs, the evaluation articles,
the held-out parallel pairs, the held-out corpus slice, the calibration and check sentences, and the user's own
tasks (``evaluate.tasks``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from sentence_distill.config.schema import EvaluateParams
from sentence_distill.data.corpus import corpus_sentences, evaluation_documents, parallel_pairs, stsb_pairs
from sentence_distill.evaluation.own_tasks import OwnTasks
from sentence_distill.evaluation.scoring import PrecomputedSimilarityEvaluator
from sentence_distill.evaluation.task_families import family_scores
from sentence_distill.paths import DOCUMENTS_FILE, PREPARED_DIR
from sentence_distill.records.evaluation import FamilyScores


@dataclass(frozen=True)
class EvaluationInputs:
    """The texts (and their scores and labels) of one evaluation stage, read from the prepared data once."""

    stsb_first: list[str]
    stsb_second: list[str]
    stsb_scores: list[float]
    documents: list[str]
    topics: list[str]
    translation_sources: list[str]
    translation_targets: list[str]
    heldout: list[str]
    calibration: list[str]
    check: list[str]
    own_tasks: OwnTasks

    @classmethod
    def read(
        cls, params: EvaluateParams, prepared_dir: Path = PREPARED_DIR, documents_file: Path = DOCUMENTS_FILE
    ) -> EvaluationInputs:
        """``calibration``: the first ``calibration_sentences`` training sentences (distinct: prepare drops
        repeats), never the test set; ``check``: the first ``check_sentences`` distinct STSb test sentences.
        ``TaskFileError`` when an own task's file is bad (changed since the validate stage checked it)."""
        pairs = stsb_pairs("test", prepared_dir)
        documents, topics = evaluation_documents(documents_file)
        sources, targets = parallel_pairs("heldout", prepared_dir)
        return cls(
            stsb_first=pairs["sentence1"],
            stsb_second=pairs["sentence2"],
            stsb_scores=pairs["score"],
            documents=documents,
            topics=topics,
            translation_sources=sources,
            translation_targets=targets,
            heldout=corpus_sentences("heldout", prepared_dir),
            calibration=corpus_sentences("train", prepared_dir)[: params.calibration_sentences],
            check=list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"]))[: params.check_sentences],
            own_tasks=OwnTasks.read(params),
        )

    def sentences(self, with_heldout: bool) -> list[str]:
        """Every text a variant is scored on: STSb test, the evaluation articles, the held-out parallel pairs
        (both sides), and the held-out corpus slice for MSE. Each is embedded once and shared by every family
        that reads it. Not STSb dev: it picks each student's best step (its score is in ``metrics/students``),
        so a variant's dev figure says less than its test one. Not the own tasks' texts: they are a list of
        their own (``own_texts``), so that adding a task changes no batch of these, nor any figure of them."""
        return (
            self.stsb_first
            + self.stsb_second
            + self.documents
            + self.translation_sources
            + self.translation_targets
            + (self.heldout if with_heldout else [])
        )

    def own_texts(self) -> list[str]:
        """Every text the own tasks need, each once (none without tasks): each body encodes them as a list of
        their own, beside ``sentences``."""
        return self.own_tasks.texts()

    def stsb_test_spearman(
        self,
        model: SentenceTransformer,
        embeddings: Mapping[str, np.ndarray],
        batch_size: int,
        evaluator: type = PrecomputedSimilarityEvaluator,
        **kwargs,
    ) -> float:
        """STSb test Spearman (cosine) of ``embeddings``; ``model`` only names the similarity function."""
        scored = evaluator(
            self.stsb_first,
            self.stsb_second,
            self.stsb_scores,
            name="sts-test",
            batch_size=batch_size,
            embeddings=embeddings,
            **kwargs,
        )
        return scored(model)["sts-test_spearman_cosine"]

    def families(self, vectors: Mapping[str, np.ndarray], params: EvaluateParams) -> FamilyScores:
        """Classification and clustering of the evaluation articles, retrieval of STSb test paraphrases,
        translation retrieval of the held-out parallel pairs when there are any, and the own tasks (``vectors``
        holds their texts' too)."""
        return family_scores(
            vectors,
            self.documents,
            self.topics,
            list(zip(self.stsb_first, self.stsb_second, self.stsb_scores, strict=True)),
            shots=params.classification_shots,
            draws=params.classification_draws,
            clustering_seeds=params.clustering_seeds,
            retrieval_min_score=params.retrieval_min_score,
            translations=list(zip(self.translation_sources, self.translation_targets, strict=True)),
            own_tasks=self.own_tasks.scores(vectors, params),
        )
