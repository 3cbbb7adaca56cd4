"""The flow's stage runner: one GPU per running stage, and the peak memory it reports for a stage."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from flows.dvc_stages import DevicePool, StageFailed, stream_dvc
from tests.project import ROOT, run

# What `dvc repro` does: a parent process that runs the stage's command as its child and waits for it.
PARENT = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', sys.argv[1]]).returncode)"
CHILD = (
    "import sys; block = bytearray({size}); block[::4096] = b'x' * len(block[::4096]); "
    "print('done'); sys.exit({status})"
)


@pytest.mark.parametrize(("visible", "devices"), [("0,1", ["0", "1"]), ("3", ["3"]), ("", []), ("-1", [])])
def test_the_pool_holds_the_gpus_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch, visible: str, devices: list[str]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert DevicePool.detect().devices == devices


def test_stages_at_once_get_different_gpus_and_a_third_waits() -> None:
    pool = DevicePool(["0", "1"])
    held: list[str] = []
    release = threading.Event()

    def stage() -> None:
        with pool.hold() as env:
            held.append(env["CUDA_VISIBLE_DEVICES"])
            release.wait(10)

    first = [threading.Thread(target=stage) for _ in range(2)]
    for thread in first:
        thread.start()
    while len(held) < 2:
        time.sleep(0.01)
    third = threading.Thread(target=stage)
    third.start()
    time.sleep(0.3)
    assert sorted(held) == ["0", "1"], "the third stage started before a GPU was free"
    release.set()
    for thread in [*first, third]:
        thread.join(10)
    assert len(held) == 3 and held[2] in {"0", "1"}


def test_one_gpu_or_none_changes_nothing() -> None:
    for devices in ([], ["0"]):
        with DevicePool(devices).hold() as env:
            assert env == {}


def test_a_stage_reports_the_peak_memory_of_the_command_dvc_ran(tmp_path: Path) -> None:
    """Measured from a fresh interpreter, as the flow's own process is: Linux gives a child the peak resident
    memory of the process it was forked from (``exec`` records the old address space's high-water mark), so
    from inside a pytest process grown by earlier tests the figure would be that process's."""
    measure = (
        "import logging, os, sys; from pathlib import Path; from flows.dvc_stages import stream_dvc; "
        "outcome, peak = stream_dvc(sys.argv[1:], Path(os.getcwd()), dict(os.environ), 's', logging.getLogger('t')); "
        "print(outcome, peak)"
    )
    result = run(
        [sys.executable, "-c", measure, sys.executable, "-c", PARENT, CHILD.format(size=600 << 20, status=0)],
        tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    outcome, peak = result.stdout.split()[-2:]
    assert outcome == "ran"
    assert 600 << 20 < int(peak) < 900 << 20, peak  # the child's 600 MB block, not the parent's few MB
    log = logging.getLogger("test-stage")
    with pytest.raises(StageFailed, match="exited with status 3"):
        stream_dvc([sys.executable, "-c", PARENT, CHILD.format(size=1, status=3)], tmp_path, dict(os.environ), "s", log)
