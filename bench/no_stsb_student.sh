#!/usr/bin/env bash
# The in-domain question (issue 14): a student trained on a corpus without STSb sentences, beside the same student
# of RUN trained with them. On a hard-linked copy of RUN, with this checkout's code: prepare again with
# include_stsb_train false (the corpus alone, as many sentences as RUN's max_sentences), the teacher's embeddings
# of the new sentences (RUN's cache keeps the others), then the student NAME (default L6) as RUN's params spec it,
# and its evaluation on every task family, fp32 only. Prints prepare's counts and the student's row beside RUN's.
# PARAMS: the params file to start from (default RUN's own; another when RUN predates a key this code needs).
#   PARAMS=profiles/reference.yaml bench/no_stsb_student.sh /work/refrun [L6]
set -euo pipefail
code=$(realpath "$(dirname "$0")/..") run=$(realpath "$1") name=${2:-L6}
params=$(realpath "${PARAMS:-$run/params.yaml}")
python=${PYTHON:-$code/.venv/bin/python}
source "$code/bench/run_copy.sh"
run_copy "$run" "$params"  # sets $copy and cds into it
"$python" - "$name" <<'PY'
import sys, yaml
params = yaml.safe_load(open("run-params.yaml"))
params["prepare"]["include_stsb_train"] = False
params["students"] = {sys.argv[1]: params["students"][sys.argv[1]]}
params["quantize"]["backends"] = []
yaml.safe_dump(params, open("params.yaml", "w"), sort_keys=False)
PY
rm -rf data/prepared data/teacher.json metrics/eval/"$name".json  # hard links to RUN's: written anew, never through them
stage tasks.prepare
stage tasks.teacher_embeddings
stage tasks.student "$name"
stage tasks.evaluate "$name"
"$python" - "$run" "$name" <<'PY'
import json, sys
from pathlib import Path
run, name = Path(sys.argv[1]), sys.argv[2]
print("prepare:", json.loads(Path("metrics/prepare.json").read_text()))
for label, folder in (("without STSb", Path(".")), ("with STSb (RUN)", run)):
    file = folder / "metrics" / "eval" / f"{name}.json"
    if not file.is_file():
        print(f"{name} {label}: {file} not found (RUN has not evaluated it yet)")
        continue
    m = json.loads(file.read_text())["variants"][name]
    print(f"{name} {label}: STSb test {100 * m['stsb_test_spearman']:.2f} ({100 * m['stsb_test_kept']:.2f}% of the teacher), "
          f"classification {100 * m['classification_kept']:.1f}%, clustering {100 * m['clustering_kept']:.1f}%, "
          f"retrieval {100 * m['retrieval_kept']:.1f}%, four-family mean {100 * m['families_kept_mean']:.1f}%")
PY
echo "run copy: $copy"
