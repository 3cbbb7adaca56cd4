"""The distillation pipeline as one Prefect flow: the same DAG as ``dvc repro``.

python -m flows.pipeline            # run with params.yaml; no server needed
python -m flows.pipeline --jobs 2   # at most 2 independent stages at once
PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.pipeline   # report to a running UI
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

if __name__ == "__main__":  # bad params: exit 2 before importing Prefect, which creates its home folder
    from sentence_distill.config.load import load_or_exit

    load_or_exit()

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.dvc_stages import DevicePool, pipeline_stages, run_stage
from sentence_distill.cli import configure_logging
from sentence_distill.config.load import DEFAULT_PARAMS_FILE, load_params
from sentence_distill.paths import REPORT_DIR, SELECTED_FILE
from sentence_distill.records.selection import Selection
from sentence_distill.report.answer import answer_section
from sentence_distill.report.rows import collect_rows


@task(name="publish-report")
def publish_report(report_dir: Path = REPORT_DIR, selected_file: Path = SELECTED_FILE) -> str:
    """Show the selected model, then the trade-off table and report, in the Prefect UI under stable artifact keys."""
    create_markdown_artifact(
        key="distill-selected",
        markdown="\n".join(answer_section(Selection.read(selected_file))),
        description="The model the selection rule (select: in params.yaml) picked, and why",
    )
    rows = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.table_fields().items()}
        for row in collect_rows()
    ]
    create_table_artifact(key="distill-tradeoffs", table=rows, description="Every variant, measured the same way")
    markdown = (report_dir / "report.md").read_text()
    create_markdown_artifact(key="distill-report", markdown=markdown, description="Distillation trade-off report")
    return str((report_dir / "report.md").resolve())


@flow(name="distill-pipeline")
def distill_pipeline(project_dir: str = ".", jobs: int = 1) -> str:
    """Validate params, run dvc.yaml's stages that are not up to date as a DAG of tasks (at most ``jobs`` at once,
    each on a GPU of its own when there are several), publish the report."""
    root = Path(project_dir).resolve()
    with contextlib.chdir(root):
        load_params(DEFAULT_PARAMS_FILE)
        devices = DevicePool.detect() if jobs > 1 else DevicePool([])
        stages = pipeline_stages(root)
        current = [stage.name for stage in stages if stage.current]
        if current:  # one line, not a task each: a run with nothing to do costs what `dvc status` does
            get_run_logger().info("%d of %d stages up to date: %s", len(current), len(stages), ", ".join(current))
        with ThreadPoolTaskRunner(max_workers=jobs) as runner:
            futures = {}
            for stage in stages:
                if stage.current:
                    continue
                upstream = [futures[name] for name in stage.upstream if name in futures]
                futures[stage.name] = runner.submit(
                    run_stage, {"stage": stage, "root": root, "devices": devices}, wait_for=upstream
                )
            for future in futures.values():
                future.result()  # the first failed stage, upstream first, fails the flow
        return publish_report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="independent stages run at once (default 1)")
    args = parser.parse_args(argv)
    report = distill_pipeline(".", jobs=args.jobs)
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(sys.argv[1:]))
