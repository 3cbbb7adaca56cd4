"""The flow's device pool: with several GPUs, stages that run at once each get one of their own."""

from __future__ import annotations

import threading
import time

import pytest

from flows.dvc_stages import DevicePool


@pytest.mark.parametrize(("visible", "devices"), [("0,1", ["0", "1"]), ("3", ["3"]), ("", []), ("-1", [])])
def test_the_pool_holds_the_gpus_this_process_may_use(monkeypatch: pytest.MonkeyPatch, visible: str, devices: list[str]) -> None:
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
