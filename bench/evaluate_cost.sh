#!/usr/bin/env bash
# What a code change costs the evaluate stage, measured side by side: BEFORE and AFTER are two checkouts
# of this project, RUN a finished run of the profile (data/, models/, metrics/). On a hard-linked copy of
# RUN, each round evaluates the teacher and STUDENT (its body cache emptied, as DVC leaves it) with each
# checkout's code and params.yaml, interleaved; with DIM, only STUDENT's DIM-dimensional PCA models
# (from RUN's body cache of STUDENT). Prints wall and CPU (user + system) seconds per round: on a
# shared machine the CPU seconds move less with what else runs.
#   bench/evaluate_cost.sh BEFORE AFTER RUN [STUDENT] [ROUNDS] [DIM]
set -euo pipefail
before=$(realpath "$1") after=$(realpath "$2") run=$(realpath "$3") student=${4:-L3} rounds=${5:-2} dim=${6:-}
python=${PYTHON:-$after/.venv/bin/python}
copy=$(mktemp -d)/run
cp -al "$run" "$copy"  # hard links: every file this script writes is a new file, RUN stays as it was
cd "$copy"
if [ -n "$dim" ]; then targets=("$student $dim"); else targets=(teacher "$student"); fi
for round in $(seq "$rounds"); do
  for code in "$before" "$after"; do
    for target in "${targets[@]}"; do
      [ -n "$dim" ] || rm -rf "data/evaluation_bodies/$student"
      rm -f params.yaml
      cp "$code/params.yaml" params.yaml
      # -P: the checkout's tasks/, not the copy's; $target unquoted: "L3 128" is two arguments
      PYTHONPATH=$code /usr/bin/time -f "%e %U %S" -o "$copy/time" "$python" -P -m tasks.evaluate $target > "$copy/last.log" 2>&1
      read -r wall user system < "$copy/time"
      echo "round $round $code $target wall $wall s cpu $(echo "$user + $system" | bc) s"
    done
  done
done
