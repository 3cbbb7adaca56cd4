"""Which of the teacher's layers a pruned student should keep, ranked before any training.

Each candidate layer set is built as the pipeline builds a pruned student (``build_student``) and scored
untrained: its MSE (x100) to the teacher's cached embeddings of the held-out sentences, and its STSb dev Spearman
(cosine). Minutes for every set of a 6-layer teacher, against tens of minutes to train one student; whether the
untrained ranking predicts the trained one is measured in ``results/recipe-ablation.md``.

Run in a finished run (it reads the prepared data, the teacher cache and ``params.yaml``), with this checkout's code:

    cd RUN && PYTHONPATH=/path/to/checkout python -P -m bench.layer_proxy --layers 3 2 [--by mse|stsb]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

from sentence_distill import assets
from sentence_distill.config.load import load_params
from sentence_distill.config.schema import StudentSpec
from sentence_distill.data.corpus import corpus_sentences, stsb_pairs
from sentence_distill.models import open_teacher_cache
from sentence_distill.students.build import build_student, kept_layers

RANK_KEYS = {"mse": ("heldout_mse_x100", False), "stsb": ("stsb_dev_spearman", True)}  # key, higher is better


def candidate_sets(count: int, teacher_layers: int, limit: int, seed: int = 0) -> list[tuple[list[int], str]]:
    """The named strategies' layer sets (spread, first, last), then every other set of ``count`` layers; beyond
    ``limit`` sets in all, a seeded sample of the others."""
    named: dict[tuple[int, ...], str] = {}
    for strategy in ("spread", "first", "last"):
        keep = tuple(kept_layers(StudentSpec(num_layers=count, strategy=strategy), teacher_layers))
        named[keep] = named[keep] + "/" + strategy if keep in named else strategy
    others = [c for c in itertools.combinations(range(teacher_layers), count) if c not in named]
    room = max(limit - len(named), 0)
    if len(others) > room:
        others = sorted(random.Random(seed).sample(others, room))
    return [(list(keep), label) for keep, label in named.items()] + [(list(keep), "") for keep in others]


def proxy_scores(
    student: SentenceTransformer,
    heldout_texts: list[str],
    heldout_targets: np.ndarray,
    stsb: dict[str, list],
    batch_size: int = 64,
) -> dict[str, float]:
    """The untrained student's held-out MSE x100 to the targets (as the trainer's held-out curve) and STSb
    Spearman of the cosines (as the trainer's STSb dev curve); every distinct sentence encoded once."""
    texts = list(dict.fromkeys([*heldout_texts, *stsb["sentence1"], *stsb["sentence2"]]))
    vectors = dict(zip(texts, student.encode(texts, batch_size=batch_size, convert_to_numpy=True), strict=True))
    heldout = np.stack([vectors[t] for t in heldout_texts])
    first = np.stack([vectors[t] for t in stsb["sentence1"]])
    second = np.stack([vectors[t] for t in stsb["sentence2"]])
    cosines = (first * second).sum(1) / (np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1))
    return {
        "heldout_mse_x100": float(((heldout - heldout_targets) ** 2).mean() * 100),
        "stsb_dev_spearman": float(spearmanr(cosines, stsb["score"]).statistic),
    }


def rank_layer_sets(
    teacher_ref: str,
    sets: list[tuple[list[int], str]],
    heldout_texts: list[str],
    heldout_targets: np.ndarray,
    stsb: dict[str, list],
    by: str = "mse",
) -> list[dict]:
    """Each layer set's untrained scores, best first by ``by`` (mse or stsb)."""
    rows = []
    for keep, label in sets:
        started = time.perf_counter()
        student, _ = build_student(StudentSpec(layers=keep), teacher_ref, teacher_fingerprint="")
        scores = proxy_scores(student, heldout_texts, heldout_targets, stsb)
        rows.append({"layers": keep, "strategy": label, **scores, "seconds": round(time.perf_counter() - started, 1)})
    key, higher = RANK_KEYS[by]
    return sorted(rows, key=lambda row: -row[key] if higher else row[key])


def table(rows: list[dict]) -> str:
    lines = ["| rank | layers | strategy | held-out MSE x100 | STSb dev Spearman | s |", "|---|---|---|---|---|---|"]
    for rank, row in enumerate(rows, 1):
        lines.append(
            f"| {rank} | {row['layers']} | {row['strategy']} | {row['heldout_mse_x100']:.4f} | "
            f"{row['stsb_dev_spearman'] * 100:.2f} | {row['seconds']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", required=True, help="layer counts to rank sets of")
    parser.add_argument("--by", choices=sorted(RANK_KEYS), default="mse", help="what ranks the sets")
    parser.add_argument("--limit", type=int, default=40, help="most sets per count (a seeded sample beyond)")
    parser.add_argument("--stsb-pairs", type=int, default=None, help="the first N STSb dev pairs only")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    params = load_params(check_inputs=False)
    teacher = params.teacher.model
    cache = open_teacher_cache()
    heldout_texts = corpus_sentences("heldout")
    heldout_targets = cache.lookup(heldout_texts)
    stsb = {k: v[: args.stsb_pairs] for k, v in stsb_pairs("dev").items()}
    teacher_layers = assets.model_facts(teacher, key="teacher.model").num_layers
    found = {}
    for count in args.layers:
        sets = candidate_sets(count, teacher_layers, args.limit)
        found[count] = rank_layer_sets(teacher, sets, heldout_texts, heldout_targets, stsb, args.by)
        print(f"\n{count} of {teacher_layers} layers, ranked by {args.by}:\n{table(found[count])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
