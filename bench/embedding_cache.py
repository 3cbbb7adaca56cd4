"""Benchmark of the teacher embedding cache with the packaged all-MiniLM-L6-v2.

    python -m bench.embedding_cache [--quick]

Measures, on the same sentences in one process: plain ``SentenceTransformer.encode`` against a
fill of an empty cache (best of three alternating rounds each), a fill that adds 10% new sentences
against the full fill, and a re-run with everything cached. Then, each in a fresh child process,
the peak RSS of encoding a small and a large corpus through the cache, which should barely grow
(both share their longest batch, which sets the model's own peak).
Prints the results as JSON, then as a table. Sentences come from ``data/prepared/corpus.parquet``
when it has enough of them, else from the packaged BBC news corpus and STS benchmark sentences.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 64
SHARD_ROWS = 1024
ROUNDS = 3
SIZES = {  # speed sentences, (small, large) corpus for peak RSS
    "full": (6000, (10_000, 50_000)),
    "quick": (1000, (2000, 6000)),
}


def benchmark_sentences(count: int) -> list[str]:
    """``count`` distinct cleaned sentences in a fixed shuffled order."""
    from sentence_distill.data.corpus import corpus_sentences
    from sentence_distill.data.prepare import clean_sentences
    from sentence_distill.data.sources import load_corpus, load_stsb
    from sentence_distill.paths import PREPARED_DIR

    if (PREPARED_DIR / "corpus.parquet").is_file():
        prepared = corpus_sentences()
        if len(prepared) >= count:
            return prepared[:count]
    raw, _ = load_corpus("bbc-news", "text")
    stsb = load_stsb("sentence-transformers/stsb")
    raw += [text for split in stsb.values() for column in ("sentence1", "sentence2") for text in split[column]]
    sentences, _ = clean_sentences(raw, min_chars=10, max_chars=2000)
    if len(sentences) < count:
        raise SystemExit(f"only {len(sentences)} benchmark sentences available, {count} needed")
    order = np.random.default_rng(0).permutation(len(sentences))[:count]
    return [sentences[i] for i in order]


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage: on Linux its ru_maxrss starts from the forking parent's."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def encode_child(sentences_file: Path, cache_root: Path) -> None:
    """Child process: encode a corpus through an empty cache; print RSS before and after as JSON."""
    from sentence_distill.models import embed_corpus, load_model, model_folder

    model = load_model(MODEL)
    sentences = pq.read_table(sentences_file)["sentence"].to_pylist()
    loaded = peak_rss_mb()
    start = time.perf_counter()
    embed_corpus(
        model, model_folder(model, MODEL), sentences, cache_root=cache_root, batch_size=BATCH_SIZE, shard_rows=4096
    )
    seconds = time.perf_counter() - start
    print(json.dumps({"rss_loaded_mb": loaded, "peak_rss_mb": peak_rss_mb(), "seconds": seconds}))


def measure_rss(sentences: list[str], work: Path) -> dict:
    """Peak RSS of a fresh process that encodes ``sentences`` through the cache (default shard size)."""
    sentences_file = work / f"sentences-{len(sentences)}.parquet"
    pq.write_table(pa.table({"sentence": sentences}), sentences_file)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.embedding_cache",
            "--encode-child",
            str(sentences_file),
            str(work / sentences_file.stem),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"RSS child for {len(sentences)} sentences failed:\n{child.stderr[-3000:]}")
    result = json.loads(child.stdout.splitlines()[-1])
    return {"sentences": len(sentences), **result, "sentences_per_s": len(sentences) / result["seconds"]}


def rss_corpora(sentences: list[str], small: int, large: int) -> tuple[list[str], list[str]]:
    """A large corpus and a small one that shares its longest batch of sentences.

    The longest batch sets the peak of the model's activations (attention grows with the square of
    its length), and a larger sample tends to hold longer sentences; sharing that batch leaves the
    corpus size as the only difference between the two peaks.
    """
    large_corpus = sentences[:large]
    longest = sorted(large_corpus, key=len, reverse=True)[:BATCH_SIZE]
    chosen = set(longest)
    small_corpus = longest + [text for text in large_corpus if text not in chosen][: small - len(longest)]
    return small_corpus, large_corpus


def timed(work, *args, **kwargs) -> float:
    start = time.perf_counter()
    work(*args, **kwargs)
    return time.perf_counter() - start


def run(quick: bool) -> dict:
    from sentence_distill.models import embed_corpus, load_model, model_folder

    speed_count, rss_counts = SIZES["quick" if quick else "full"]
    sentences = benchmark_sentences(max(rss_counts[1], int(speed_count * 1.1)))
    base, extra = sentences[:speed_count], sentences[speed_count : int(speed_count * 1.1)]
    model = load_model(MODEL)
    model_dir = model_folder(model, MODEL)
    model.encode(base[:BATCH_SIZE], batch_size=BATCH_SIZE)  # warm-up

    with tempfile.TemporaryDirectory(prefix="bench-embedding-cache-") as tmp:
        work = Path(tmp)

        def fill(texts: list[str], root: Path) -> None:
            embed_corpus(model, model_dir, texts, cache_root=root, batch_size=BATCH_SIZE, shard_rows=SHARD_ROWS)

        plain, cached = [], []
        for round_number in range(ROUNDS):  # alternate, so a slower stretch of a shared machine hits both
            plain.append(timed(model.encode, base, batch_size=BATCH_SIZE, convert_to_numpy=True))
            cached.append(timed(fill, base, work / f"speed-{round_number}"))
        incremental = timed(fill, base + extra, work / "speed-0")
        rerun = timed(fill, base + extra, work / "speed-0")
        rss = [measure_rss(corpus, work) for corpus in rss_corpora(sentences, *rss_counts)]

    return {
        "model": MODEL,
        "batch_size": BATCH_SIZE,
        "shard_rows": SHARD_ROWS,
        "speed_sentences": speed_count,
        "plain_encode_per_s": speed_count / min(plain),
        "cached_fill_per_s": speed_count / min(cached),
        "cached_vs_plain": min(plain) / min(cached),
        "full_fill_s": min(cached),
        "incremental_new_sentences": len(extra),
        "incremental_fill_s": incremental,
        "incremental_vs_full": incremental / min(cached),
        "cached_rerun_s": rerun,
        "rss": rss,
        "peak_rss_large_vs_small": rss[1]["peak_rss_mb"] / rss[0]["peak_rss_mb"],
    }


def table(r: dict) -> str:
    small, large = r["rss"]
    n, extra = r["speed_sentences"], r["incremental_new_sentences"]
    rows = [
        (f"plain `encode`, {n} sentences, batch {r['batch_size']}", f"{r['plain_encode_per_s']:.1f} sentences/s"),
        (
            f"through the cache (empty, shards of {r['shard_rows']})",
            f"{r['cached_fill_per_s']:.1f} sentences/s ({r['cached_vs_plain']:.2f}x plain)",
        ),
        (f"full fill, {n} sentences", f"{r['full_fill_s']:.1f} s"),
        (
            f"incremental fill, +{extra} new (10%)",
            f"{r['incremental_fill_s']:.1f} s ({r['incremental_vs_full']:.2f}x full)",
        ),
        (f"cached re-run, {n + extra} sentences", f"{r['cached_rerun_s']:.2f} s"),
    ]
    rows += [
        (
            f"peak RSS encoding {m['sentences']} sentences",
            f"{m['peak_rss_mb']:.0f} MB (loaded: {m['rss_loaded_mb']:.0f} MB)",
        )
        for m in (small, large)
    ]
    rows.append((f"peak RSS {large['sentences']} vs {small['sentences']}", f"{r['peak_rss_large_vs_small']:.2f}x"))
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measurement'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embedding_cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: 1000 speed sentences, RSS at 2000 vs 6000")
    parser.add_argument("--encode-child", nargs=2, metavar=("SENTENCES", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.encode_child:
        encode_child(Path(args.encode_child[0]), Path(args.encode_child[1]))
        return 0
    results = run(args.quick)
    print(json.dumps(results, indent=2))
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
