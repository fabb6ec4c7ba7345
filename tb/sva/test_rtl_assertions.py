"""Negative tests: every assertion in rtl/ (and the X/Z monitor) fires when it is violated on purpose.

Each cocotb test below breaks one rule, at the smallest size that shows it, and then runs on: if the
simulation is still alive some cycles later, the check did not fire and the test fails. The pytest
entry points expect the run to FAIL and the simulator's log to name the check.

* Port rules (tpu_array's double-buffer rules, tpu_munit's issue and alignment rules): the module's
  ports are driven illegally, on the real RTL.
* Internal invariants (tpu_vpu's latency, tpu_dma's response FIFO bound) and the master rules of the AXI4
  port checker at tpu_dma (4 KiB, burst shape, outstanding bursts, W after AW): a mutated copy of the RTL
  (tb/common/mutate.py) breaks the design, ordinary stimulus (with some AXI channels stalled, so that the
  port checker sees the bad burst before the DMA testbench's own handshake checks do) runs into the check.
* The X/Z monitor (tb/common/xcheck.py, Icarus): a tpu_dma whose AR/AW valid register has no reset.

SVA lives behind SYSTOLE_SVA, which only the Verilator build sets; the X/Z monitor needs a 4-state
simulator. Each case runs on the simulator that has the check (and is skipped when SIM excludes it).
"""

from __future__ import annotations

import itertools
import re
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
    """One UB transfer through tpu_dma (its own testbench's TB), with the RAM's `stall` channel (ar, aw or
    w) never ready; stall="mute": no RAM but a slave that accepts every request and never answers (no R
    beat, no B), so the bursts in flight pile up."""
    from tb.dma.test_dma import SELS, DmaTb  # the DMA testbench's TB, not its tests

    tb = DmaTb(dut)
    if stall == "mute":
        for name in ("arready", "awready", "wready"):
            getattr(dut, f"m_axi_{name}").value = 1
        for name in ("rvalid", "bvalid", "rlast", "rresp", "bresp", "rdata", "rid", "bid"):
            getattr(dut, f"m_axi_{name}").value = 0
    else:
        ram = axi_ram(dut, 1 << 16)
        if stall:
            channels = {"ar": ram.read_if.ar_channel, "aw": ram.write_if.aw_channel,
                        "w": ram.write_if.w_channel}
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
async def dma_4k_write(dut) -> None:
    """The port checker's Aw4k (same mutant): a write starting 32 bytes before 0x1000, AW stalled."""
    await _dma_transfer(dut, 1, 0x1000 - 32, 16, stall="aw")


@cocotb.test()
async def dma_burst_read(dut) -> None:
    """The port checker's ArBurst (mutant: bursts of MaxBurst + 1 beats): a 16-beat read, AR stalled."""
    await _dma_transfer(dut, 0, 0, 16, stall="ar")


@cocotb.test()
async def dma_burst_write(dut) -> None:
    """The port checker's AwBurst (same mutant): a 16-beat write, AW stalled."""
    await _dma_transfer(dut, 1, 0, 16, stall="aw")


@cocotb.test()
async def dma_ar_dropped(dut) -> None:
    """The port checker's ArHold (mutant: the address withdrawn after one cycle, accepted or not): a read,
    AR stalled."""
    await _dma_transfer(dut, 0, 0, 16, stall="ar")


@cocotb.test()
async def dma_aw_dropped(dut) -> None:
    """The port checker's AwHold (same mutant): a write, AW stalled."""
    await _dma_transfer(dut, 1, 0, 16, stall="aw")


@cocotb.test()
async def dma_outstanding_read(dut) -> None:
    """The port checker's ArOutstanding (mutant: one burst more than MaxOutstanding in flight): a read of
    8 bursts whose R beats never come."""
    await _dma_transfer(dut, 0, 0, 64, stall="mute")


@cocotb.test()
async def dma_outstanding_write(dut) -> None:
    """The port checker's AwOutstanding (same mutant): a write of 8 bursts whose B responses never come."""
    await _dma_transfer(dut, 1, 0, 64, stall="mute")


@cocotb.test()
async def dma_w_before_aw(dut) -> None:
    """The port checker's WAfterAw (mutant: WVALID without a presented burst): a write of 8 bursts whose B
    responses never come, so the fifth AW waits for a free slot while its first beat is ready."""
    await _dma_transfer(dut, 1, 0, 64, stall="mute")


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
    mutant: str = ""      # name of the mutated build (cases with the same edits share it); default testcase

    @property
    def label(self) -> str:
        """The assertion this case shows firing, as <module>.<label> (test_assertion_table.py)."""
        scope, _, name = self.check.rpartition(".")
        module = {"u_axi_checker": "tpu_axi_checker", "u_axil_checker": "tpu_axil_checker"}
        return f"{module.get(scope.split('.')[0], self.toplevel)}.{name}"


DMA_CHK = "u_axi_checker.g_master_assert."
NO_4K_SPLIT = {"tpu_dma.sv": [("if (CmpW'(burst) > CmpW'(to4k)) burst = TotW'(to4k);", "")]}
BURST_TOO_LONG = {"tpu_dma.sv": [("if (burst > TotW'(MaxBurst)) burst = TotW'(MaxBurst);",
                                  "if (burst > TotW'(MaxBurst + 1)) burst = TotW'(MaxBurst + 1);")]}
ONE_MORE_BURST = {"tpu_dma.sv": [("&& outst_q < OutW'(MaxOutstanding);",
                                  "&& outst_q <= OutW'(MaxOutstanding);")]}
AX_DROPPED = {"tpu_dma.sv": [("        end else if (ax_hs) begin\n          axv_q <= 1'b0;",
                              "        end else begin\n          axv_q <= 1'b0;")]}
W_WITHOUT_AW = {"tpu_dma.sv": [("assign m_axi_wvalid  = wr_dir && lf_have && (beat_full_q || stop_q);",
                                "assign m_axi_wvalid  = wr_dir && (beat_full_q || stop_q);")]}
CASES = [
    Case("RuleA_CommitAfterSwitch", "tpu_array", "array_rule_a", {"P": 2}),
    Case("RuleB_SwitchAfterCommit", "tpu_array", "array_rule_b", {"P": 2}),
    Case("TileIsPRows", "tpu_array", "array_tile_rows", {"P": 2}),
    Case("YAligned", "tpu_munit", "munit_y_aligned", {"P": 2}),
    Case("IssueOnlyWhenAccepted", "tpu_munit", "munit_issue", {"P": 2}),
    Case("VpuLatency", "tpu_vpu", "vpu_latency", {"P": 2},
         {"tpu_vpu.sv": [("assign out_valid_o = valid_q[NStage];",
                          "assign out_valid_o = valid_q[NStage-1];")]}),
    Case(DMA_CHK + "Ar4k", "tpu_dma", "dma_4k", DMA_PARAMS, NO_4K_SPLIT, mutant="no_4k_split"),
    Case(DMA_CHK + "Aw4k", "tpu_dma", "dma_4k_write", DMA_PARAMS, NO_4K_SPLIT, mutant="no_4k_split"),
    Case(DMA_CHK + "ArBurst", "tpu_dma", "dma_burst_read", DMA_PARAMS, BURST_TOO_LONG,
         mutant="burst_too_long"),
    Case(DMA_CHK + "AwBurst", "tpu_dma", "dma_burst_write", DMA_PARAMS, BURST_TOO_LONG,
         mutant="burst_too_long"),
    Case(DMA_CHK + "ArHold", "tpu_dma", "dma_ar_dropped", DMA_PARAMS, AX_DROPPED, mutant="ax_dropped"),
    Case(DMA_CHK + "AwHold", "tpu_dma", "dma_aw_dropped", DMA_PARAMS, AX_DROPPED, mutant="ax_dropped"),
    Case(DMA_CHK + "ArOutstanding", "tpu_dma", "dma_outstanding_read", DMA_PARAMS, ONE_MORE_BURST,
         mutant="one_more_burst"),
    Case(DMA_CHK + "AwOutstanding", "tpu_dma", "dma_outstanding_write", DMA_PARAMS, ONE_MORE_BURST,
         mutant="one_more_burst"),
    Case(DMA_CHK + "WAfterAw", "tpu_dma", "dma_w_before_aw", DMA_PARAMS, W_WITHOUT_AW),
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
        name = case.mutant or case.testcase
        variant = f"mutant_{name}"
        sources = mutate(f"{case.toplevel}.{case.sim}.{name}", sources, case.edits)
    log_file = BUILD / "sva" / f"{case.testcase}.{case.sim}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(AssertionError, match="failed"):
        runner.run(case.sim, case.toplevel, "tb.sva.test_rtl_assertions", sources, case.params,
                   testcase=case.testcase, variant=variant, log_file=log_file)
    # Not just the name: the cocotb log also prints each test's docstring, which names the check.
    log = log_file.read_text()
    fired = case.fired.format(top=case.toplevel, check=case.check)
    assert fired in log, f"{case.testcase}: no {fired!r} in the log ({log_file})"
    others = set(re.findall(r"Assertion failed in (\S+?):", log)) - {f"{case.toplevel}.{case.check}"}
    assert not others, f"{case.testcase}: other assertions fired too: {sorted(others)}"
