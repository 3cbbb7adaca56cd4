# Sourced by bench scripts that rerun stages on a finished run: `run_copy RUN PARAMS` makes a hard-linked
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
