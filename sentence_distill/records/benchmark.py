"""``metrics/benchmark.json``: the benchmark stage's speed of every model, the only place speed is measured.

Written by the benchmark stage, read by the report and the release stage. Every figure is a summary
over the benchmark's interleaved rounds (``benchmark.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sentence_distill.records.json_record import JsonRecord, omitted_when_none

# The int8 instruction sets a CPU's /proc/cpuinfo flags can name, best first: AMX tiles, the int8 dot-product
# instructions (VNNI, 512- and 256-bit), then plain 512- and 256-bit integer SIMD. ONNX Runtime's and OpenVINO's
# int8 kernels use the best the CPU has, so an int8 model's gain over its fp32 model depends on it.
INT8_ISA_LEVELS = ("amx_int8", "avx512_vnni", "avx_vnni", "avx512bw", "avx2")
INT8_DOT_PRODUCT_LEVELS = INT8_ISA_LEVELS[:3]


@dataclass(frozen=True)
class Spread(JsonRecord):
    """The median over rounds and its quartiles."""

    median: float
    q1: float
    q3: float


@dataclass(frozen=True)
class Latency(JsonRecord):
    """Milliseconds to encode one sentence, over every single-sentence call of every round."""

    p50: float
    p95: float


@dataclass(frozen=True)
class Architecture(JsonRecord):
    """Layer count and width of a model's Transformer (a static table: no layers): what makes speeds comparable."""

    model_type: str
    layers: int
    hidden_size: int


@dataclass(frozen=True)
class ModelSpeed(JsonRecord):
    """One model's figures; a speed-up is its time over the teacher's (or its fp32 model's) in the same round."""

    device: str
    sentences_per_second: Spread
    speedup_vs_teacher: Spread
    speedup_vs_fp32: Spread
    fp32_model: str
    repetitions: int  # throughput encodes in a row per timing, found by the warm-up (autorange)
    latency_ms: Latency
    architecture: Architecture | None = omitted_when_none()  # fp32 students and the teacher only


@dataclass(frozen=True)
class BenchmarkMethod(JsonRecord):
    sentences: int
    batch_size: int
    latency_queries: int
    rounds: int
    min_seconds: float  # the least time one timing of a model's throughput encodes takes (autorange)
    seed: int
    seconds: float  # the timing's wall time


@dataclass(frozen=True)
class BenchmarkEnvironment(JsonRecord):
    """What the figures depend on besides the models: the machine, the threads, the libraries, the code."""

    cpu: str  # the model name
    int8_isa: str  # the first of INT8_ISA_LEVELS its flags name, or "none"
    cores: int | None
    threads: int
    device: str
    gpu: str | None
    python: str
    versions: dict[str, str | None]
    git_commit: str | None


@dataclass(frozen=True)
class BenchmarkFile(JsonRecord):
    method: BenchmarkMethod
    environment: BenchmarkEnvironment
    models: dict[str, ModelSpeed]
