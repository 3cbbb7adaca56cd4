"""Prepare: which sentences the distillation corpus is made of, from the real packaged STSb and BBC news."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tasks.params import PrepareParams
from tasks.prepare import prepare


def prepared_corpus(tmp_path: Path, **changes) -> tuple[dict, set[str]]:
    params = PrepareParams(stsb="sentence-transformers/stsb", corpus="bbc-news", heldout_sentences=500, **changes)
    prepare(params, out_dir=tmp_path / "prepared", metrics_file=tmp_path / "prepare.json")
    corpus = pq.read_table(tmp_path / "prepared" / "corpus.parquet").to_pydict()
    train = pq.read_table(tmp_path / "prepared" / "stsb_train.parquet").to_pydict()
    return corpus, {" ".join(s.split()) for s in train["sentence1"] + train["sentence2"]}


def test_all_stsb_train_sentences_come_first_and_the_corpus_fills_the_rest(tmp_path: Path) -> None:
    corpus, stsb = prepared_corpus(tmp_path, include_stsb_train="all", max_sentences=14000)
    sentences = corpus["sentence"]
    assert len(sentences) == 14000
    assert {s for s in stsb if len(s) >= 10} <= set(sentences)
    heldout = [s for s, split in zip(sentences, corpus["split"]) if split == "heldout"]
    in_domain = sum(s in stsb for s in heldout) / len(heldout)
    assert 0.5 < in_domain < 0.95  # the held-out slice samples both sources


def test_sampled_stsb_train_sentences_mix_with_the_corpus(tmp_path: Path) -> None:
    corpus, stsb = prepared_corpus(tmp_path, include_stsb_train=True, max_sentences=14000)
    share = sum(s in stsb for s in corpus["sentence"]) / 14000
    assert 0.1 < share < 0.4
