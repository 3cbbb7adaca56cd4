# Sourced by bench scripts that rerun stages on a finished run (they set $code, the checkout whose code runs,
# and $python): `run_copy RUN PARAMS` makes a hard-linked
# copy of RUN (every file a stage writes is a new file, so RUN stays as it was), cds into it, keeps PARAMS
# as run-params.yaml for the script to derive params.yaml from, and removes the copy's params.yaml, a hard
# link to RUN's, so that it is written anew, never through the link.
run_copy() {
  local run=$1 params=$2
  copy=$(mktemp -d)/run
  cp -al "$run" "$copy"
  cd "$copy"
  cp "$params" run-params.yaml
  rm params.yaml
}

# `stage MODULE ARGS...`: run one stage of this checkout's code in the copy, its output appended to stages.log;
# prints its wall time, or stops the script when it fails.
stage() {
  local start=$(date +%s)
  PYTHONPATH=$code "$python" -P -m "$@" >> "$copy/stages.log" 2>&1 || { echo "$* failed: $copy/stages.log" >&2; exit 1; }
  echo "$*: $(( $(date +%s) - start )) s"
}
