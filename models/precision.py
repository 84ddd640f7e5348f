"""The reader's number format, and whether this CPU multiplies bfloat16 in hardware.

Apart from models/reader.py so that settings can name the format without importing torch.
"""

from __future__ import annotations

from typing import Literal

Precision = Literal["auto", "fp32", "bf16"]


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX). There the reader
    in bfloat16 takes about half the time of float32; elsewhere bfloat16 is emulated and slower."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: Precision) -> Literal["fp32", "bf16"]:
    """``auto``: bf16 where the CPU has it in hardware, else fp32."""
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision
