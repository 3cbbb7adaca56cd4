"""The published figures of sentence-transformers' distillation example, which the report sets beside ours.

Copied by hand from the example's README, ``examples/training/distillation/README.md`` of
UKPLab/sentence-transformers (``URL``; the same figures are now in
``examples/sentence_transformer/training/distillation/README.md`` of huggingface/sentence-transformers):
the teacher roberta-base-nli-stsb-mean-tokens (12 layers, 768-d), students keeping some of its
layers, and PCA of the teacher's embeddings. STSb test Spearman x100; speed in sentences per second
on a V100 GPU. Nothing here is measured by this project.
"""

from __future__ import annotations

from typing import NamedTuple

URL = "https://github.com/UKPLab/sentence-transformers/blob/master/examples/training/distillation/README.md"
TEACHER_MODEL = "roberta-base-nli-stsb-mean-tokens"
TEACHER_LAYERS = 12
TEACHER_DIMENSION = 768
SPEED_DEVICE = "V100 GPU"
CLAIM = (
    "Option 2) works usually better, as we keep most of the weights from the teacher."  # option 1: a light transformer
)


class LayerFigures(NamedTuple):
    stsb: float  # STSb test Spearman x100
    sentences_per_second: int  # on a V100 GPU


LAYERS = {  # layers kept -> figures; 12 is the teacher
    12: LayerFigures(85.44, 2300),
    8: LayerFigures(85.54, 3200),
    6: LayerFigures(85.23, 4000),
    4: LayerFigures(84.92, 5300),
    3: LayerFigures(84.39, 6500),
    2: LayerFigures(83.32, 7700),
    1: LayerFigures(80.86, 9200),
}
PCA_STSB = {128: 84.96, 32: 81.82}  # PCA of the 12-layer teacher's embeddings, 768 -> dimension: STSb test x100


def kept(stsb: float) -> float:
    """A reference STSb figure as a share of the reference teacher's (85.44)."""
    return stsb / LAYERS[TEACHER_LAYERS].stsb


def speedup(layers: int) -> float:
    """The reference student's sentences/s over its teacher's 2300, both on the V100 GPU."""
    return LAYERS[layers].sentences_per_second / LAYERS[TEACHER_LAYERS].sentences_per_second
