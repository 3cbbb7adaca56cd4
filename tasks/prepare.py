"""Prepare data: STS benchmark splits and the unlabeled distillation corpus, as Parquet.

Reads ``params.prepare``. Writes ``data/prepared/`` (``corpus.parquet`` with a ``split`` column of
train/heldout, ``stsb_{train,dev,test}.parquet``) and ``metrics/prepare.json`` with the counts of
sentences read, dropped and truncated.
"""

from __future__ import annotations

import csv
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa

from tasks import assets
from tasks.cli import configure_logging
from tasks.fileio import atomic_dir, write_json, write_parquet
from tasks.params import PrepareParams, load_or_exit
from tasks.paths import PREPARED_DIR

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


def _documents_from_folder(folder: Path) -> list[str]:
    files = sorted(str(p) for p in folder.rglob("*.txt"))
    if not files:
        raise ValueError(f"prepare.corpus: folder {folder} has no .txt files")
    docs = datasets.load_dataset("text", data_files=files, sample_by="document", encoding_errors="replace")
    return list(docs["train"]["text"])


def load_corpus(ref: str, column: str) -> tuple[list[str], int]:
    """Raw sentences of the corpus and the number of lines skipped for invalid UTF-8."""
    path = Path(ref).expanduser()
    if ref == assets.BBC_NEWS:
        path = assets.bbc_news_folder()
    if path.is_dir():
        return [s for doc in _documents_from_folder(path) for s in split_sentences(doc)], 0
    if path.suffix == ".txt":
        lines = datasets.load_dataset("text", data_files=str(path), encoding_errors="replace")["train"]["text"]
        lines = list(lines)
        valid = [line for line in lines if "\ufffd" not in line]
        return valid, len(lines) - len(valid)
    if path.suffix in {".csv", ".parquet"}:
        table = datasets.load_dataset(path.suffix[1:], data_files=str(path))["train"]
    else:
        table = datasets.load_dataset(ref, split="train")
    if column not in table.column_names:
        raise ValueError(
            f"prepare.corpus_column: column {column!r} not in {ref} (columns: {', '.join(table.column_names)})"
        )
    return [text or "" for text in table[column]], 0


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


def prepare(params: PrepareParams, out_dir: Path = PREPARED_DIR, metrics_file: Path = METRICS_FILE) -> dict:
    stsb = load_stsb(params.stsb)
    corpus, invalid_utf8 = load_corpus(params.corpus, params.corpus_column)
    stsb_train = list(stsb["train"]["sentence1"]) + list(stsb["train"]["sentence2"]) if params.include_stsb_train else []
    if params.include_stsb_train == "all":  # in-domain sentences first: every one is kept before the corpus's
        corpus = stsb_train + corpus
    else:
        corpus += stsb_train
    sentences, counts = clean_sentences(corpus, params.min_chars, params.max_chars)
    counts["invalid_utf8_skipped"] = invalid_utf8
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
    with atomic_dir(out_dir) as tmp:
        write_parquet(tmp / "corpus.parquet", pa.table({"sentence": chosen, "split": split}))
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
    prepare(params.prepare)
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
