"""Constants shared with the RTL, read from their single source of truth, rtl/tpu_pkg.sv."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "rtl" / "tpu_pkg.sv"
_LOCALPARAM = re.compile(r"^\s*localparam\s+int\s+(\w+)\s*=\s*(\d+)\s*;", re.M)


@cache
def constants() -> dict[str, int]:
    """Every `localparam int Name = <decimal>;` of tpu_pkg.sv, by name."""
    found = {name: int(value) for name, value in _LOCALPARAM.findall(PKG.read_text())}
    if not found:
        raise RuntimeError(f"no localparam found in {PKG}")
    return found


def const(name: str) -> int:
    try:
        return constants()[name]
    except KeyError:
        raise KeyError(f"{name} is not a localparam of {PKG.name}") from None
