"""Negative tests of the AXI protocol checkers (tb/sva): each violates one rule on purpose and expects the
Verilator simulation to fail with that assertion's name in its output.

The checkers are bound into tpu_csr and tpu_dma (so into tpu_top's s_axil_*/m_axi_* ports) in every
Verilator build. Rules on the inputs are broken by driving the ports by hand (the cocotb tests below);
rules on the DUT's own outputs by a mutated copy of the RTL (one exact textual replacement) running an
existing testbench. Icarus has no bind, so these run on Verilator only.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import cocotb
import pytest
from cocotb.triggers import ClockCycles, FallingEdge

from models.hw import const
from tb.common import runner
from tb.common.tb_base import TbBase
from tb.common.tools import RTL, rtl_sources

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
    fired = re.search(rf"Assertion failed in \S*\.{name}:", out.out + out.err)
    assert fired, f"the simulation failed, but not with {name}"


@pytest.mark.parametrize("case", list(HAND))
def test_checker_fires(capfd, case: str) -> None:
    top, name = HAND[case]
    expect_assertion(capfd, name, lambda: runner.run(
        "verilator", top, "tb.sva.test_sva", rtl_sources(top), PARAMS[top], testcase=case))


def mutate(tmp: Path, module: str, old: str, new: str) -> list[Path]:
    """rtl_sources(module) with rtl/<module>.sv replaced by a copy in which `old` (exactly once) is `new`."""
    text = (RTL / f"{module}.sv").read_text()
    assert text.count(old) == 1, f"mutation text must occur exactly once in {module}.sv"
    copy = tmp / f"{module}.sv"
    copy.write_text(text.replace(old, new))
    return [copy if p.name == copy.name else p for p in rtl_sources(module)]


@pytest.mark.parametrize("case", list(MUTANTS))
def test_checker_fires_on_mutant(capfd, case: str) -> None:
    module, old, new, tb_module, testcase, name = MUTANTS[case]
    with tempfile.TemporaryDirectory() as tmp:
        sources = mutate(Path(tmp), module, old, new)
        expect_assertion(capfd, name, lambda: runner.run(
            "verilator", module, tb_module, sources, PARAMS[module], testcase=testcase,
            variant=f"mutant_{case}"))
