#!/usr/bin/env bash
# Matryoshka against PCA on a finished run of another teacher, without running its whole profile: on a hard-linked
# copy of RUN, with this checkout's code, a pruned student (L4: 4 layers) and the same student trained with
# MatryoshkaLoss (L4m: matryoshka_dims 128 and 64), each 1 epoch at 3e-4 by default (SPEC: their distill), with
# PCA to 128 and 64 dimensions, fp32 only (no int8 models), evaluated on every task family; prints each cut beside
# the PCA of the same student and of the plain one. RUN's prepared data, teacher embeddings and evaluation are reused.
# PARAMS: the params file to start from (default RUN's own; another when RUN predates a key this code needs).
#   PARAMS=profiles/reference.yaml bench/matryoshka_students.sh /work/refrun ['{learning_rate: 3.0e-4}']
set -euo pipefail
code=$(realpath "$(dirname "$0")/..") run=$(realpath "$1") spec=${2:-"{learning_rate: 3.0e-4}"}
params=$(realpath "${PARAMS:-$run/params.yaml}")
python=${PYTHON:-$code/.venv/bin/python}
source "$code/bench/run_copy.sh"
run_copy "$run" "$params"  # sets $copy and cds into it
"$python" - "$spec" <<'PY'
import sys, yaml
params = yaml.safe_load(open("run-params.yaml"))
distill = yaml.safe_load(sys.argv[1])
params["students"] = {"L4": {"num_layers": 4, "distill": distill},
                      "L4m": {"num_layers": 4, "matryoshka_dims": [128, 64], "distill": distill}}
params["pca"]["dims"] = [128, 64]
params["quantize"]["backends"] = []
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
PY
for name in L4 L4m; do
  stage tasks.student $name
  stage tasks.student_embeddings $name
  stage tasks.evaluate $name
  for dim in 128 64; do stage tasks.pca $name $dim; stage tasks.evaluate $name $dim; done
done
"$python" - <<'PY'
import json
from pathlib import Path
rows = {}
for file in Path("metrics/eval").glob("L4*.json"):
    rows |= json.loads(file.read_text())["variants"]
teacher = json.loads(Path("metrics/eval/teacher.json").read_text())["variants"]["teacher"]["stsb_test_spearman"]
print(f"teacher STSb test {100 * teacher:.2f}")
print("| dim | L4m cut | L4m-pca (same student) | lead | L4-pca (plain student) | lead |\n|---|---|---|---|---|---|")
print(f"| full | {100 * rows['L4m']['stsb_test_spearman']:.2f} | - | - | L4 {100 * rows['L4']['stsb_test_spearman']:.2f} | "
      f"{100 * (rows['L4m']['stsb_test_spearman'] - rows['L4']['stsb_test_spearman']):+.2f} |")
for dim in (128, 64):
    cut, same, plain = (rows[k]["stsb_test_spearman"] for k in (f"L4m-mrl{dim}", f"L4m-pca{dim}", f"L4-pca{dim}"))
    print(f"| {dim} | {100 * cut:.2f} | {100 * same:.2f} | {100 * (cut - same):+.2f} | {100 * plain:.2f} | {100 * (cut - plain):+.2f} |")
for label in ("L4", "L4m", "L4m-mrl128", "L4m-pca128", "L4-pca128", "L4m-mrl64", "L4m-pca64", "L4-pca64"):
    print(label, f"4-family mean {100 * rows[label]['families_kept_mean']:.1f}%")
PY
echo "run copy: $copy"
