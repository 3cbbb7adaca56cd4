"""The Prefect UI shows a real pipeline run: flow run page Completed, report artifact with its table.

Renders the pages in headless Chromium (``apt-get install chromium``; ``.ci/run`` installs it) and
keeps screenshots under ``test-output/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.prefect_server import PrefectServer
from tests.project import ROOT, run

CHROMIUM = shutil.which("chromium")
OUTPUT = ROOT / "test-output"

# Locally a missing browser skips the test; in CI (``CI`` set, as ``.ci/run`` does) it fails.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium; .ci/run does)",
)


def chromium(url: str, tmp_path: Path, *args: str) -> str:
    """Load ``url`` in a fresh headless profile; the virtual time budget lets the single-page app render."""
    assert CHROMIUM is not None, "chromium is not installed, and CI needs the browser test (apt-get install chromium)"
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def render(url: str, tmp_path: Path, screenshot: str) -> str:
    """The rendered DOM of ``url``, and a screenshot of it in ``test-output/``."""
    OUTPUT.mkdir(exist_ok=True)
    chromium(url, tmp_path, f"--screenshot={OUTPUT / screenshot}", "--window-size=1400,1000")
    assert (OUTPUT / screenshot).stat().st_size > 0
    return chromium(url, tmp_path, "--dump-dom")


def test_pipeline_run_and_report_in_ui(prefect_server: PrefectServer, finished_project: Path, tmp_path: Path) -> None:
    """On a finished run every stage comes back Cached in seconds; the report is published all the same."""
    # The session's server holds other tests' runs too: this test's run is the one that started after this moment.
    since = datetime.now(UTC).isoformat()
    run(["python", "-m", "flows.pipeline"], finished_project, env=prefect_server.env())

    [flow_run] = prefect_server.post(
        "/flow_runs/filter",
        {"flows": {"name": {"any_": ["distill-pipeline"]}}, "flow_runs": {"start_time": {"after_": since}}},
    )
    assert flow_run["state"]["type"] == "COMPLETED"
    artifacts = {
        a["key"]: a
        for a in prefect_server.post(
            "/artifacts/filter",
            {
                "artifacts": {
                    "key": {"any_": ["distill-report", "distill-tradeoffs"]},
                    "flow_run_id": {"any_": [flow_run["id"]]},
                }
            },
        )
    }
    assert set(artifacts) == {"distill-report", "distill-tradeoffs"}

    run_page = render(f"{prefect_server.url}/runs/flow-run/{flow_run['id']}", tmp_path, "ui-flow-run.png")
    assert flow_run["name"] in run_page
    assert "Completed" in run_page

    # /artifacts/artifact/<id>: the /artifacts/key/<key> page of this UI shows no markdown body.
    report_page = render(
        f"{prefect_server.url}/artifacts/artifact/{artifacts['distill-report']['id']}", tmp_path, "ui-report.png"
    )
    assert "<table" in report_page
    assert "STSb test" in report_page
    assert "teacher" in report_page

    table_page = render(
        f"{prefect_server.url}/artifacts/artifact/{artifacts['distill-tradeoffs']['id']}", tmp_path, "ui-tradeoffs.png"
    )
    assert "stsb_test_spearman" in table_page
    assert "teacher" in table_page
