#!/usr/bin/env bash
# The learning rate of a refined static student, tuned on STSb dev: RUN is a finished run of a profile (its
# prepared corpus and teacher embeddings are reused). On a hard-linked copy of RUN, with this checkout's code,
# a static student S is trained at each LR (LRxEPOCHS: for that many epochs; else the profile's) and its best
# STSb dev Spearman and step print; S0, the same table not refined, is the baseline (trained once, first).
# PARAMS: the params file to start from (default RUN's own; another when RUN predates a key this code needs).
#   bench/static_lr.sh RUN "LR[xEPOCHS]..."     e.g. bench/static_lr.sh /tmp/run "0.01 0.05 0.2 0.05x3"
set -euo pipefail
code=$(realpath "$(dirname "$0")/..") run=$(realpath "$1") rates=$2
params=$(realpath "${PARAMS:-$run/params.yaml}")
python=${PYTHON:-$code/.venv/bin/python}
source "$code/bench/run_copy.sh"
run_copy "$run" "$params"  # sets $copy and cds into it
for rate in none $rates; do
  "$python" - "$rate" <<'EOF'
import sys, yaml
rate, _, epochs = sys.argv[1].partition("x")
params = yaml.safe_load(open("run-params.yaml"))
params["students"] = {"S0": {"static": True, "train": False}} if rate == "none" else {
    "S": {"static": True, "distill": {"learning_rate": float(rate), **({"epochs": float(epochs)} if epochs else {})}}}
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
EOF
  name=$([ "$rate" = none ] && echo S0 || echo S)
  start=$(date +%s)
  PYTHONPATH=$code "$python" -P -m tasks.student "$name" >> "$copy/stages.log" 2>&1 \
    || { echo "tasks.student $name failed: $copy/stages.log" >&2; exit 1; }
  if [ "$rate" = none ]; then
    # the untrained table's STSb dev score, as the trainer's evaluator computes it for a trained one
    dev=$(PYTHONPATH=$code "$python" -P -c "
from sentence_transformers import SentenceTransformer
from sentence_distill.data.corpus import stsb_evaluator
print(round(stsb_evaluator('dev', batch_size=32)(SentenceTransformer('models/S0/student'))['sts-dev_spearman_cosine'], 4))")
    echo "S0 (not refined): STSb dev $dev, $(( $(date +%s) - start )) s"
  else
    "$python" -c "
import json; m = json.load(open('metrics/students/S.json'))
print(f\"S at learning rate x epochs $rate: best STSb dev {m['best_stsb_dev_spearman']:.4f} at step {m['best_step']} of {m['steps']}, $(( $(date +%s) - start )) s\")"
  fi
done
