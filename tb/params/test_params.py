"""Parameter checks: every configuration the RTL cannot implement stops elaboration with a clear message.

Each bad configuration is elaborated on the selected simulators and must fail, naming the broken rule:
Verilator's elaboration-time `$fatal` (its message), Icarus 11's unknown-module instance named after the
rule (Icarus 11 has no elaboration-time `$fatal`; see the parameter-check blocks in rtl/). A good
configuration of each toplevel elaborates cleanly with the same command, so the failures are the checks'.
Only elaboration runs (iverilog to a .vvp, verilator --lint-only): nothing is simulated.
"""

from __future__ import annotations

import subprocess
import tempfile

import pytest

from tb.common.core_env import CORE_SOURCES
from tb.common.runner import VERILATOR_CHECK_ARGS as VERILATOR_ARGS  # the builds' own warning policy
from tb.common.tools import ROOT, require, rtl_sources, setup_tool_env

TOP_SOURCES = (*CORE_SOURCES, "tpu_csr", "tpu_dma", "tpu_top")
SOURCES = {"tpu_array": ("tpu_delay", "tpu_pe", "tpu_array"), "tpu_core": CORE_SOURCES,
           "tpu_dma": ("tpu_dma",), "tpu_top": TOP_SOURCES}

# (toplevel, parameters, Verilator's message fragment, Icarus's rule name)
BAD = [
    ("tpu_array", {"P": 0}, "P = 0: the array needs P >= 1", "tpu_array__P_must_be_at_least_1"),
    ("tpu_array", {"AccW": 24}, "AccW = 24: must be >= 2*DataW = 32",
     "tpu_array__AccW_must_hold_an_exact_product"),
    ("tpu_core", {"DataW": 17}, "DataW = 17, FracW = 8",
     "tpu_core__DataW_must_be_2_to_16_and_FracW_below_it"),
    ("tpu_core", {"FracW": 16}, "DataW = 16, FracW = 16",
     "tpu_core__DataW_must_be_2_to_16_and_FracW_below_it"),
    ("tpu_core", {"ImemDepth": 1}, "ImemDepth = 1: must be 2 .. 65536",
     "tpu_core__ImemDepth_must_be_2_to_65536"),
    ("tpu_core", {"UbDepth": 4097}, "UbDepth = 4097: must be 2 .. 4096",
     "tpu_core__UbDepth_must_be_2_to_4096"),
    ("tpu_core", {"P": 8, "WmDepth": 4}, "WmDepth = 4: must be max(2, P = 8)",
     "tpu_core__WmDepth_must_be_P_to_4096"),
    ("tpu_core", {"AccDepth": 8192}, "AccDepth = 8192: must be 2 .. 4096",
     "tpu_core__AccDepth_must_be_2_to_4096"),
    ("tpu_dma", {"BusW": 48}, "BusW = 48: must be a power of two from 8 to 1024",
     "tpu_dma__BusW_must_be_a_power_of_two_from_8_to_1024"),
    ("tpu_dma", {"BusW": 2048}, "BusW = 2048", "tpu_dma__BusW_must_be_a_power_of_two_from_8_to_1024"),
    ("tpu_dma", {"AddrW": 8}, "AddrW = 8: must be 12 .. 64", "tpu_dma__AddrW_must_be_12_to_64"),
    ("tpu_dma", {"MaxBurst": 257}, "MaxBurst = 257",
     "tpu_dma__MaxBurst_must_be_1_to_256_and_MaxOutstanding_at_least_1"),
    ("tpu_dma", {"MaxOutstanding": 0}, "MaxOutstanding = 0",
     "tpu_dma__MaxBurst_must_be_1_to_256_and_MaxOutstanding_at_least_1"),
    ("tpu_dma", {"UbWordW": 48}, "UB 48",
     "tpu_dma__memory_word_widths_must_be_powers_of_two_of_at_least_8_bits"),
    ("tpu_dma", {"UbWords": 1 << 17}, "exceeds 2^MemAddrW = 65536",
     "tpu_dma__memory_depths_must_fit_MemAddrW"),
    ("tpu_top", {"P": 3}, "P = 3: must be a power of two up to 128",
     "tpu_top__P_must_be_a_power_of_two_up_to_128"),
    ("tpu_top", {"BusW": 96}, "BusW = 96", "tpu_dma__BusW_must_be_a_power_of_two_from_8_to_1024"),
    ("tpu_top", {"UbDepth": 8192}, "UbDepth = 8192", "tpu_core__UbDepth_must_be_2_to_4096"),
]
GOOD = [("tpu_array", {"P": 3}), ("tpu_core", {"P": 3, "WmDepth": 3}), ("tpu_dma", {"BusW": 128}),
        ("tpu_top", {"P": 2, "BusW": 32})]


def elaborate(sim: str, top: str, params: dict[str, int]) -> subprocess.CompletedProcess:
    """Elaborate `top` with `params` on `sim` (no simulation); the completed process."""
    setup_tool_env()
    files = [str(f) for f in rtl_sources(*SOURCES[top])]
    with tempfile.TemporaryDirectory() as tmp:
        if sim == "icarus":
            cmd = [require("iverilog"), "-g2012", "-s", top, "-o", f"{tmp}/a.vvp",
                   *[f"-P{top}.{k}={v}" for k, v in params.items()], *files]
        else:
            cmd = [require("verilator"), "--lint-only", *VERILATOR_ARGS, "--top-module", top,
                   *[f"-G{k}={v}" for k, v in params.items()], *files]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("top", "params", "message", "rule"), BAD,
                         ids=[f"{t}-{'-'.join(f'{k}{v}' for k, v in p.items())}" for t, p, _, _ in BAD])
def test_bad_parameters_stop_elaboration(sim: str, top: str, params: dict, message: str, rule: str) -> None:
    r = elaborate(sim, top, params)
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"{top} {params} elaborated on {sim}:\n{out}"
    if sim == "icarus":
        assert f"Unknown module type: {rule}" in out, f"{top} {params} on icarus: no {rule!r} in\n{out}"
    else:
        assert "USERFATAL" in out and message in out, f"{top} {params} on verilator: no {message!r} in\n{out}"


@pytest.mark.parametrize(("top", "params"), GOOD, ids=[t for t, _ in GOOD])
def test_good_parameters_elaborate(sim: str, top: str, params: dict) -> None:
    r = elaborate(sim, top, params)
    assert r.returncode == 0, f"{top} {params} failed to elaborate on {sim}:\n{r.stdout}{r.stderr}"
