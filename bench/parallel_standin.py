"""A stand-in parallel file, offline: STSb train pairs scored 5 (of 5) as source and "translation".

No parallel corpus or multilingual model is packaged on PyPI, so this only proves the mechanics of parallel
distillation. As they are (``--as-is``), the pairs are English paraphrases that all-MiniLM-L6-v2 already matches
99% of the time before any training (100 held-out pairs), which leaves a trained student nothing to show; by
default the target side is written in a made-up language instead, every word spelt backwards ("A man is drawing."
-> "A nam si .gniward"), which the model does not read (6.5-9.5% matched), so training has a gap to close.

    python -m bench.parallel_standin inputs/data/parallel-standin.tsv [--as-is]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from sentence_distill import assets
from sentence_distill.fileio import atomic_path

STSB_SCORE = 4
SOURCE, TARGET = 5, 6


def backwards(text: str) -> str:
    return " ".join(word[::-1] for word in text.split())


def write_standin(path: Path, as_is: bool = False) -> int:
    """Write the pairs as a .tsv with a header (source, target, lang); return how many."""
    with open(assets.stsb_files("sentence-transformers/stsb")["train"], encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if float(r[STSB_SCORE]) == 5.0]
    lang = "en" if as_is else "en-backwards"
    lines = ["source\ttarget\tlang"] + [
        f"{r[SOURCE].strip()}\t{(r[TARGET] if as_is else backwards(r[TARGET])).strip()}\t{lang}" for r in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--as-is", action="store_true", help="keep the targets in English (paraphrases)")
    args = parser.parse_args()
    print(f"{args.out}: {write_standin(args.out, args.as_is)} pairs")


if __name__ == "__main__":
    main()
