"""Does the best step by STSb dev pick the best model, and would averaging the last checkpoints' weights do better?

One ablation run (``bench/recipe_ablation.py``'s ``train``: the pipeline's code, a finished run's data) that keeps
the student's weights at every STSb dev evaluation and at the last step, then scores each on STSb test, the average
of the last k of them (k = 2 to 5: uniform weight averaging), and the families and own tasks of the best step's
model, the last step's and the average of the last three (``quality``).

    cd RUN && PYTHONPATH=/path/to/checkout python -P -m bench.checkpoint_scores --student L2 \\
        --recipe '{"epochs": 5, "learning_rate": 1e-3, "eval_steps": 100}' --out checkpoints.jsonl

The weights are caught by wrapping the trainer's curve callback (``TrainingCurves``): the pipeline's training
code is not changed for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import sentence_distill.students.trainer as trainer
from bench.recipe_ablation import quality, stsb_spearman, teacher_stsb_test, train
from sentence_distill.config.load import load_params

State = dict[str, torch.Tensor]


def copied(model: torch.nn.Module) -> State:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def catching(snapshots: dict[int, State]) -> type:
    """``TrainingCurves`` that also copies the weights at each evaluation and at the last step into ``snapshots``."""

    class Catching(trainer.TrainingCurves):
        def on_evaluate(self, args, state, control, model=None, **kwargs):
            snapshots[state.global_step] = copied(model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == state.max_steps:
                snapshots[state.global_step] = copied(model)

    return Catching


def average(states: list[State]) -> State:
    return {k: (sum(s[k].float() for s in states) / len(states)).to(states[0][k].dtype) for k in states[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", required=True)
    parser.add_argument("--recipe", type=json.loads, default={})
    parser.add_argument("--work", type=Path, default=Path("/tmp/checkpoint-scores"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    snapshots: dict[int, State] = {}
    trainer.TrainingCurves = catching(snapshots)
    row = train(args.student, args.recipe, None, args.work)
    model, teacher = row.pop("model"), teacher_stsb_test()
    best = copied(model)
    steps = sorted(snapshots)
    result = {"student": args.student, "recipe": args.recipe, "best_step": row["best_step"], "per_step": {}}
    for step in steps:
        model.load_state_dict(snapshots[step])
        result["per_step"][step] = stsb_spearman(model) / teacher
    result["averaged"] = {}
    for k in range(2, min(5, len(steps)) + 1):
        model.load_state_dict(average([snapshots[s] for s in steps[-k:]]))
        result["averaged"][k] = stsb_spearman(model) / teacher
    params = load_params(check_inputs=False)
    for label, state in (
        ("best", best),
        ("last", snapshots[steps[-1]]),
        ("average3", average([snapshots[s] for s in steps[-3:]])),
    ):
        model.load_state_dict(state)
        result[f"quality_{label}"] = quality(model, params)
    print(json.dumps(result))
    with args.out.open("a") as out:
        out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
