"""Prepare: which sentences the distillation corpus is made of, from the real packaged STSb and BBC news."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from sentence_distill.config.load import ParamsError
from sentence_distill.config.schema import PrepareParams
from sentence_distill.data.prepare import prepare_data
from tests.project import ROOT, TEST_ENV, run
from tests.tiny_params import with_tiny_tasks


def prepared_corpus(tmp_path: Path, **changes) -> tuple[dict, set[str]]:
    params = PrepareParams(stsb="sentence-transformers/stsb", corpus="bbc-news", heldout_sentences=500, **changes)
    prepare_data(params, out_dir=tmp_path / "prepared", documents_file=tmp_path / "documents.parquet")
    corpus = pq.read_table(tmp_path / "prepared" / "corpus.parquet").to_pydict()
    train = pq.read_table(tmp_path / "prepared" / "stsb_train.parquet").to_pydict()
    return corpus, {" ".join(s.split()) for s in train["sentence1"] + train["sentence2"]}


def test_all_stsb_train_sentences_come_first_and_the_corpus_fills_the_rest(tmp_path: Path) -> None:
    corpus, stsb = prepared_corpus(tmp_path, include_stsb_train="all", max_sentences=14000)
    sentences = corpus["sentence"]
    assert len(sentences) == 14000
    assert {s for s in stsb if len(s) >= 10} <= set(sentences)
    heldout = [s for s, split in zip(sentences, corpus["split"], strict=True) if split == "heldout"]
    in_domain = sum(s in stsb for s in heldout) / len(heldout)
    assert 0.5 < in_domain < 0.95  # the held-out slice samples both sources


def test_sampled_stsb_train_sentences_mix_with_the_corpus(tmp_path: Path) -> None:
    corpus, stsb = prepared_corpus(tmp_path, include_stsb_train=True, max_sentences=14000)
    share = sum(s in stsb for s in corpus["sentence"]) / 14000
    assert 0.1 < share < 0.4


def test_a_larger_sample_begins_with_the_smaller_one(tmp_path: Path) -> None:
    """What ``distill.train_sentences`` relies on: with ``include_stsb_train`` true, the first sentences of a larger
    ``max_sentences`` are a smaller one's, the held-out slice included."""
    small, _ = prepared_corpus(tmp_path / "small", include_stsb_train=True, max_sentences=3000)
    large, _ = prepared_corpus(tmp_path / "large", include_stsb_train=True, max_sentences=6000)
    assert large["sentence"][:3000] == small["sentence"] and large["split"][:3000] == small["split"]


GOOD = [f"Sentence number {i} of a small user corpus." for i in range(200)]
BAD_BYTES = b"caf\xe9 au lait, encoded in latin-1 and not in UTF-8"

CORPORA = [  # (case, file name, content, message or None when prepare succeeds)
    (
        "blank lines only",
        "blank.txt",
        b"\n  \n\t\n\n",
        "has no usable sentence (4 lines read, 4 blank, 0 undecodable, 0 sentences kept",
    ),
    (
        "all too short",
        "short.txt",
        b"a\nbb\nccc\n",
        "has no usable sentence (3 lines read, 0 blank, 0 undecodable, 0 sentences kept; "
        "a sentence needs prepare.min_chars=10",
    ),
    (
        "all undecodable",
        "latin1.txt",
        b"\n".join([BAD_BYTES] * 5),
        "has 100.0% of its lines not valid UTF-8, above prepare.max_undecodable_share=0.01 "
        "(5 lines read, 0 blank, 5 undecodable, 0 sentences kept)",
    ),
    (
        "20% undecodable",
        "some.txt",
        "\n".join(GOOD[:8]).encode() + b"\n" + BAD_BYTES + b"\n" + BAD_BYTES,
        "has 20.0% of its lines not valid UTF-8, above prepare.max_undecodable_share=0.01 "
        "(10 lines read, 0 blank, 2 undecodable, 8 sentences kept)",
    ),
    (
        "csv column blank",
        "blank.csv",
        b"id,text\n1,\n2,  \n",
        "has no usable sentence (2 lines read, 2 blank, 0 undecodable, 0 sentences kept",
    ),
    (
        "csv cells undecodable",
        "latin1.csv",
        b"id,text\n1," + BAD_BYTES + b"\n2,Another sentence that is fine.\n",
        "has 50.0% of its lines not valid UTF-8",
    ),
    (
        "parquet column blank",
        "blank.parquet",
        None,
        "has no usable sentence (3 lines read, 3 blank, 0 undecodable, 0 sentences kept",
    ),
    ("0.5% undecodable is allowed", "mostly.txt", "\n".join(GOOD).encode() + b"\n" + BAD_BYTES, None),
]


@pytest.mark.parametrize(("case", "name", "content", "message"), CORPORA, ids=[c[0] for c in CORPORA])
def test_unusable_corpora_stop_prepare_with_counts(
    tmp_path: Path, case: str, name: str, content: bytes, message: str | None
) -> None:
    corpus = tmp_path / name
    if content is None:  # a Parquet file: nulls and blanks in its text column
        pq.write_table(pa.table({"text": [None, "", "  "]}), corpus)
    else:
        corpus.write_bytes(content)
    params = PrepareParams(
        stsb="sentence-transformers/stsb", corpus=str(corpus), heldout_sentences=20, include_stsb_train=True
    )
    out = tmp_path / "prepared"
    if message is None:
        counts = prepare_data(params, out_dir=out, documents_file=tmp_path / "documents.parquet")
        assert counts["corpus"] == {
            "lines_read": 201,
            "blank": 0,
            "undecodable": 1,
            "articles_left_out": 0,
        }  # a local corpus: no BBC article to leave out
        return
    with pytest.raises(ParamsError) as error:
        prepare_data(params, out_dir=out, documents_file=tmp_path / "documents.parquet")
    assert str(error.value).startswith(f"prepare.corpus: {str(corpus)!r} ")
    assert message in str(error.value)
    assert not out.exists() and not (tmp_path / "documents.parquet").exists()


def test_prepare_on_an_unusable_corpus_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (with_tiny_tasks(tmp_path) / "inputs" / "data").mkdir(parents=True)
    (tmp_path / "inputs" / "data" / "corpus.txt").write_bytes(b"\n\n\n")
    params = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())
    params["prepare"]["corpus"] = "inputs/data/corpus.txt"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(["python", "-m", "tasks.prepare"], tmp_path, check=False, env={**TEST_ENV, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: prepare.corpus: 'inputs/data/corpus.txt' has no usable sentence (3 lines read, 3 blank, 0 undecodable, "
        "0 sentences kept; a sentence needs prepare.min_chars=10 characters)"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "metrics").exists()
