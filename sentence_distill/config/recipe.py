"""The value types of a distillation recipe: ``distill.loss``, the terms a student's training loss sums over the
teacher's cached targets and their weights, the contrastive term's temperature, and ``distill.precision``.

The names only, and what a valid value is; the terms themselves are ``sentence_distill.students.losses``, the
precision's resolution ``sentence_distill.students.trainer.resolved_precision``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from sentence_distill.config.numbers import Float

LOSS_TERMS = ("mse", "cosine", "relational", "contrastive")
IN_BATCH_TERMS = ("relational", "contrastive")  # a sentence against the others of its batch: a batch needs two
DEFAULT_LOSS = {"mse": 1.0}  # sentence-transformers' MSELoss alone, as the reference trains


def _checked(weights: dict[str, float]) -> dict[str, float]:
    """Known terms, no negative weight, one above 0. Returned in ``LOSS_TERMS`` order without the zero weights: two
    spellings of one loss train alike and have one training cache key."""
    allowed = ", ".join(LOSS_TERMS)
    unknown = [term for term in weights if term not in LOSS_TERMS]
    if unknown:
        raise PydanticCustomError("loss_term", f"unknown term {unknown[0]!r} (allowed terms: {allowed})")
    negative = [term for term, weight in weights.items() if weight < 0]
    if negative:
        raise PydanticCustomError("loss_weight", f"{negative[0]} has a negative weight (allowed: 0 or more)")
    if not any(weights.values()):
        raise PydanticCustomError("loss_weight", f"every weight is 0 (allowed: some of {allowed} weighted above 0)")
    return {term: weights[term] for term in LOSS_TERMS if weights.get(term)}


LossWeights = Annotated[
    dict[str, Float],
    AfterValidator(_checked),
    Field(
        description="Terms over the teacher's cached targets and their weights, summed: mse (MSELoss), cosine "
        "(1 - the cosine of the student's embedding and its target), relational (MSE between the student's in-batch "
        "cosine matrix and the targets'), contrastive (InfoNCE: each embedding against every target of its batch, "
        "its own the positive)"
    ),
]
Temperature = Annotated[
    Float, Field(gt=0, description="The contrastive term's temperature: cosines are divided by it before the softmax")
]
TrainingPrecision = Annotated[
    Literal["fp32", "bf16", "auto"],
    Field(
        description="fp32, or bf16: the forward and backward passes under bfloat16 autocast (the weights, the "
        "optimizer and the saved model stay float32); faster where the CPU has AVX512-BF16 or AMX, or on a GPU "
        "with bfloat16, and likely slower where bfloat16 is emulated. auto: bf16 where it is native (a static "
        "student: fp32), else fp32 "
        "(the precision it resolves to is the one in the training cache key and the student's record)"
    ),
]
