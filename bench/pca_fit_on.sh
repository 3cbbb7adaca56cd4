#!/usr/bin/env bash
# PCA fitted on the unit-length embeddings or on the outputs before Normalize (`pca.fit_on`), on the same
# students, fitting sentences and evaluation. RUN is a run of a profile whose STUDENTs are built and evaluated:
# their int8 copies, evaluation bodies and (where RUN got that far) fitting embeddings are reused. On a
# hard-linked copy of RUN, with this checkout's code and RUN's params.yaml, each mode fits, quantizes and
# evaluates every STUDENT at every DIM (DIMs need not be in RUN's pca.dims), then one table prints each fp32
# PCA model's STSb test score and mean kept share both ways.
# PARAMS: the params file to start from (default RUN's own; another when RUN predates a key this code needs).
#   bench/pca_fit_on.sh RUN "STUDENT..." "DIM..."     e.g. bench/pca_fit_on.sh /tmp/run "L3 L2" "128 64 32"
set -euo pipefail
code=$(realpath "$(dirname "$0")/..") run=$(realpath "$1") students=$2 dims=$3
params=$(realpath "${PARAMS:-$run/params.yaml}")
python=${PYTHON:-$code/.venv/bin/python}
source "$code/bench/run_copy.sh"
run_copy "$run" "$params"  # sets $copy and cds into it
for mode in unnormalized normalized; do
  "$python" - "$mode" "$dims" <<'EOF'
import sys, yaml
mode, dims = sys.argv[1], [int(d) for d in sys.argv[2].split()]
params = yaml.safe_load(open("run-params.yaml"))
params["pca"] |= {"fit_on": mode, "dims": sorted(set(params["pca"]["dims"]) | set(dims), reverse=True)}
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
EOF
  mkdir -p "results/$mode"
  for student in $students; do
    # the embeddings PCA fits on: read from RUN's cache, encoded only where RUN has not got that far
    PYTHONPATH=$code "$python" -P -m tasks.student_embeddings "$student" >> "$copy/stages.log" 2>&1 \
      || { echo "tasks.student_embeddings $student failed: $copy/stages.log" >&2; exit 1; }
    for dim in $dims; do
      for stage in pca quantize evaluate; do  # -P: this checkout's tasks/, not the copy's
        PYTHONPATH=$code "$python" -P -m tasks.$stage "$student" "$dim" >> "$copy/stages.log" 2>&1 \
          || { echo "tasks.$stage $student $dim failed: $copy/stages.log" >&2; exit 1; }
      done
      cp "metrics/eval/$student-pca$dim.json" "results/$mode/"
    done
  done
done
"$python" - <<'EOF'
import json
from pathlib import Path
print("| model | STSb test, fit on unnormalized | fit on normalized | difference | mean kept share, unnormalized | normalized |")
print("|---|---|---|---|---|---|")
for path in sorted(Path("results/unnormalized").glob("*.json")):
    label = path.stem
    raw, unit = (json.loads((Path("results") / mode / path.name).read_text())["variants"][label] for mode in ("unnormalized", "normalized"))
    a, b = raw["stsb_test_spearman"] * 100, unit["stsb_test_spearman"] * 100
    print(f"| {label} | {a:.2f} | {b:.2f} | {b - a:+.2f} | {raw['families_kept_mean']:.1%} | {unit['families_kept_mean']:.1%} |")
EOF
