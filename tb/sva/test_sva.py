"""Negative tests of the AXI protocol checkers (tb/sva): each violates one rule on purpose and expects the
Verilator simulation to fail with that assertion's name in its output.

The checkers are bound into tpu_csr and tpu_dma (so into tpu_top's s_axil_*/m_axi_* ports) in every
Verilator build. Rules on the inputs are broken by driving the ports by hand (the cocotb tests below);
rules on the DUT's own outputs by a mutated copy of the RTL (one exact textual replacement) running an
existing testbench. Rules that the real tpu_csr/tpu_dma ports cannot break, or that only formal proofs
switch on (the slave-fairness rules need MaxWait > 0, the pending bounds MaxPending > 0; simulation binds
the checkers with both 0), are broken at a checker built alone with those parameters set, its ports
driven by a misbehaving cocotb master or slave. Icarus has no bind, so these run on Verilator only.
Each case names the assertion it shows firing; tb/sva/test_assertion_table.py checks that every
assertion label in rtl/ and tb/sva/ has one.
"""

from __future__ import annotations

import re

import cocotb
import pytest
from cocotb.triggers import ClockCycles, FallingEdge

from models.hw import const
from tb.common import runner
from tb.common.mutate import mutate
from tb.common.runner import SVA
from tb.common.tb_base import TbBase
from tb.common.tools import rtl_sources

DMA_PARAMS = {"MaxBurst": 8, "MaxOutstanding": 4, "ImemWords": 128, "UbWords": 256, "WmWords": 128,
              "AccWords": 128, "BusW": 64}
CSR_INPUTS = ("s_axil_awaddr", "s_axil_awprot", "s_axil_awvalid", "s_axil_wdata", "s_axil_wstrb",
              "s_axil_wvalid", "s_axil_bready", "s_axil_araddr", "s_axil_arprot", "s_axil_arvalid",
              "s_axil_rready", "busy_i", "done_i", "err_i", "pc_i", "dma_cmd_ready_i", "dma_busy_i",
              "dma_done_i", "dma_err_i", "perf_array_busy_i", "perf_macs_i", "perf_wstall_i",
              "perf_dma_bytes_i", "perf_dma_stall_i")
DMA_INPUTS = ("cmd_valid_i", "cmd_dir_i", "cmd_host_addr_i", "cmd_sel_i", "cmd_mem_addr_i", "cmd_len_i",
              "wr_ready_i", "rd_req_ready_i", "rd_rsp_valid_i", "rd_rsp_data_i", "m_axi_awready",
              "m_axi_wready", "m_axi_bid", "m_axi_bresp", "m_axi_bvalid", "m_axi_arready", "m_axi_rid",
              "m_axi_rdata", "m_axi_rresp", "m_axi_rlast", "m_axi_rvalid")


async def start(dut, inputs: tuple[str, ...]) -> TbBase:
    tb = TbBase(dut)
    for name in inputs:
        getattr(dut, name).value = 0
    await tb.reset()
    return tb


async def drive(dut, cycles: int = 1, **values: int) -> None:
    """Set ports just after a falling edge and hold them for `cycles` rising edges."""
    await FallingEdge(dut.clk_i)
    for name, value in values.items():
        getattr(dut, name).value = value
    await ClockCycles(dut.clk_i, cycles)


# ---- AXI4-Lite master rules at tpu_csr (tpu_top's s_axil_*) -------------------------------------------
@cocotb.test()
async def aw_dropped(dut) -> None:
    """A second AW while the first is held (AWREADY low), withdrawn before AWREADY: AwHold."""
    await start(dut, CSR_INPUTS)
    await drive(dut, s_axil_awaddr=0x14, s_axil_awvalid=1)  # accepted: the slave now holds it
    await drive(dut, s_axil_awaddr=0x18, s_axil_awvalid=1)  # AWREADY is low: must stay
    await drive(dut, 4, s_axil_awvalid=0)


@cocotb.test()
async def w_changed(dut) -> None:
    """W data changed while WVALID waits for WREADY: WHold."""
    await start(dut, CSR_INPUTS)
    await drive(dut, s_axil_wdata=1, s_axil_wstrb=0xF, s_axil_wvalid=1)
    await drive(dut, s_axil_wdata=2)
    await drive(dut, 4, s_axil_wdata=3)


@cocotb.test()
async def ar_dropped(dut) -> None:
    """An AR withdrawn while the previous read's response waits for RREADY: ArHold."""
    await start(dut, CSR_INPUTS)
    await drive(dut, s_axil_araddr=0x40, s_axil_arvalid=1)
    await drive(dut, s_axil_araddr=0x44, s_axil_arvalid=1)
    await drive(dut, 4, s_axil_arvalid=0)


# ---- AXI4 slave rules at tpu_dma (tpu_top's m_axi_*): the host-memory model misbehaves ---------------
@cocotb.test()
async def b_without_write(dut) -> None:
    """BVALID while no write burst was sent: BOnlyAfterWrite."""
    await start(dut, DMA_INPUTS)
    await drive(dut, 4, m_axi_bvalid=1)


@cocotb.test()
async def r_without_read(dut) -> None:
    """RVALID while no read burst was accepted: ROnlyAfterRead."""
    await start(dut, DMA_INPUTS)
    await drive(dut, 4, m_axi_rvalid=1)


@cocotb.test()
async def rlast_early(dut) -> None:
    """RLAST on the first beat of a multi-beat read burst: RLastBeat."""
    await start(dut, DMA_INPUTS)
    await drive(dut, cmd_valid_i=1, cmd_dir_i=const("DmaDirToChip"), cmd_sel_i=const("MemSelAcc"),
                cmd_len_i=4, wr_ready_i=1, m_axi_arready=1)
    await drive(dut, cmd_valid_i=0)
    for _ in range(8):
        if int(dut.m_axi_arvalid.value):
            break
        await ClockCycles(dut.clk_i, 1)
    assert int(dut.m_axi_arlen.value) > 0, "the burst must have several beats"
    await drive(dut, 8, m_axi_rvalid=1, m_axi_rlast=1)


# ---- A checker alone, fairness and pending bounds switched on: a misbehaving master or slave ---------
AXI_IN = ("awid", "awaddr", "awlen", "awsize", "awburst", "awvalid", "awready", "wdata", "wstrb", "wlast",
          "wvalid", "wready", "bresp", "bvalid", "bready", "arid", "araddr", "arlen", "arsize", "arburst",
          "arvalid", "arready", "rdata", "rresp", "rlast", "rvalid", "rready")
AXIL_IN = ("awaddr", "awprot", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid",
           "bready", "araddr", "arprot", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready")
MAX_WAIT = 3  # the checkers' MaxWait in these builds
# A legal AXI4 burst of one beat at address 0 (DataW 32: AxSIZE 2, INCR).
AW1 = {"awaddr": 0, "awlen": 0, "awsize": 2, "awburst": 1}
AR1 = {"araddr": 0, "arlen": 0, "arsize": 2, "arburst": 1}


async def axi_start(dut) -> TbBase:
    tb = await start(dut, AXI_IN)
    await drive(dut, 0, **AW1, **AR1)
    return tb


async def axi_write_done(dut) -> None:
    """An AW and its one W beat accepted: the slave now owes a B."""
    await drive(dut, awvalid=1, awready=1, wvalid=1, wready=1, wlast=1)
    await drive(dut, awvalid=0, awready=0, wvalid=0, wready=0, wlast=0)


async def axi_read_accepted(dut) -> None:
    await drive(dut, arvalid=1, arready=1)
    await drive(dut, arvalid=0, arready=0)


@cocotb.test()
async def axi_aw_hold(dut) -> None:
    """AWVALID withdrawn before AWREADY: AwHold."""
    await axi_start(dut)
    await drive(dut, awvalid=1)
    await drive(dut, 4, awvalid=0)


@cocotb.test()
async def axi_ar_hold(dut) -> None:
    """AR address changed while ARVALID waits for ARREADY: ArHold."""
    await axi_start(dut)
    await drive(dut, arvalid=1)
    await drive(dut, 4, araddr=0x40)


@cocotb.test()
async def axi_w_hold(dut) -> None:
    """W data changed while WVALID waits for WREADY (its AW accepted before): WHold."""
    await axi_start(dut)
    await drive(dut, awvalid=1, awready=1, awlen=1)
    await drive(dut, awvalid=0, awready=0, wvalid=1, wdata=1)
    await drive(dut, 4, wdata=2)


@cocotb.test()
async def axi_b_hold(dut) -> None:
    """BVALID withdrawn before BREADY: BHold (tpu_dma holds BREADY high whenever a B is owed)."""
    await axi_start(dut)
    await axi_write_done(dut)
    await drive(dut, bvalid=1)
    await drive(dut, 4, bvalid=0)


@cocotb.test()
async def axi_r_hold(dut) -> None:
    """RDATA changed while RVALID waits for RREADY: RHold."""
    await axi_start(dut)
    await axi_read_accepted(dut)
    await drive(dut, rvalid=1, rlast=1, rdata=1)
    await drive(dut, 4, rdata=2)


@cocotb.test()
async def axi_aw_wait(dut) -> None:
    """AWREADY never comes: AwWait."""
    await axi_start(dut)
    await drive(dut, 2 * MAX_WAIT, awvalid=1)


@cocotb.test()
async def axi_w_wait(dut) -> None:
    """WREADY never comes: WWait."""
    await axi_start(dut)
    await drive(dut, awvalid=1, awready=1)
    await drive(dut, 2 * MAX_WAIT, awvalid=0, awready=0, wvalid=1, wlast=1)


@cocotb.test()
async def axi_ar_wait(dut) -> None:
    """ARREADY never comes: ArWait."""
    await axi_start(dut)
    await drive(dut, 2 * MAX_WAIT, arvalid=1)


@cocotb.test()
async def axi_b_wait(dut) -> None:
    """The B of a complete write burst never comes: BWait."""
    await axi_start(dut)
    await axi_write_done(dut)
    await drive(dut, 2 * MAX_WAIT, bready=1)


@cocotb.test()
async def axi_r_wait(dut) -> None:
    """The R beat of an accepted read never comes: RWait."""
    await axi_start(dut)
    await axi_read_accepted(dut)
    await drive(dut, 2 * MAX_WAIT, rready=1)


@cocotb.test()
async def axil_r_hold(dut) -> None:
    """RVALID withdrawn before RREADY: RHold."""
    await start(dut, AXIL_IN)
    await drive(dut, arvalid=1, arready=1)
    await drive(dut, arvalid=0, arready=0, rvalid=1)
    await drive(dut, 4, rvalid=0)


@cocotb.test()
async def axil_b_without_write(dut) -> None:
    """BVALID with no write accepted: BOnlyAfterWrite."""
    await start(dut, AXIL_IN)
    await drive(dut, 4, bvalid=1)


@cocotb.test()
async def axil_r_without_read(dut) -> None:
    """RVALID with no read accepted: ROnlyAfterRead."""
    await start(dut, AXIL_IN)
    await drive(dut, 4, rvalid=1)


@cocotb.test()
async def axil_two_writes(dut) -> None:
    """A second write accepted before the first one's B (MaxPending 1): WrPendBound."""
    await start(dut, AXIL_IN)
    await drive(dut, 2, awvalid=1, awready=1)
    await drive(dut, 4, awvalid=0, awready=0)


@cocotb.test()
async def axil_two_reads(dut) -> None:
    """A second read accepted before the first one's R (MaxPending 1): RdPendBound."""
    await start(dut, AXIL_IN)
    await drive(dut, 2, arvalid=1, arready=1)
    await drive(dut, 4, arvalid=0, arready=0)


@cocotb.test()
async def axil_b_wait(dut) -> None:
    """The B of an accepted write never comes: BWait."""
    await start(dut, AXIL_IN)
    await drive(dut, awvalid=1, awready=1, wvalid=1, wready=1, wstrb=0xF)
    await drive(dut, 2 * MAX_WAIT, awvalid=0, awready=0, wvalid=0, wready=0, bready=1)


@cocotb.test()
async def axil_r_wait(dut) -> None:
    """The R of an accepted read never comes: RWait."""
    await start(dut, AXIL_IN)
    await drive(dut, arvalid=1, arready=1)
    await drive(dut, 2 * MAX_WAIT, arvalid=0, arready=0, rready=1)


# test: (checker module, assertion that must fire)
ALONE = {
    "axi_aw_hold": ("tpu_axi_checker", "AwHold"),
    "axi_ar_hold": ("tpu_axi_checker", "ArHold"),
    "axi_w_hold": ("tpu_axi_checker", "WHold"),
    "axi_b_hold": ("tpu_axi_checker", "BHold"),
    "axi_r_hold": ("tpu_axi_checker", "RHold"),
    "axi_aw_wait": ("tpu_axi_checker", "AwWait"),
    "axi_w_wait": ("tpu_axi_checker", "WWait"),
    "axi_ar_wait": ("tpu_axi_checker", "ArWait"),
    "axi_b_wait": ("tpu_axi_checker", "BWait"),
    "axi_r_wait": ("tpu_axi_checker", "RWait"),
    "axil_r_hold": ("tpu_axil_checker", "RHold"),
    "axil_b_without_write": ("tpu_axil_checker", "BOnlyAfterWrite"),
    "axil_r_without_read": ("tpu_axil_checker", "ROnlyAfterRead"),
    "axil_two_writes": ("tpu_axil_checker", "WrPendBound"),
    "axil_two_reads": ("tpu_axil_checker", "RdPendBound"),
    "axil_b_wait": ("tpu_axil_checker", "BWait"),
    "axil_r_wait": ("tpu_axil_checker", "RWait"),
}
ALONE_PARAMS = {
    "tpu_axi_checker": {"AddrW": 16, "DataW": 32, "IdW": 1, "MaxBurst": 4, "MaxOutstanding": 2,
                        "MaxWait": MAX_WAIT},
    "tpu_axil_checker": {"MaxPending": 1, "MaxWait": MAX_WAIT},
}

HAND = {
    "aw_dropped": ("tpu_csr", "AwHold"), "w_changed": ("tpu_csr", "WHold"),
    "ar_dropped": ("tpu_csr", "ArHold"),
    "b_without_write": ("tpu_dma", "BOnlyAfterWrite"), "r_without_read": ("tpu_dma", "ROnlyAfterRead"),
    "rlast_early": ("tpu_dma", "RLastBeat"),
}

# Mutants: (RTL file, exact text, replacement, testbench module, cocotb test, assertion that must fire).
MUTANTS = {
    "drop_wlast": ("tpu_dma", "assign m_axi_wlast   = wbeat_q == lf_q[lf_rp_q];",
                   "assign m_axi_wlast   = 1'b0;", "tb.dma.test_dma", "reset_mid_burst", "WLastBeat"),
    "bvalid_not_held": ("tpu_csr", "end else if (s_axil_bready) begin\n        b_valid_q <= 1'b0;",
                        "end else begin\n        b_valid_q <= 1'b0;", "tb.csr.test_csr", "register_access",
                        "BHold"),
}
PARAMS = {"tpu_dma": DMA_PARAMS, "tpu_csr": {}}
pytestmark = pytest.mark.skipif("verilator" not in runner.selected_simulators(),
                                reason="the checkers are bound only in Verilator builds (SIM excludes it)")


def expect_assertion(capfd, name: str, run) -> None:
    with pytest.raises((AssertionError, RuntimeError)):  # Verilator $stop: the simulator exits 1
        run()
    out = capfd.readouterr()
    # Verilator: "%Error: <file>:<line>: Assertion failed in <scope>.<label>: ..."
    fired = set(re.findall(r"Assertion failed in \S*?\.(\w+):", out.out + out.err))
    assert fired == {name}, f"expected exactly {name} to fire, got {sorted(fired) or 'none'}"


@pytest.mark.parametrize("case", list(HAND))
def test_checker_fires(capfd, case: str) -> None:
    top, name = HAND[case]
    expect_assertion(capfd, name, lambda: runner.run(
        "verilator", top, "tb.sva.test_sva", rtl_sources(top), PARAMS[top], testcase=case))


@pytest.mark.parametrize("case", list(MUTANTS))
def test_checker_fires_on_mutant(capfd, case: str) -> None:
    module, old, new, tb_module, testcase, name = MUTANTS[case]
    sources = mutate(f"{module}.verilator.{case}", rtl_sources(module), {f"{module}.sv": [(old, new)]})
    expect_assertion(capfd, name, lambda: runner.run(
        "verilator", module, tb_module, sources, PARAMS[module], testcase=testcase, variant=f"mutant_{case}"))


@pytest.mark.parametrize("case", list(ALONE))
def test_checker_alone_fires(capfd, case: str) -> None:
    module, name = ALONE[case]
    expect_assertion(capfd, name, lambda: runner.run(
        "verilator", module, "tb.sva.test_sva", [SVA / f"{module}.sv"], ALONE_PARAMS[module], testcase=case))
