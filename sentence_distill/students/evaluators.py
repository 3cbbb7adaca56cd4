"""What the trainer evaluates at each evaluation step: MSE to the teacher's cached targets, and a wrapper that
runs the evaluation once under DDP."""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
from sentence_transformers.sentence_transformer.evaluation import MSEEvaluator, SequentialEvaluator


class CachedMSEEvaluator(MSEEvaluator):
    """``MSEEvaluator`` whose teacher side comes from the embedding cache instead of encoding again."""

    def __init__(self, sentences: list[str], teacher_embeddings: np.ndarray, **kwargs) -> None:
        self._teacher_embeddings = teacher_embeddings
        super().__init__(source_sentences=sentences, target_sentences=sentences, teacher_model=None, **kwargs)

    def embed_inputs(self, model, sentences, **kwargs):
        if model is None:
            return self._teacher_embeddings
        return super().embed_inputs(model, sentences, **kwargs)


class RankZeroEvaluator(SequentialEvaluator):
    """``SequentialEvaluator`` that, under DDP, runs on the first process only and gives its scores to the others.

    Every process then logs the same figures and picks the same best checkpoint, the evaluators' CSV
    files have one writer, and the evaluation runs once, with the threads of all the processes (the
    others wait in the broadcast), not once per process. Outside DDP it is a ``SequentialEvaluator``.
    """

    def __init__(self, evaluators: list) -> None:
        super().__init__(evaluators)
        self.primary_metric = "sequential_score"

    def __call__(self, model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]:
        if not dist.is_initialized():
            return super().__call__(model, output_path, epoch, steps)
        scores: list[dict | None] = [None]
        if dist.get_rank() == 0:
            threads = torch.get_num_threads()
            torch.set_num_threads(threads * dist.get_world_size())
            try:
                scores = [super().__call__(model, output_path, epoch, steps)]
            finally:
                torch.set_num_threads(threads)
        dist.broadcast_object_list(scores, src=0)
        return scores[0]
