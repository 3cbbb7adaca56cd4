"""What this machine's CPU offers, read from ``/proc/cpuinfo`` (Linux; elsewhere nothing is known and the callers
take their safe default): the int8 kernels the benchmark and ONNX Runtime's quantization pick, and whether bfloat16
training steps run natively."""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # the CPU multiplies bfloat16 itself (oneDNN's kernels for it)


def cpuinfo_text() -> str:
    return CPUINFO.read_text() if CPUINFO.is_file() else ""


def first_processor(cpuinfo: str) -> dict[str, str]:
    """The first processor's fields (``model name``, ``flags``, ...) of a ``/proc/cpuinfo`` text."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags(cpuinfo: str) -> set[str]:
    return set(first_processor(cpuinfo).get("flags", "").split())


def native_bf16(cpuinfo: str) -> bool:
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_FLAGS)
