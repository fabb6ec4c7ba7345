"""Negative tests: every assertion in rtl/ (and the X/Z monitor) fires when it is violated on purpose.

Each cocotb test below breaks one rule, at the smallest size that shows it, and then runs on: if the
simulation is still alive some cycles later, the check did not fire and the test fails. The pytest
entry points expect the run to FAIL and the simulator's log to name the check.

* Port rules (tpu_array's double-buffer rules, tpu_munit's issue and alignment rules): the module's
  ports are driven illegally, on the real RTL.
* Internal invariants (tpu_vpu's latency, tpu_dma's 4 KiB rule and response FIFO bound): a mutated
  copy of the RTL (tb/common/mutate.py) breaks the design, ordinary stimulus runs into the check.
* The X/Z monitor (tb/common/xcheck.py, Icarus): a tpu_dma whose AR/AW valid register has no reset.

SVA lives behind SYSTOLE_SVA, which only the Verilator build sets; the X/Z monitor needs a 4-state
simulator. Each case runs on the simulator that has the check (and is skipped when SIM excludes it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cocotb
import pytest

from tb.common import runner
from tb.common.axi import axi_ram
from tb.common.mutate import mutate
from tb.common.tb_base import TbBase, param
from tb.common.tools import BUILD, rtl_sources

ALIVE_CYCLES = 20  # a check that fires stops the simulation well before this


class PortTb(TbBase):
    """Drives every input of the DUT to 0, resets, and drives named inputs for one edge at a time."""

    def __init__(self, dut, inputs: tuple[str, ...]) -> None:
        super().__init__(dut)
        self.inputs = inputs
        self.idle()

    def idle(self) -> None:
        for name in self.inputs:
            getattr(self.dut, name).value = 0

    async def edge(self, **values: int) -> None:
        """Put `values` (others 0) on the inputs for the next rising edge (call it after a falling edge,
        as reset() leaves it; it returns after the next one)."""
        self.idle()
        for name, v in values.items():
            getattr(self.dut, name).value = v
        await self.rising()
        await self.falling()

    async def survive(self) -> None:
        self.idle()
        await self.cycles(ALIVE_CYCLES)
        raise AssertionError("the violation was not detected: the simulation ran on")


ARRAY_IN = ("w_valid_i", "w_last_i", "w_data_i", "x_valid_i", "x_switch_i", "x_data_i")
MUNIT_IN = ("start_i", "start_ub_i", "start_acc_i", "start_m_i", "start_acc_flag_i", "start_switch_i",
            "ub_rdata_i", "y_valid_i", "y_data_i", "acc_rdata_i")


async def _tile(tb: PortTb, rows: int, **last_edge: int) -> None:
    """Shift a tile of `rows` rows into the array (w_last on the last one, with `last_edge` beside it)."""
    for r in range(rows):
        extra = last_edge if r == rows - 1 else {}
        await tb.edge(w_valid_i=1, w_last_i=int(r == rows - 1), **extra)


@cocotb.test()
async def array_rule_a(dut) -> None:
    """RuleA_CommitAfterSwitch: a tile committed in the same edge as the switch that uses the last one."""
    tb = PortTb(dut, ARRAY_IN)
    await tb.reset()
    p = param(dut, "P")
    await _tile(tb, p)
    await _tile(tb, p, x_valid_i=1, x_switch_i=1)  # commit at the switch's own edge: 0 < P - 1
    await tb.survive()


@cocotb.test()
async def array_rule_b(dut) -> None:
    """RuleB_SwitchAfterCommit: a switch with no tile committed since reset."""
    tb = PortTb(dut, ARRAY_IN)
    await tb.reset()
    await tb.edge(x_valid_i=1, x_switch_i=1)
    await tb.survive()


@cocotb.test()
async def array_tile_rows(dut) -> None:
    """TileIsPRows: a tile of one row."""
    tb = PortTb(dut, ARRAY_IN)
    await tb.reset()
    await _tile(tb, 1)
    await tb.survive()


@cocotb.test()
async def munit_y_aligned(dut) -> None:
    """YAligned: an array result arrives when no row is in the write-back stage."""
    tb = PortTb(dut, MUNIT_IN)
    await tb.reset()
    await tb.edge()
    await tb.edge(y_valid_i=1)
    await tb.survive()


@cocotb.test()
async def munit_issue(dut) -> None:
    """IssueOnlyWhenAccepted: a second MATMUL one edge after a 4-row one."""
    tb = PortTb(dut, MUNIT_IN)
    await tb.reset()
    await tb.edge(start_i=1, start_m_i=4)
    assert not int(dut.accept_o.value), "accept_o high while 4 rows are being read"
    await tb.edge(start_i=1, start_m_i=4)
    await tb.survive()


@cocotb.test()
async def vpu_latency(dut) -> None:
    """VpuLatency (mutant: out_valid_o one stage early): one row through the pipeline."""
    tb = PortTb(dut, ("in_valid_i", "in_first_i", "in_data_i", "in_aux_i", "path_i", "act_i", "shift_i",
                      "slope_i", "loss_scale_i", "loss_shift_i", "bias_i"))
    await tb.reset()
    await tb.edge(in_valid_i=1, in_first_i=1)
    await tb.survive()


async def _dma_transfer(dut, direction: int, host_addr: int, n: int, stall: str = "") -> None:
    """One UB transfer through tpu_dma (its own testbench's TB), with the RAM's `stall` channel never
    ready."""
    from tb.dma.test_dma import SELS, DmaTb  # the DMA testbench's TB, not its tests

    tb = DmaTb(dut)
    ram = axi_ram(dut, 1 << 16)
    if stall:
        channels = {"ar": ram.read_if.ar_channel, "w": ram.write_if.w_channel}
        channels[stall].set_pause_generator(itertools.repeat(True))
    await tb.reset()
    cocotb.start_soon(tb.transfer(direction, host_addr, SELS[1], 0, n))
    await tb.cycles(10 * n)
    raise AssertionError("the violation was not detected: the simulation ran on")


@cocotb.test()
async def dma_4k(dut) -> None:
    """The port checker's Ar4k (mutant: bursts not split at 4 KiB): a read starting 32 bytes before 0x1000
    (AR stalled: the testbench's own 4 KiB check at the handshake would fire first)."""
    await _dma_transfer(dut, 0, 0x1000 - 32, 16, stall="ar")


@cocotb.test()
async def dma_fifo(dut) -> None:
    """RspFifoBounded (mutant: one more read request than the FIFO holds): a write with W stalled."""
    await _dma_transfer(dut, 1, 0, 16, stall="w")


@cocotb.test()
async def dma_x(dut) -> None:
    """X/Z monitor (mutant: the AR/AW valid register has no reset): m_axi_arvalid is X after reset."""
    await _dma_transfer(dut, 0, 0, 16)


# ---- pytest entry points ----------------------------------------------------------------------------
DMA_PARAMS = {"BusW": 64, "MaxBurst": 8, "MaxOutstanding": 4, "ImemWords": 128, "UbWords": 256,
              "WmWords": 128, "AccWords": 128}


MODULES = {"tpu_array": ("tpu_delay", "tpu_pe"), "tpu_munit": ("tpu_delay",)}  # besides the toplevel


@dataclass(frozen=True)
class Case:
    check: str            # what the log must name
    toplevel: str
    testcase: str
    params: dict = field(default_factory=dict)
    edits: dict = field(default_factory=dict)  # mutate() edits; empty: the real RTL
    sim: str = "verilator"
    fired: str = "Assertion failed in {top}.{check}"  # Verilator's message for a failing assertion


CASES = [
    Case("RuleA_CommitAfterSwitch", "tpu_array", "array_rule_a", {"P": 2}),
    Case("RuleB_SwitchAfterCommit", "tpu_array", "array_rule_b", {"P": 2}),
    Case("TileIsPRows", "tpu_array", "array_tile_rows", {"P": 2}),
    Case("YAligned", "tpu_munit", "munit_y_aligned", {"P": 2}),
    Case("IssueOnlyWhenAccepted", "tpu_munit", "munit_issue", {"P": 2}),
    Case("VpuLatency", "tpu_vpu", "vpu_latency", {"P": 2},
         {"tpu_vpu.sv": [("assign out_valid_o = s6_valid_q;", "assign out_valid_o = s5_valid_q;")]}),
    Case("u_axi_checker.g_master_assert.Ar4k", "tpu_dma", "dma_4k", DMA_PARAMS,
         {"tpu_dma.sv": [("if (CmpW'(burst) > CmpW'(to4k)) burst = TotW'(to4k);", "")]}),
    Case("RspFifoBounded", "tpu_dma", "dma_fifo", DMA_PARAMS,
         {"tpu_dma.sv": [("inflight_q < 3'(RspDepth);", "inflight_q <= 3'(RspDepth);")]}),
    Case("m_axi_arvalid", "tpu_dma", "dma_x", DMA_PARAMS,
         {"tpu_dma.sv": [("      axv_q     <= 1'b0;\n      ax_addr_q <= '0;", "      ax_addr_q <= '0;")]},
         sim="icarus", fired="X check: {top}.{check} = X after reset"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.testcase for c in CASES])
def test_check_fires(case: Case) -> None:
    if case.sim not in runner.selected_simulators():
        pytest.skip(f"the check needs {case.sim}")
    sources = rtl_sources(*MODULES.get(case.toplevel, ()), case.toplevel)
    variant = None
    if case.edits:
        variant = f"mutant_{case.testcase}"
        sources = mutate(f"{case.toplevel}.{case.sim}.{case.testcase}", sources, case.edits)
    log_file = BUILD / "sva" / f"{case.testcase}.{case.sim}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(AssertionError, match="failed"):
        runner.run(case.sim, case.toplevel, "tb.sva.test_rtl_assertions", sources, case.params,
                   testcase=case.testcase, variant=variant, log_file=log_file)
    # Not just the name: the cocotb log also prints each test's docstring, which names the check.
    fired = case.fired.format(top=case.toplevel, check=case.check)
    assert fired in log_file.read_text(), f"{case.testcase}: no {fired!r} in the log ({log_file})"
