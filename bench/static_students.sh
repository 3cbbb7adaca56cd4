#!/usr/bin/env bash
# Static students on a finished run of another teacher, without running its whole profile: on a hard-linked copy
# of RUN, with this checkout's code, S0 (model2vec's distillation, not refined) and S (refined: the default
# profile's learning rate and epochs, or SPEC) are built by the student stage, evaluated on every task family by
# the evaluate stage, and timed against the teacher by the benchmark stage (teacher, S0 and S only, no PCA); the
# report's model rows print. RUN's prepared data, teacher embeddings and teacher evaluation are reused as they are.
# PARAMS: the params file to start from (default RUN's own; another when RUN predates a key this code needs).
#   PARAMS=profiles/reference.yaml bench/static_students.sh /work/refrun ['{learning_rate: 0.02, epochs: 6}']
set -euo pipefail
code=$(realpath "$(dirname "$0")/..") run=$(realpath "$1") spec=${2:-"{learning_rate: 0.02, epochs: 6}"}
params=$(realpath "${PARAMS:-$run/params.yaml}")
python=${PYTHON:-$code/.venv/bin/python}
source "$code/bench/run_copy.sh"
run_copy "$run" "$params"  # sets $copy and cds into it
"$python" - "$spec" <<'EOF'
import sys, yaml
params = yaml.safe_load(open("run-params.yaml"))
params["students"] = {"S0": {"static": True, "train": False}, "S": {"static": True, "distill": yaml.safe_load(sys.argv[1])}}
params["pca"]["dims"] = []
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
EOF
for name in S0 S; do stage tasks.student $name; stage tasks.evaluate $name; done
stage tasks.benchmark
stage tasks.report
sed -n '/^## Model compression/,/^## Embedding compression/p' reports/report.md
echo "run copy: $copy"
