"""The prepared data as the stages read it: corpus sentences by split, parallel pairs, STSb pairs and their
evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import pyarrow.parquet as pq

from sentence_distill.paths import DOCUMENTS_FILE, PARALLEL_FILE, PREPARED_DIR

if TYPE_CHECKING:  # imported where an evaluator is made: a stage that only reads sentences loads no torch
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator


def corpus_sentences(split: str | None = None, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    path = Path(prepared_dir) / "corpus.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run the prepare stage first (python -m tasks.prepare)")
    columns = ["sentence"] if split is None else ["sentence", "split"]
    names = pq.read_schema(path).names
    absent = [name for name in columns if name not in names]
    if absent:
        raise ValueError(
            f"{path} has no column {', '.join(absent)} (columns: {', '.join(names)}); rerun the prepare stage"
        )
    table = pq.read_table(path, columns=columns)
    if split is not None:
        table = table.filter(pc.equal(table["split"], split))
    return table["sentence"].to_pylist()


def parallel_pairs(split: str | None = None, prepared_dir: Path = PREPARED_DIR) -> tuple[list[str], list[str]]:
    """Sources and targets of the prepared parallel pairs of ``split`` (train, dev or heldout; None: all), or two
    empty lists without ``prepare.parallel``."""
    path = Path(prepared_dir) / PARALLEL_FILE
    if not path.is_file():
        return [], []
    table = pq.read_table(path)
    if split is not None:
        table = table.filter(pc.equal(table["split"], split))
    return table["source"].to_pylist(), table["target"].to_pylist()


def stsb_pairs(split: str, prepared_dir: Path = PREPARED_DIR) -> dict[str, list]:
    """``sentence1``, ``sentence2`` and ``score`` of the prepared STSb ``split`` (train, dev or test)."""
    return pq.read_table(Path(prepared_dir) / f"stsb_{split}.parquet").to_pydict()


def evaluation_documents(path: Path = DOCUMENTS_FILE) -> tuple[list[str], list[str]]:
    """Texts and topic labels of the articles the classification and clustering families score."""
    table = pq.read_table(path)
    return table["text"].to_pylist(), table["label"].to_pylist()


def stsb_evaluator(
    split: str, batch_size: int = 32, evaluator: type | None = None, **kwargs
) -> EmbeddingSimilarityEvaluator:
    if evaluator is None:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator as evaluator
    pairs = stsb_pairs(split)
    return evaluator(
        pairs["sentence1"], pairs["sentence2"], pairs["score"], name=f"sts-{split}", batch_size=batch_size, **kwargs
    )
