"""What the own tasks of ``params.yaml`` add to the evaluation of a finished run, per model: each model encodes the
evaluation texts it encodes today (STSb test, the evaluation articles, the held-out slice), then the own tasks'
texts not among them, timed (wall and CPU seconds, ``--threads`` torch threads, batch ``evaluate.batch_size``); then
the own tasks are scored on those vectors (the scorers' time) and their figures printed.

    python -m bench.own_task_cost RUN [teacher L3 L3/quantized/onnx-int8 ...]

RUN is a finished run's project (its ``data/`` and ``models/``), best a hard-linked copy (``cp -al``: loading a model
checks its files against RUN's dvc.lock); the tasks are those of ``params.yaml`` here. A model is ``teacher`` or a
folder under ``RUN/models`` (``L3`` is ``models/L3/student``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from sentence_distill import assets
from sentence_distill.config.load import load_params
from sentence_distill.evaluation.own_tasks import OwnTasks


def evaluation_texts(run: Path) -> list[str]:
    """The texts every model of the run's default-profile evaluation encodes (no parallel pairs)."""
    pairs = pq.read_table(run / "data/prepared/stsb_test.parquet").to_pydict()
    documents = pq.read_table(run / "data/documents.parquet")["text"].to_pylist()
    corpus = pq.read_table(run / "data/prepared/corpus.parquet")
    heldout = corpus.filter(pc.equal(corpus["split"], "heldout"))["sentence"].to_pylist()
    return list(dict.fromkeys(pairs["sentence1"] + pairs["sentence2"] + documents + heldout))


def timed(model, texts: list[str], batch: int) -> tuple[dict, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(texts, batch_size=batch)
    return dict(zip(texts, vectors, strict=True)), time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("models", nargs="*", default=["teacher"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from sentence_distill.models import load_variant

    params = load_params(check_inputs=False)
    own = OwnTasks.read(params.evaluate)
    evaluation = evaluation_texts(args.run)
    extra = [text for text in own.texts() if text not in set(evaluation)]
    print(f"evaluation texts {len(evaluation)}, own tasks' texts beside them {len(extra)}")
    for name in args.models:
        if name == "teacher":
            folder = Path(assets.resolve_model(params.teacher.model))
        else:
            folder = args.run / "models" / name
            folder = folder / "student" if (folder / "student").is_dir() else folder
        model = load_variant(folder, threads=args.threads)
        model.encode(evaluation[:64], batch_size=params.evaluate.batch_size)  # warm-up
        _, wall, cpu = timed(model, evaluation, params.evaluate.batch_size)
        vectors, own_wall, own_cpu = timed(model, extra, params.evaluate.batch_size)
        start = time.perf_counter()
        scores = own.scores(vectors, params.evaluate)
        scoring = time.perf_counter() - start
        figures = {task: {k: round(v, 4) for k, v in s.figures.items()} for task, s in scores.items()}
        print(
            f"{name}: evaluation texts {wall:.1f} s ({cpu:.1f} s CPU), own tasks' texts {own_wall:.1f} s "
            f"({own_cpu:.1f} s CPU), scoring {scoring:.2f} s; {figures}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
