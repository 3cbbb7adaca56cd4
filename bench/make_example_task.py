"""The default profile's example own task, offline: BBC titles as queries, the passages of their articles' bodies as
the corpus (asymmetric retrieval: a short headline against paragraphs that never repeat it), as a BEIR folder.

The articles are the evaluation articles prepare sets aside with the params' ``prepare.seed`` and
``documents_per_topic`` (``data/sources.evaluation_articles``): never distilled on, so no student has seen a passage.
An article whose title or body repeats an earlier one's is left out (the BBC set has a few duplicates), and so is
one with a passage another article has: a query is then never judged against a copy of its own passage. Each
body's first ``--passages`` passages are kept (consecutive paragraphs joined up to ``--passage-chars``), every one
relevant to its article's title. ``bbc-news.json`` lists the articles and the prepare values that set them aside;
the validate stage refuses the task when the params would distill on one of them.

``--kind pair_classification`` writes the same articles as title/passage pairs instead (``pairs.tsv``): each title
with its article's first passage (label 1) and with another article's first passage drawn by the seed (label 0).
The tiny profile's two tasks are built this way from its own prepare values:

    python -m bench.make_example_task [--params params.yaml] [--out inputs/tasks/bbc_titles]
    python -m bench.make_example_task --params profiles/tiny.yaml --passages 1 --out inputs/tasks/tiny/bbc_titles
    python -m bench.make_example_task --params profiles/tiny.yaml --kind pair_classification \
        --out inputs/tasks/tiny/bbc_title_pairs
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from sentence_distill.config.load import load_params
from sentence_distill.data.sources import WHITESPACE, evaluation_articles
from sentence_distill.data.task_files import HELD_OUT_FILE
from sentence_distill.fileio import atomic_dir

DEFAULT_FOLDER = Path("inputs/tasks/bbc_titles")


def passages(body: str, chars: int, most: int) -> list[str]:
    """The body's paragraphs joined in order into passages of at most ``chars`` characters (a longer paragraph is
    a passage alone), the first ``most`` of them."""
    out: list[str] = []
    for paragraph in (WHITESPACE.sub(" ", p).strip() for p in body.split("\n\n")):
        if not paragraph:
            continue
        if out and len(out[-1]) + 1 + len(paragraph) <= chars:
            out[-1] = f"{out[-1]} {paragraph}"
        else:
            out.append(paragraph)
    return out[:most]


def build(per_topic: int, seed: int, chars: int, most: int) -> tuple[dict, dict, list, list[str]]:
    """Queries (id -> title), corpus (id -> passage), qrels rows and the articles used (topic/file)."""
    queries, corpus, qrels, used = {}, {}, [], []
    seen: set[str] = set()
    for path, topic in evaluation_articles(per_topic, seed):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        title, parts = WHITESPACE.sub(" ", title).strip(), passages(body, chars, most)
        texts = {title, WHITESPACE.sub(" ", body).strip(), *parts}
        if not parts or texts & seen:
            continue
        seen |= texts
        article = f"{topic}-{path.stem}"
        queries[f"q-{article}"] = title
        for n, passage in enumerate(parts):
            corpus[f"d-{article}-{n}"] = passage
            qrels.append((f"q-{article}", f"d-{article}-{n}", 1))
        used.append(f"{topic}/{path.name}")
    return queries, corpus, qrels, used


def title_pairs(queries: dict, corpus: dict, seed: int) -> list[tuple[str, str, int]]:
    """Each title with its article's first passage (1) and with another article's first passage (0), drawn by seed."""
    firsts = {q: corpus[f"d-{q.removeprefix('q-')}-0"] for q in queries}
    order, rng = list(firsts), random.Random(seed)
    rows = []
    for query in order:
        other = rng.choice([q for q in order if q != query])
        rows += [(queries[query], firsts[query], 1), (queries[query], firsts[other], 0)]
    return rows


def write_task(
    folder: Path, per_topic: int, seed: int, chars: int = 600, most: int = 3, kind: str = "retrieval"
) -> dict[str, int]:
    """Write the task's folder (replacing it whole): a BEIR folder, or ``pairs.tsv`` for pair_classification;
    return its counts."""
    queries, corpus, qrels, used = build(per_topic, seed, chars, most)
    with atomic_dir(folder) as tmp:
        if kind == "pair_classification":
            pairs = title_pairs(queries, corpus, seed)
            rows = ["sentence1\tsentence2\tlabel", *(f"{a}\t{b}\t{label}" for a, b, label in pairs)]
            (tmp / "pairs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
            counts = {"pairs": len(pairs), "articles": len(used)}
        else:
            for name, texts in (("queries", queries), ("corpus", corpus)):
                lines = [
                    json.dumps({"_id": i, **({"title": ""} if name == "corpus" else {}), "text": t}, ensure_ascii=False)
                    for i, t in texts.items()
                ]
                (tmp / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            (tmp / "qrels").mkdir()
            rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in qrels)]
            (tmp / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
            counts = {"queries": len(queries), "passages": len(corpus), "articles": len(used)}
        record = {
            "built_by": "python -m bench.make_example_task",
            "set_aside_by": {"seed": seed, "documents_per_topic": per_topic},
            "passages": {"chars": chars, "per_article": most},
            "articles": used,
        }
        (tmp / HELD_OUT_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="prepare.seed, documents_per_topic")
    parser.add_argument("--out", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--passage-chars", type=int, default=600)
    parser.add_argument("--passages", type=int, default=3, help="passages kept of each article's body")
    parser.add_argument("--kind", choices=("retrieval", "pair_classification"), default="retrieval")
    args = parser.parse_args()
    prepare = load_params(args.params, check_inputs=False).prepare
    counts = write_task(
        args.out, prepare.documents_per_topic, prepare.seed, args.passage_chars, args.passages, args.kind
    )
    print(f"{args.out}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
