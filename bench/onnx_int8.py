"""Which ONNX Runtime int8 configuration runs a student fastest at equal quality.

    python -m bench.onnx_int8 L3 [--rounds 7]

Run in a project where the pipeline has built ``models/<student>/student``. Exports the student's
Transformer to ONNX once, quantizes it dynamically with each configuration in ``CONFIGS`` into a
temporary folder, and times every one against the fp32 student with the benchmark stage's own code
(``sentence_distill/benchmark.py``: the same sentences, threads, warm-up and interleaved rounds, per-round ratios).
Prints, per configuration, its speed-up over the fp32 student (median and quartiles over rounds)
and the mean and lowest cosine of its embeddings to the fp32 ones on the benchmark sentences.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from optimum.onnxruntime import ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig
from sentence_transformers import SentenceTransformer

from sentence_distill.benchmark import Timed, benchmark_sentences, summarise, time_rounds
from sentence_distill.config.load import load_or_exit
from sentence_distill.models import onnx_session_options
from sentence_distill.paths import student_dir
from sentence_distill.quantization import cpu_quantization_config


def configs(cpu: str) -> dict[str, tuple[object, dict]]:
    """Name -> (quantization config, session options): the stage's choice first, then the alternatives tried."""
    auto = getattr(AutoQuantizationConfig, cpu)
    return {
        f"{cpu}, no thread spinning (the pipeline's)": (auto(is_static=False), {}),
        "thread spinning on (ONNX Runtime's default)": (
            auto(is_static=False),
            {"session.intra_op.allow_spinning": "1"},
        ),
        "per-tensor weights": (auto(is_static=False, per_channel=False), {}),
        "MatMul only (embeddings fp32)": (auto(is_static=False, operators_to_quantize=["MatMul"]), {}),
        "graph optimizations off": (auto(is_static=False), {"graph_optimizations": "off"}),
    }


def session_options(threads: int, extra: dict) -> onnxruntime.SessionOptions:
    """The pipeline's session options (``load_variant``), with one setting changed."""
    options = onnx_session_options(threads, {k: v for k, v in extra.items() if k != "graph_optimizations"})
    if extra.get("graph_optimizations") == "off":
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def run(student: str, rounds: int) -> dict:
    params = load_or_exit(check_inputs=False)
    bench = params.benchmark.model_copy(update={"rounds": rounds})
    torch.set_num_threads(bench.threads)
    sentences = benchmark_sentences(bench.sentences, bench.seed)
    fp32 = SentenceTransformer(str(student_dir(student)), device="cpu")
    timed = {"fp32": Timed(fp32, "cpu", "fp32", "fp32")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        shutil.copytree(student_dir(student), folder)
        onnx_model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
        quantizer = ORTQuantizer.from_pretrained(onnx_model.transformers_model)
        for number, (name, (config, extra)) in enumerate(configs(cpu_quantization_config()).items()):
            quantizer.quantize(config, str(folder / "onnx"), file_suffix=f"config{number}")
            timed[name] = Timed(
                SentenceTransformer(
                    str(folder),
                    backend="onnx",
                    device="cpu",
                    model_kwargs={
                        "file_name": f"onnx/model_config{number}.onnx",
                        "session_options": session_options(bench.threads, extra),
                    },
                ),
                "cpu",
                "fp32",
                "fp32",
            )
        reference = fp32.encode(sentences, batch_size=bench.batch_size, normalize_embeddings=True)
        cosines = {}
        for name, t in timed.items():
            embeddings = t.model.encode(sentences, batch_size=bench.batch_size, normalize_embeddings=True)
            similarity = (embeddings * reference).sum(1)
            cosines[name] = {"mean": float(np.mean(similarity)), "min": float(np.min(similarity))}
        time_rounds(timed, sentences, bench)
    summary = summarise(timed, len(sentences))
    return {
        "student": student,
        "cpu_config": cpu_quantization_config(),
        "rounds": rounds,
        "threads": bench.threads,
        "sentences": len(sentences),
        "batch_size": bench.batch_size,
        "configs": {
            name: {"speedup_vs_fp32": summary[name].speedup_vs_teacher.to_dict(), "cosine_to_fp32": cosines[name]}
            for name in timed
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx_int8", description=__doc__.split("\n\n")[0])
    parser.add_argument("student")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    result = run(args.student, args.rounds)
    print(json.dumps(result, indent=2))
    print(
        f"\n{result['sentences']} sentences, batch {result['batch_size']}, {result['threads']} threads, "
        f"{args.rounds} interleaved rounds\n"
    )
    print("| configuration | speed-up over fp32 [q1-q3] | cosine to fp32 mean / min |\n|---|---|---|")
    for name, r in result["configs"].items():
        s, c = r["speedup_vs_fp32"], r["cosine_to_fp32"]
        print(f"| {name} | {s['median']:.2f}x [{s['q1']:.2f}-{s['q3']:.2f}] | {c['mean']:.4f} / {c['min']:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
