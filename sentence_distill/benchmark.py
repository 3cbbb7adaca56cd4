"""Speed: every built model timed side by side in one process against the teacher (the benchmark stage).

One fixed sentence set, a seeded mix of STSb test and held-out corpus sentences: throughput is
``encode`` of all of them at ``benchmark.batch_size`` (sentences/s), latency ``encode`` of one sentence
at a time (``benchmark.latency_queries`` per round). The warm-up finds, for each model, how many throughput
encodes take at least ``benchmark.min_seconds`` (autorange, as ``timeit`` does): a static model encodes the
set in milliseconds, too little work to time once, the teacher in seconds, and the same relative precision
needs the same amount of time. Each round then times every model once, that model's count of encodes in a
row, in a newly shuffled order, so a neighbour's load on a shared machine hits all of them alike; the
garbage collector is paused while a model is timed (as ``timeit`` does), so one model's timing does not
pay for another's garbage. A model's speed-up is its time per encode against the teacher's *in the same
round*, summarised as the median over rounds with the quartiles as its spread; its speed-up over its own
fp32 model is taken the same way.
torch, ONNX Runtime and OpenVINO all run with ``benchmark.threads``. With ``benchmark.device: auto``
and CUDA present, fp32 models run on the GPU and int8 models on the CPU, each compared with the
teacher on its own device. The environment records the CPU's best int8 instruction set: an int8 model's
gain over its fp32 model depends on it more than on anything else. The figures: ``records/benchmark.py``.
"""

from __future__ import annotations

import gc
import importlib.metadata
import logging
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tqdm.auto import tqdm

from sentence_distill.config.schema import BenchmarkParams, Params
from sentence_distill.cpu import cpu_flags, cpuinfo_text, first_processor
from sentence_distill.data.corpus import corpus_sentences, stsb_pairs
from sentence_distill.models import load_model, load_variant
from sentence_distill.paths import FP32, PREPARED_DIR, TEACHER, student_groups, variant_folder, variant_label
from sentence_distill.records.benchmark import (
    INT8_ISA_LEVELS,
    Architecture,
    BenchmarkEnvironment,
    BenchmarkFile,
    BenchmarkMethod,
    Latency,
    ModelSpeed,
    Spread,
)

log = logging.getLogger(__name__)

VERSIONED_PACKAGES = ("torch", "sentence-transformers", "transformers", "onnxruntime", "openvino", "optimum-intel")


@dataclass
class Timed:
    """A model in the benchmark: what it is compared with, and its times per round."""

    model: SentenceTransformer
    device: str
    reference: str  # the teacher on the same device
    fp32: str  # the fp32 model it was made from (itself for fp32 models)
    repetitions: int = 1  # throughput encodes per timing (autorange)
    seconds: list[float] = field(default_factory=list)  # one throughput time per encode, one per round
    latencies: list[float] = field(default_factory=list)  # every single-sentence time, all rounds


def benchmark_sentences(count: int, seed: int, prepared_dir: Path = PREPARED_DIR) -> list[str]:
    """``count`` sentences, half distinct STSb test sentences and half held-out corpus sentences, shuffled."""
    pairs = stsb_pairs("test", prepared_dir)
    stsb = list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"]))
    heldout = list(dict.fromkeys(corpus_sentences("heldout", prepared_dir)))
    rng = random.Random(seed)
    from_corpus = rng.sample(heldout, min(count // 2, len(heldout)))
    chosen = from_corpus + rng.sample(stsb, min(count - len(from_corpus), len(stsb)))
    rng.shuffle(chosen)
    return chosen


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """Lower quartile, median and upper quartile (all three the value itself for a single value)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def spread(values: list[float]) -> Spread:
    q1, median, q3 = quartiles(values)
    return Spread(median=median, q1=q1, q3=q3)


def ratio_summary(reference_seconds: list[float], seconds: list[float]) -> Spread:
    """Per round, how many times faster than the reference; the median over rounds and its spread."""
    return spread([r / s for r, s in zip(reference_seconds, seconds, strict=True)])


def summarise(timed: dict[str, Timed], sentences: int) -> dict[str, ModelSpeed]:
    """Each model's throughput, speed-ups over its teacher and its own fp32 model, and latency."""
    results = {}
    for label, t in timed.items():
        latency_ms = sorted(1000 * s for s in t.latencies)
        results[label] = ModelSpeed(
            device=t.device,
            sentences_per_second=spread([sentences / s for s in t.seconds]),
            speedup_vs_teacher=ratio_summary(timed[t.reference].seconds, t.seconds),
            speedup_vs_fp32=ratio_summary(timed[t.fp32].seconds, t.seconds),
            fp32_model=t.fp32,
            repetitions=t.repetitions,
            latency_ms=Latency(
                p50=statistics.median(latency_ms),
                p95=latency_ms[min(len(latency_ms) - 1, round(0.95 * (len(latency_ms) - 1)))],
            ),
        )
    return results


def architecture(model: SentenceTransformer) -> Architecture:
    """Layer count and width of a torch model's Transformer: what makes two models' speeds comparable.
    A static table has no layers."""
    if isinstance(model[0], StaticEmbedding):
        return Architecture(model_type="static", layers=0, hidden_size=model[0].get_embedding_dimension())
    config = model[0].auto_model.config
    return Architecture(model_type=config.model_type, layers=config.num_hidden_layers, hidden_size=config.hidden_size)


def fp32_device(params: BenchmarkParams) -> str:
    return "cuda" if params.device == "auto" and torch.cuda.is_available() else "cpu"


def load_models(params: Params) -> tuple[dict[str, Timed], dict[str, Architecture]]:
    """The teacher (on each device used) and every variant of every student, ready to time."""
    bench = params.benchmark
    device = fp32_device(bench)
    teacher = load_model(params.teacher.model, params.teacher.max_seq_length)
    timed = {TEACHER: Timed(teacher.to(device), device, TEACHER, TEACHER)}
    shapes = {TEACHER: architecture(teacher)}
    for name in params.students:
        for dim in [None, *params.pca_dims_for(name)]:
            fp32 = variant_label(name, FP32, dim)
            for group in student_groups(name, params.backends_for(name)):
                label, folder = variant_label(name, group, dim), variant_folder(name, group, dim)
                if not folder.is_dir():
                    raise FileNotFoundError(f"{folder} not found: build every model (dvc repro) before the benchmark")
                on = device if group == FP32 else "cpu"
                reference = TEACHER if on == device else f"{TEACHER}-cpu"
                if reference not in timed:
                    timed[reference] = Timed(
                        load_model(params.teacher.model, params.teacher.max_seq_length).to("cpu"),
                        "cpu",
                        reference,
                        reference,
                    )
                model = load_variant(folder, threads=bench.threads, **({"device": on} if group == FP32 else {}))
                timed[label] = Timed(model, on, reference, fp32)
                if group == FP32 and dim is None:
                    shapes[label] = architecture(model)
    return timed, shapes


@contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector off for a timing, as ``timeit`` does: a collection lands on whichever model is timed."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def seconds_for(call: Callable[[], object], repetitions: int) -> float:
    """Seconds for ``repetitions`` calls of ``call`` in a row, the garbage collector paused."""
    with gc_paused():
        started = time.perf_counter()
        for _ in range(repetitions):
            call()
        return time.perf_counter() - started


def autorange(call: Callable[[], object], min_seconds: float) -> int:
    """How many calls of ``call`` in a row take at least ``min_seconds``: ``timeit``'s autorange, except that the
    next count is scaled from the time measured instead of stepping 1, 2, 5, 10..., so the count found
    overshoots ``min_seconds`` little and every round costs no more than it must."""
    repetitions = 1
    while (seconds := seconds_for(call, repetitions)) < min_seconds:
        repetitions = max(repetitions + 1, math.ceil(repetitions * min_seconds / max(seconds, 1e-9)))
    return repetitions


def time_rounds(timed: dict[str, Timed], sentences: list[str], params: BenchmarkParams) -> None:
    """Warm every model up and find its count of encodes (autorange), then time them all in ``rounds`` rounds, in
    a new shuffled order each round."""
    queries = sentences[: params.latency_queries]

    def throughput(t: Timed) -> Callable[[], object]:
        return lambda: t.model.encode(sentences, batch_size=params.batch_size)

    for t in tqdm(timed.values(), unit="model", desc="warm-up and autorange"):
        for query in queries[:3]:
            t.model.encode([query], batch_size=1)
        t.repetitions = autorange(throughput(t), params.min_seconds)  # its first encode warms the model up
    rng = random.Random(params.seed)
    progress = tqdm(
        total=params.rounds * len(timed), unit="model", desc="timing (rounds x models)"
    )  # drawn between timings
    for round_number in range(params.rounds):
        order = list(timed)
        rng.shuffle(order)
        for label in order:
            t = timed[label]
            t.seconds.append(seconds_for(throughput(t), t.repetitions) / t.repetitions)
            with gc_paused():
                for query in queries:
                    started = time.perf_counter()
                    t.model.encode([query], batch_size=1)
                    t.latencies.append(time.perf_counter() - started)
            progress.update()
        log.info("round %d of %d timed", round_number + 1, params.rounds)
    progress.close()


def int8_isa(flags: set[str]) -> str:
    """The best int8 instruction set among a CPU's ``/proc/cpuinfo`` flags (``INT8_ISA_LEVELS``), else ``none``."""
    return next((level for level in INT8_ISA_LEVELS if level in flags), "none")


def cpu_description(cpuinfo: str) -> tuple[str | None, str]:
    """The first processor's model name (None when not given) and best int8 instruction set, from /proc/cpuinfo."""
    return first_processor(cpuinfo).get("model name"), int8_isa(cpu_flags(cpuinfo))


def environment(params: BenchmarkParams) -> BenchmarkEnvironment:
    """What the figures depend on besides the models: the machine, the threads, the libraries, the code."""
    model, isa = cpu_description(cpuinfo_text())
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    device = fp32_device(params)
    return BenchmarkEnvironment(
        cpu=model or platform.processor() or platform.machine(),
        int8_isa=isa,
        cores=os.cpu_count(),
        threads=params.threads,
        device=device,
        gpu=torch.cuda.get_device_name() if device == "cuda" else None,
        python=sys.version.split()[0],
        versions=versions,
        git_commit=commit or None,
    )


def run_benchmark(params: Params) -> BenchmarkFile:
    """Load every model the params build, time them all, and summarise."""
    bench = params.benchmark
    # Tokenization on one thread for every model, however the stage was started: left to the environment, the
    # tokenizers library may split a batch over every core, beside the runtimes' own ``threads``.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch.set_num_threads(bench.threads)
    sentences = benchmark_sentences(bench.sentences, bench.seed)
    timed, shapes = load_models(params)
    log.info("timing %d models on %d sentences, %d rounds", len(timed), len(sentences), bench.rounds)
    started = time.perf_counter()
    time_rounds(timed, sentences, bench)
    models = summarise(timed, len(sentences))
    for label, shape in shapes.items():
        models[label] = replace(models[label], architecture=shape)
    method = BenchmarkMethod(
        sentences=len(sentences),
        batch_size=bench.batch_size,
        latency_queries=len(sentences[: bench.latency_queries]),
        rounds=bench.rounds,
        min_seconds=bench.min_seconds,
        seed=bench.seed,
        seconds=round(time.perf_counter() - started, 1),
    )
    return BenchmarkFile(method=method, environment=environment(bench), models=models)
