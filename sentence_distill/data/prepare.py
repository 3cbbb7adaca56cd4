"""The prepared data: the distillation corpus cleaned, sampled and split, the STSb splits, the evaluation
articles and, with ``prepare.parallel``, the parallel pairs, written as Parquet for the stages after prepare.

``prepare_data`` writes ``data/prepared/`` (``corpus.parquet`` with a ``split`` column of train/heldout,
``stsb_{train,dev,test}.parquet``, and with ``prepare.parallel`` ``parallel.parquet``: source, target, lang and split
of the parallel pairs) and ``data/documents.parquet`` (the labelled BBC articles of the classification and clustering
families: only the evaluate stages read it, so a change to them retrains nothing). The evaluation articles are never
distilled on: with the ``bbc-news`` corpus, their sentences are left out of it. Every sample is seeded by
``prepare.seed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from sentence_distill import assets
from sentence_distill.config.load import ParamsError
from sentence_distill.config.schema import ParallelParams, PrepareParams
from sentence_distill.data.parallel_file import LANG_COLUMN, ParallelFileError, both_sides, read_pairs
from sentence_distill.data.sources import (
    WHITESPACE,
    article_text,
    check_corpus,
    evaluation_articles,
    load_corpus,
    load_stsb,
)
from sentence_distill.fileio import atomic_dir, write_parquet
from sentence_distill.paths import DOCUMENTS_FILE, PARALLEL_FILE, PREPARED_DIR


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
    for source, target, lang in zip(raw["source"].to_pylist(), raw["target"].to_pylist(), langs, strict=True):
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
    columns = dict(zip(("source", "target", LANG_COLUMN), map(list, zip(*chosen, strict=True)), strict=False))
    return pa.table({**columns, "split": split}), counts


def prepare_data(params: PrepareParams, out_dir: Path = PREPARED_DIR, documents_file: Path = DOCUMENTS_FILE) -> dict:
    """Write the prepared data and the evaluation articles; return the counts of sentences and pairs read, dropped,
    truncated and kept. An unusable input raises ``ParamsError`` before anything is written."""
    articles = evaluation_articles(params.documents_per_topic, params.seed)
    excluded = frozenset(path for path, _ in articles) if params.corpus == assets.BBC_NEWS else frozenset()
    corpus, corpus_counts = load_corpus(params.corpus, params.corpus_column, excluded)
    corpus_counts["articles_left_out"] = len(excluded)
    check_corpus(
        params.corpus, corpus_counts, len(clean_sentences(corpus, params.min_chars, params.max_chars)[0]), params
    )
    stsb = load_stsb(params.stsb)
    stsb_train = (
        list(stsb["train"]["sentence1"]) + list(stsb["train"]["sentence2"]) if params.include_stsb_train else []
    )
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
    write_parquet(
        documents_file,
        pa.table(
            {
                "text": [article_text(path, params.document_chars) for path, _ in articles],
                "label": [topic for _, topic in articles],
            }
        ),
    )
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
    return counts
