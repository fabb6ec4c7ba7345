"""X/Z checks: once reset is released, no watched control signal is ever X or Z, and no watched payload
is X or Z while its valid is high.

Icarus is 4-state, so this is where an unreset register or an undriven net shows up; Verilator is
2-state (an X can never be seen), so there the monitor does nothing.

Cost: the monitor wakes Python only when a watched signal changes (a value-change trigger per signal),
never once per clock; a changed value that is already 0/1 costs one wake-up. Only a value that is not
0/1 waits for the end of the time step (ReadOnly) and is checked again, so a delta-cycle glitch through
X (an always_comb settling) is not reported; one that is still there when the time step settles fails
the test, naming the signal, the cycle and the value.

Usage: TbBase owns one `XCheck` (`tb.xcheck`); a testbench registers what to watch in its constructor
(`watch`, or the per-module helpers below) and TbBase.reset() starts the monitor when reset is first
released. The hierarchical helpers name the ports of submodule instances (u_core.u_munit.start_i, ...),
not local nets, so they follow the documented interfaces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import cocotb
from cocotb.triggers import ReadOnly
from cocotb.utils import get_sim_time


class XCheck:
    """The X/Z monitor of one test (see the module docstring)."""

    def __init__(self, dut, period_ns: float) -> None:
        self.dut = dut
        self.period_ns = period_ns
        # XCHECK=0 turns it off (to measure its cost, or to look at a run that has X on purpose).
        self.enabled = (not cocotb.SIM_NAME.lower().startswith("verilator")
                        and os.environ.get("XCHECK", "1") != "0")
        self.started = False
        # valid handle -> (name, [(payload handle, name)])
        self._groups: dict[str, tuple[object, list[tuple[object, str]]]] = {}

    # ---- what to watch --------------------------------------------------------------------------
    def watch(self, handle, payloads: Iterable = (), name: str | None = None) -> None:
        """Watch `handle` (a valid, ready or other control signal: never X/Z) and `payloads` (never X/Z
        while `handle` is 1)."""
        name = name or handle._path
        if name in self._groups:
            self._groups[name][1].extend((p, p._path) for p in payloads)
        else:
            self._groups[name] = (handle, [(p, p._path) for p in payloads])

    def watch_names(self, scope, spec: dict[str, tuple[str, ...]]) -> None:
        """`spec` maps a control signal's name in `scope` to the names of its payloads."""
        for valid, payloads in spec.items():
            self.watch(getattr(scope, valid), [getattr(scope, p) for p in payloads])

    # ---- running ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start watching (idempotent); called by TbBase.reset() when reset is first released."""
        if self.started or not self.enabled or not self._groups:
            return
        self.started = True
        n = sum(1 + len(p) for _, p in self._groups.values())
        self.dut._log.info("X/Z monitor: watching %d signals (%d valid/ready)", n, len(self._groups))
        for name, (valid, payloads) in self._groups.items():
            cocotb.start_soon(self._watch_valid(valid, name, payloads))
            for p, pname in payloads:
                cocotb.start_soon(self._watch_payload(p, pname, valid))

    def _fail(self, name: str, value, why: str) -> None:
        t = get_sim_time("ns")
        raise AssertionError(f"X check: {name} = {value} {why} at cycle {int(t // self.period_ns)} ({t} ns)")

    async def _watch_valid(self, valid, name: str, payloads: list[tuple[object, str]]) -> None:
        while True:
            v = valid.value
            if not v.is_resolvable:
                await ReadOnly()
                v = valid.value
                if not v.is_resolvable:
                    self._fail(name, v, "after reset")
            if payloads and v == 1:
                for p, pname in payloads:
                    if not p.value.is_resolvable:
                        await ReadOnly()
                        if valid.value == 1 and not p.value.is_resolvable:
                            self._fail(pname, p.value, f"while {name} is 1")
            await valid.value_change

    async def _watch_payload(self, p, pname: str, valid) -> None:
        while True:
            await p.value_change
            if not p.value.is_resolvable and valid.value == 1:
                await ReadOnly()
                if valid.value == 1 and not p.value.is_resolvable:
                    self._fail(pname, p.value, f"while {valid._path} is 1")


# ---- Watch lists of the design's interfaces (port names of each module, docs/architecture.md) -------
AXI_MASTER_OUT = {
    "awvalid": ("awid", "awaddr", "awlen", "awsize", "awburst", "awlock", "awcache", "awprot"),
    "wvalid": ("wdata", "wstrb", "wlast"),
    "bready": (),
    "arvalid": ("arid", "araddr", "arlen", "arsize", "arburst", "arlock", "arcache", "arprot"),
    "rready": (),
}
AXIL_SLAVE_OUT = {
    "awready": (), "wready": (), "bvalid": ("bresp",), "arready": (), "rvalid": ("rdata", "rresp"),
}
DMA_PORT = {  # tpu_dma, its command and on-chip memory ports (the m_axi side is AXI_MASTER_OUT)
    "cmd_valid_i": ("cmd_dir_i", "cmd_host_addr_i", "cmd_sel_i", "cmd_mem_addr_i", "cmd_len_i"),
    "cmd_ready_o": (), "busy_o": (), "done_o": ("err_o",),
    "wr_valid_o": ("wr_sel_o", "wr_addr_o", "wr_data_o"), "wr_ready_i": (),
    "rd_req_valid_o": ("rd_sel_o", "rd_addr_o"), "rd_req_ready_i": (), "rd_rsp_valid_i": (),
}
CORE_PORT = {  # tpu_core: run control, host port outputs, DMA instructions (its host requests come from
    # the testbench or from tpu_dma's memory port, watched there)
    "start_i": (), "busy_o": (), "done_o": ("error_o",), "host_req_ready_o": (),
    "host_rsp_valid_o": ("host_rsp_err_o",),
    "dma_req_o": ("dma_out_o", "dma_sel_o", "dma_addr_o", "dma_len_o", "dma_host_o"),
}
# Inside tpu_core: the issue handshakes of the four units and the array's valid signals. Memory write
# data is not checked here: a unit may legitimately move never-written (X) words.
CORE_UNITS = {
    "u_wunit": {"start_i": ("start_addr_i",), "accept_o": (), "swap_ok_o": (), "idle_o": (),
                "wm_re_o": ("wm_raddr_o",), "w_valid_o": ("w_last_o",)},
    "u_munit": {"start_i": ("start_ub_i", "start_acc_i", "start_m_i", "start_acc_flag_i", "start_switch_i"),
                "accept_o": (), "idle_o": (), "ub_re_o": ("ub_raddr_o",), "x_valid_o": ("x_switch_o",),
                "y_valid_i": (), "acc_re_o": ("acc_raddr_o",), "acc_we_o": ("acc_waddr_o",), "row_o": ()},
    "u_vunit": {"start_i": ("start_ldb_i", "start_m_i", "start_path_i"), "idle_o": (),
                "ub_re_o": ("ub_raddr_o",), "aux_re_o": ("aux_raddr_o",), "acc_re_o": ("acc_raddr_o",),
                "ub_we_o": ("ub_waddr_o",), "acc_we_o": ("acc_waddr_o",)},
    "u_cunit": {"start_i": ("start_src_i", "start_dst_i", "start_len_i"), "idle_o": (),
                "ub_re_o": ("ub_raddr_o",), "wm_re_o": ("wm_raddr_o",), "ub_we_o": ("ub_waddr_o",),
                "wm_we_o": ("wm_waddr_o",)},
    "u_array": {"w_valid_i": ("w_last_i",), "x_valid_i": ("x_switch_i",), "y_valid_o": ()},
}
CSR_PORT = {  # tpu_csr towards the core and the DMA
    "start_o": (), "irq_o": (),
    "dma_cmd_valid_o": ("dma_cmd_dir_o", "dma_cmd_host_addr_o", "dma_cmd_sel_o", "dma_cmd_mem_addr_o",
                        "dma_cmd_len_o"),
}


def _prefixed(prefix: str, spec: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}_{v}": tuple(f"{prefix}_{p}" for p in ps) for v, ps in spec.items()}


def watch_axi_master(xc: XCheck, scope, prefix: str = "m_axi") -> None:
    """Every output of an AXI4 master port."""
    xc.watch_names(scope, _prefixed(prefix, AXI_MASTER_OUT))


def watch_axil_slave(xc: XCheck, scope, prefix: str = "s_axil") -> None:
    """Every output of an AXI4-Lite slave port."""
    xc.watch_names(scope, _prefixed(prefix, AXIL_SLAVE_OUT))


def watch_core(xc: XCheck, core) -> None:
    """tpu_core's ports and the handshakes between its units."""
    xc.watch_names(core, CORE_PORT)
    for inst, spec in CORE_UNITS.items():
        xc.watch_names(getattr(core, inst), spec)


def watch_dma(xc: XCheck, dma) -> None:
    """tpu_dma's command and memory ports and its AXI master outputs."""
    xc.watch_names(dma, DMA_PORT)
    watch_axi_master(xc, dma)


def watch_top(xc: XCheck, top) -> None:
    """Every output of tpu_top, and the handshakes between its units."""
    watch_axil_slave(xc, top)
    watch_axi_master(xc, top)
    xc.watch(top.irq_o)
    xc.watch_names(top.u_csr, CSR_PORT)
    xc.watch_names(top.u_dma, DMA_PORT)
    watch_core(xc, top.u_core)
