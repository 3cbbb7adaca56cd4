"""``distill.precision``: which CPUs train in bfloat16 under ``auto``, read from real ``/proc/cpuinfo`` texts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentence_distill.config.schema import DistillParams
from sentence_distill.cpu import cpuinfo_text, native_bf16
from sentence_distill.students.trainer import resolved_precision

CPUINFO = Path(__file__).parent / "cpuinfo"


@pytest.mark.parametrize(
    ("file", "native"),
    [
        ("amd-epyc-avx512_vnni.txt", True),  # avx512_bf16: the machine the default run's figures come from
        ("intel-xeon-8480-amx_int8.txt", True),  # amx_bf16
        ("intel-i5-12400-avx_vnni.txt", False),  # int8 dot products, no bfloat16 ones
        ("intel-i7-4770-avx2.txt", False),
        ("arm-neoverse-none.txt", False),  # no x86 flags line: nothing known, float32
    ],
)
def test_bfloat16_is_native_only_on_cpus_that_say_so(file: str, native: bool) -> None:
    assert native_bf16((CPUINFO / file).read_text()) is native


def test_auto_resolves_to_this_machines_precision_unless_static_and_the_others_stay() -> None:
    assert resolved_precision(DistillParams(precision="fp32")).precision == "fp32"
    assert resolved_precision(DistillParams(precision="bf16")).precision == "bf16"
    native = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else native_bf16(cpuinfo_text())
    assert resolved_precision(DistillParams(precision="auto")).precision == ("bf16" if native else "fp32")
    assert resolved_precision(DistillParams(precision="auto"), static=True).precision == "fp32"  # a lookup
    assert resolved_precision(DistillParams(precision="bf16"), static=True).precision == "bf16"  # as asked
