"""Bad params stop `dvc repro` of a finished run at the validate stage, and leave every output in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.prefect_server import PrefectServer
from tests.project import run

BAD_EDITS = [  # (case, (section, key, bad value) in a finished run's params.yaml, a line of what `dvc repro` prints)
    (
        "layer outside the teacher",
        ("students", "L1", {"layers": [0, 9]}),
        "students.L1.layers: layer index [9] is outside the teacher",
    ),
    ("cron minute 61", ("schedule", "cron", "61 3 * * *"), "schedule.cron: '61 3 * * *' is not a valid 5-field cron"),
    (
        "missing corpus",
        ("prepare", "corpus", "data/no-such-corpus.txt"),
        "prepare.corpus: file or folder 'data/no-such-corpus.txt' does not exist",
    ),
]


@pytest.mark.parametrize(("case", "edit", "message"), BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_bad_params_leave_a_finished_run_intact_under_dvc_repro(
    finished_project: Path, case: str, edit: tuple[str, str, object], message: str
) -> None:
    project = finished_project
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "finished run"], project)
    outputs = sorted(p.relative_to(project) for p in (project / "models").rglob("*"))
    assert run(["dvc", "status"], project).stdout.strip() == "Data and pipelines are up to date."

    section, key, value = edit
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro"], project, check=False, timeout=600)

    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert run(["git", "status", "--porcelain"], project).stdout.splitlines() == [" M params.yaml"]
    assert sorted(p.relative_to(project) for p in (project / "models").rglob("*")) == outputs
    status = run(["dvc", "status"], project).stdout
    assert "validate:" in status and "deleted" not in status, status


def test_a_bad_task_file_stops_dvc_repro_and_the_flow_at_validate(
    finished_project: Path, prefect_server: PrefectServer
) -> None:
    """validate depends on the own task files and reads them whole: a qrels line naming a query that is not there
    stops both drivers with one line, before an evaluate stage has removed its outputs."""
    project = finished_project
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "finished run"], project)
    kept = {
        p: p.read_bytes() for folder in ("metrics/eval", "models") for p in (project / folder).rglob("*") if p.is_file()
    }
    qrels = project / "inputs" / "tasks" / "tiny" / "bbc_titles" / "qrels" / "test.tsv"
    lines = qrels.read_text().splitlines()
    qrels.write_text("\n".join([*lines, "q-nowhere\td-nowhere\t1"]) + "\n")
    line = (
        f"evaluate.tasks.titles: inputs/tasks/tiny/bbc_titles/qrels/test.tsv line {len(lines) + 1}: query-id "
        "'q-nowhere' is not in queries.jsonl"
    )
    repro = run(["dvc", "repro"], project, check=False, timeout=600)
    assert repro.returncode != 0 and line in repro.stdout + repro.stderr, (repro.stdout + repro.stderr)[-2000:]
    assert "Traceback" not in repro.stdout + repro.stderr
    flow = run(["python", "-m", "flows.pipeline"], project, check=False, env=prefect_server.env())
    assert flow.returncode != 0 and line in flow.stdout + flow.stderr, (flow.stdout + flow.stderr)[-3000:]
    assert re.findall(r"Running stage '([^']+)'", repro.stdout) == ["validate"]
    assert set(re.findall(r"Running stage '([^']+)'", flow.stdout + flow.stderr)) <= {"validate"}
    assert {p: p.read_bytes() for p in kept} == kept  # every evaluation and model as it was
    status = run(["dvc", "status"], project).stdout
    assert "deleted" not in status and "inputs/tasks" in status, status
