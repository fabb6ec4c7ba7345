"""The TB base every testbench derives from: clock, reset, seeded randomness, cycle helpers."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from tb.common import fcov
from tb.common.xcheck import XCheck

CLOCK_PERIOD_NS = 10


class TbBase:
    """Owns the clock (`clk_i`), the active-low asynchronous reset (`rst_ni`), the seeded RNG and the X/Z
    monitor (`self.xcheck`, tb/common/xcheck.py: subclasses say what it watches; it starts when reset is
    first released).

    Randomness comes only from `self.rng`, seeded by cocotb's per-test seed, so SEED=<n> reproduces a run.
    Stimulus is driven just after the falling edge and sampled at the rising edge, which keeps
    drive and sample apart on both simulators.
    """

    def __init__(self, dut) -> None:
        self.dut = dut
        self.log = dut._log
        # cocotb derives each test's RANDOM_SEED from the run's seed and the test's name, so a test draws
        # the same stimulus whether it runs alone (TESTCASE=...) or with the others; SEED sets the run's.
        self.rng = np.random.default_rng(cocotb.RANDOM_SEED)
        run_seed = os.environ.get("COCOTB_RANDOM_SEED", "?")
        self.log.info("test seed %d from run seed %s (rerun with SEED=%s)",
                      cocotb.RANDOM_SEED, run_seed, run_seed)
        self.xcheck = XCheck(dut, CLOCK_PERIOD_NS)
        Clock(dut.clk_i, CLOCK_PERIOD_NS, unit="ns").start()
        fcov.attach(dut)  # functional-coverage monitors, only under make coverage

    async def reset(self, cycles: int = 2) -> None:
        """Assert rst_ni for `cycles` clocks, then release it between edges (and start the X/Z monitor)."""
        self.dut.rst_ni.value = 0
        await ClockCycles(self.dut.clk_i, cycles)
        await FallingEdge(self.dut.clk_i)
        self.dut.rst_ni.value = 1
        self.xcheck.start()

    async def cycles(self, n: int) -> None:
        await ClockCycles(self.dut.clk_i, n)

    async def rising(self) -> None:
        await RisingEdge(self.dut.clk_i)

    async def falling(self) -> None:
        await FallingEdge(self.dut.clk_i)


def pack(row, width: int) -> int:
    """Signed codes -> one packed vector (element j at bits [j*width +: width]): how packed array ports
    and memory words look from cocotb."""
    mask = (1 << width) - 1
    return sum((int(v) & mask) << (j * width) for j, v in enumerate(np.asarray(row, dtype=np.int64).tolist()))


def unpack(word: int, n: int, width: int) -> np.ndarray:
    """One packed vector -> n signed codes."""
    mask, half = (1 << width) - 1, 1 << (width - 1)
    return np.array([(((word >> (j * width)) & mask) ^ half) - half for j in range(n)], dtype=np.int64)


def param(dut, name: str) -> int:
    """An HDL parameter as an int (both simulators expose parameters as handles)."""
    return int(getattr(dut, name).value)
