"""tpu_csr through its AXI4-Lite port (random back-pressure on all five channels): reset values, RW/RO/WO
behaviour, DECERR/SLVERR, partial writes, start/DMA-start while busy rejected and counted, interrupt
enable/status/W1C, and the performance counters against sums kept by the testbench.

The core and the DMA are modelled by a per-cycle responder: a start pulse makes the "core" busy for a
random time and then pulse done with a random error code; a DMA command is accepted after a random
delay, with the same busy/done behaviour. Expected values come from models/csr.py (the CSR map read
from tpu_pkg.sv) and from what the testbench drove, never from the DUT.
"""

from __future__ import annotations

import cocotb
import pytest
from cocotb.triggers import ClockCycles, Event, FallingEdge, ReadOnly

from models import csr
from models.hw import const
from tb.common import runner
from tb.common.axi import CsrClient, axil_master, set_pauses
from tb.common.tb_base import TbBase, param
from tb.common.tools import rtl_sources
from tb.common.xcheck import CSR_PORT, watch_axil_slave

CORE_INPUTS = ("busy_i", "done_i", "err_i", "pc_i", "dma_cmd_ready_i", "dma_busy_i", "dma_done_i",
               "dma_err_i", "perf_array_busy_i", "perf_macs_i", "perf_wstall_i", "perf_dma_bytes_i",
               "perf_dma_stall_i")
PERF = {"ARRAY_BUSY": ("perf_array_busy_i", 1), "MACS": ("perf_macs_i", 0xFFFF),
        "WSTALL": ("perf_wstall_i", 1), "DMA_BYTES": ("perf_dma_bytes_i", 0xFFFF),
        "DMA_STALL": ("perf_dma_stall_i", 1)}


class CsrTb(TbBase):
    def __init__(self, dut) -> None:
        super().__init__(dut)
        dut.rst_ni.value = 0
        for name in CORE_INPUTS:
            getattr(dut, name).value = 0
        self.axil = axil_master(dut, self.rng)
        watch_axil_slave(self.xcheck, dut)
        self.xcheck.watch_names(dut, CSR_PORT)
        self.client = CsrClient(self.axil)
        self.regs = csr.registers()
        self.config = csr.config_values(
            param(dut, "P"), param(dut, "CfgDataW"), param(dut, "CfgFracW"), param(dut, "CfgAccW"),
            {"IMEM": param(dut, "CfgImemDepth"), "UB": param(dut, "CfgUbDepth"),
             "WMEM": param(dut, "CfgWmDepth"), "ACC": param(dut, "CfgAccDepth")},
            param(dut, "CfgDmaBusW"), param(dut, "CfgDmaMaxBurst"))
        # Responder / model state
        self.core_left = self.dma_left = self.dma_accept_in = -1
        self.core_err = self.dma_err = 0
        self.starts = self.dma_cmds = 0
        self.last_cmd: dict[str, int] = {}
        self.run = False
        self.sums = dict.fromkeys(csr.COUNTERS, 0)
        self.perf_random = False
        self.core_time = (3, 30)
        self.awake = Event()  # cleared: the responder sleeps (long waits without Python every cycle)
        self.awake.set()
        cocotb.start_soon(self.responder())

    async def responder(self) -> None:
        d = self.dut
        while True:
            if not self.awake.is_set():
                await self.awake.wait()
            await FallingEdge(d.clk_i)
            if not int(d.rst_ni.value):
                continue
            # core: busy for a while after start_o, then a done pulse with an error code
            d.done_i.value = int(self.core_left == 0)
            d.err_i.value = self.core_err if self.core_left == 0 else 0
            d.busy_i.value = int(self.core_left > 0)
            # DMA: accept a command after a delay, stay busy, pulse done
            d.dma_cmd_ready_i.value = int(self.dma_accept_in == 0)
            d.dma_done_i.value = int(self.dma_left == 0)
            d.dma_err_i.value = self.dma_err if self.dma_left == 0 else 0
            d.dma_busy_i.value = int(self.dma_left > 0)
            if self.perf_random:
                for port, top in PERF.values():
                    getattr(d, port).value = int(self.rng.integers(0, top + 1))
            await ReadOnly()
            for name, (port, _) in PERF.items():
                self.sums[name] += int(getattr(d, port).value)
            self.sums["CYCLES"] += int(self.run)
            start, done = int(d.start_o.value), int(d.done_i.value)
            self.run = True if start else (False if done else self.run)
            self.core_left -= 1 if self.core_left >= 0 else 0
            if start:
                assert self.core_left < 0, "start_o while the core is busy"
                self.starts += 1
                self.core_left = int(self.rng.integers(*self.core_time))
                self.core_err = int(self.rng.integers(0, 7)) if self.rng.random() < 0.5 else 0
            self.dma_left -= 1 if self.dma_left >= 0 else 0
            if int(d.dma_cmd_valid_o.value):
                if self.dma_accept_in == 0:
                    self.dma_cmds += 1
                    self.last_cmd = {n: int(getattr(d, f"dma_cmd_{n}_o").value)
                                     for n in ("dir", "host_addr", "sel", "mem_addr", "len")}
                    self.dma_left = int(self.rng.integers(*self.core_time))
                    self.dma_err = int(self.rng.integers(0, 6)) if self.rng.random() < 0.5 else 0
                    self.dma_accept_in = -1
                elif self.dma_accept_in < 0:
                    self.dma_accept_in = int(self.rng.integers(0, 4))
                else:
                    self.dma_accept_in -= 1

    async def read(self, reg: str | int) -> tuple[int, int]:
        return await self.client.read(reg)

    async def rd(self, reg: str) -> int:
        return await self.client.rd(reg)

    async def write(self, reg: str | int, value: int) -> int:
        return await self.client.write(reg, value)

    async def wr(self, reg: str, value: int) -> None:
        await self.client.wr(reg, value)

    async def stop_perf(self) -> None:
        """Stop driving the performance events and let the last ones reach the counters."""
        self.perf_random = False
        await FallingEdge(self.dut.clk_i)
        for port, _ in PERF.values():
            getattr(self.dut, port).value = 0
        await ClockCycles(self.dut.clk_i, 2)

    async def wait_idle(self) -> None:
        while self.core_left >= 0 or self.dma_left >= 0 or int(self.dut.dma_cmd_valid_o.value):
            await ClockCycles(self.dut.clk_i, 4)
        await ClockCycles(self.dut.clk_i, 2)


@cocotb.test()
async def reset_values(dut) -> None:
    """Every register reads its documented reset value (configuration from the parameters)."""
    tb = CsrTb(dut)
    await tb.reset()
    for reg in tb.regs.values():
        value = await tb.rd(reg.name)
        assert value == csr.reset_value(reg, tb.config), f"{reg.name} = {value:#x} after reset"
    assert int(dut.irq_o.value) == 0 and int(dut.start_o.value) == 0 and int(dut.dma_cmd_valid_o.value) == 0


@cocotb.test()
async def register_access(dut) -> None:
    """RW read back (also byte by byte), RO writes SLVERR and ignored, unmapped DECERR, CTRL reads 0."""
    tb = CsrTb(dut)
    await tb.reset()
    rw = [r for r in tb.regs.values() if r.access == csr.RW]
    shadow = {}
    for reg in rw:
        value = int(tb.rng.integers(0, 1 << 32))
        await tb.wr(reg.name, value)
        shadow[reg.name] = value & csr.writable_mask(reg.name)
    for _ in range(3 * len(rw)):  # partial writes: one random byte of a random register
        reg = rw[int(tb.rng.integers(0, len(rw)))]
        k, b = int(tb.rng.integers(0, 4)), int(tb.rng.integers(0, 256))
        resp = (await tb.axil.write(reg.offset + k, bytes([b]))).resp
        assert resp == csr.OKAY
        if reg.name == "DMA_CFG" and k != 0:
            continue  # DMA_CFG is written only when byte 0 is strobed
        merged = (shadow[reg.name] & ~(0xFF << 8 * k)) | (b << 8 * k)
        shadow[reg.name] = merged & csr.writable_mask(reg.name)
        for r in rw:
            assert await tb.rd(r.name) == shadow[r.name], f"{r.name} after a byte write to {reg.name}+{k}"
    for reg in tb.regs.values():
        if reg.access == csr.RO:
            before = await tb.rd(reg.name)
            resp = await tb.write(reg.name, ~before & 0xFFFFFFFF)
            assert resp == csr.SLVERR, f"write to RO {reg.name}: response {resp}"
            after = await tb.rd(reg.name)
            if not reg.name.startswith(tuple(csr.COUNTERS)):
                assert after == before, f"RO {reg.name} changed by a write"
    assert await tb.rd("CTRL") == 0
    mapped = {r.offset for r in tb.regs.values()}
    for off in range(0, 1 << const("CsrAddrW"), 4):
        if off in mapped:
            continue
        value, resp = await tb.read(off)
        assert (value, resp) == (0, csr.DECERR), f"read of unmapped {off:#x}: {value:#x}, {resp}"
        resp = await tb.write(off, int(tb.rng.integers(0, 1 << 32)))
        assert resp == csr.DECERR, f"write to unmapped {off:#x}: {resp}"
    for name, value in shadow.items():  # nothing above leaked into a register
        assert await tb.rd(name) == value, name
    assert tb.starts == 0 and tb.dma_cmds == 0


@cocotb.test()
async def start_done_reject(dut) -> None:
    """Start/done/error for core and DMA, starts while busy rejected and counted, DMA command fields."""
    tb = CsrTb(dut)
    tb.core_time = (300, 400)  # long enough that the second start surely arrives while busy
    await tb.reset()
    rejects = dma_rejects = 0
    for _ in range(6):
        # core
        await tb.wr("CTRL", csr.bit("CTRL", "START"))
        st = await tb.rd("STATUS")
        assert csr.field(st, "STATUS", "BUSY") and not csr.field(st, "STATUS", "DONE"), f"{st:#x}"
        assert tb.starts == _ + 1, "start_o not pulsed once"
        if tb.rng.random() < 0.7:
            await tb.wr("CTRL", csr.bit("CTRL", "START"))  # while busy
            rejects += 1
        # DMA, with random command registers
        cmd = {n: int(tb.rng.integers(0, 1 << 32)) for n in ("DMA_HOST_LO", "DMA_HOST_HI", "DMA_MEM_ADDR",
                                                              "DMA_LEN")}
        cmd["DMA_CFG"] = int(tb.rng.integers(0, 2)) | int(tb.rng.integers(0, 4)) << 4
        await tb.client.dma_start(cmd["DMA_CFG"] & 1, cmd["DMA_HOST_HI"] << 32 | cmd["DMA_HOST_LO"],
                                  cmd["DMA_CFG"] >> 4, cmd["DMA_MEM_ADDR"], cmd["DMA_LEN"])
        if tb.rng.random() < 0.7:
            await tb.wr("CTRL", csr.bit("CTRL", "DMA_START"))
            dma_rejects += 1
        st = await tb.rd("STATUS")
        assert csr.field(st, "STATUS", "DMA_BUSY") and not csr.field(st, "STATUS", "DMA_DONE"), f"{st:#x}"
        await tb.wait_idle()
        core_err, dma_err = tb.core_err, tb.dma_err
        exp_cmd = {"dir": cmd["DMA_CFG"] & 1, "host_addr": cmd["DMA_HOST_HI"] << 32 | cmd["DMA_HOST_LO"],
                   "sel": cmd["DMA_CFG"] >> 4, "mem_addr": cmd["DMA_MEM_ADDR"], "len": cmd["DMA_LEN"]}
        assert tb.last_cmd == exp_cmd, f"DMA command {tb.last_cmd}, expected {exp_cmd}"
        exp = {"BUSY": 0, "DONE": 1, "ERROR": int(core_err != 0), "ERR_CODE": core_err, "DMA_BUSY": 0,
               "DMA_DONE": 1, "DMA_ERROR": int(dma_err != 0), "DMA_ERR_CODE": dma_err}
        got = await tb.client.status()
        assert got == exp, f"STATUS {got}, expected {exp}"
        rej = await tb.rd("REJECTS")
        assert (csr.field(rej, "REJECTS", "START"), csr.field(rej, "REJECTS", "DMA_START")) == \
            (rejects, dma_rejects), f"REJECTS {rej:#x}, expected {rejects}/{dma_rejects}"
    assert tb.starts == 6 and tb.dma_cmds == 6, f"{tb.starts} starts, {tb.dma_cmds} DMA commands"
    if rejects or dma_rejects:
        assert csr.field(await tb.rd("IRQ_STATUS"), "IRQ", "REJECT")
    await tb.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
    assert await tb.rd("REJECTS") == 0
    assert int(dut.prog_base_o.value) == 0 and int(dut.prog_len_o.value) == 0
    await tb.wr("PROG_BASE_LO", 0x12345678)
    await tb.wr("PROG_BASE_HI", 0x9ABCDEF0)
    await tb.wr("PROG_LEN", 77)
    assert int(dut.prog_base_o.value) == 0x9ABCDEF012345678 and int(dut.prog_len_o.value) == 77


@cocotb.test()
async def interrupts(dut) -> None:
    """IRQ_STATUS records events whether enabled or not, W1C clears (byte-strobed), irq_o = |(st & en)."""
    tb = CsrTb(dut)
    tb.core_time = (100, 150)  # the rejected start surely arrives while busy
    await tb.reset()
    irq = csr.FIELDS["IRQ"]
    all_bits = (1 << const("IrqW")) - 1
    for _ in range(8):
        enable = int(tb.rng.integers(0, all_bits + 1))
        await tb.wr("IRQ_ENABLE", enable)
        await tb.wr("CTRL", csr.bit("CTRL", "START") | csr.bit("CTRL", "DMA_START"))
        await tb.wr("CTRL", csr.bit("CTRL", "START"))  # rejected
        await tb.wait_idle()
        exp = 1 << irq["DONE"][0] | 1 << irq["DMA_DONE"][0] | 1 << irq["REJECT"][0]
        exp |= (tb.core_err != 0) << irq["ERROR"][0] | (tb.dma_err != 0) << irq["DMA_ERROR"][0]
        st = await tb.rd("IRQ_STATUS")
        assert st == exp, f"IRQ_STATUS {st:#x}, expected {exp:#x}"
        assert int(dut.irq_o.value) == int(bool(st & enable)), f"irq_o with status {st:#x} enable {enable:#x}"
        clear = int(tb.rng.integers(0, all_bits + 1))
        if tb.rng.random() < 0.5:  # a W1C write whose byte 0 is not strobed clears nothing
            assert (await tb.axil.write(tb.regs["IRQ_STATUS"].offset + 1, b"\xff")).resp == csr.OKAY
        await tb.wr("IRQ_STATUS", clear)
        st2 = await tb.rd("IRQ_STATUS")
        assert st2 == st & ~clear, f"after W1C {clear:#x}: {st2:#x}"
        assert int(dut.irq_o.value) == int(bool(st2 & enable))
        await tb.wr("IRQ_STATUS", all_bits)
        assert await tb.rd("IRQ_STATUS") == 0 and int(dut.irq_o.value) == 0


@cocotb.test()
async def counters(dut) -> None:
    """Counters equal the sums of what was driven; CNT_CLEAR; a LO read snapshots HI across a carry."""
    tb = CsrTb(dut)
    await tb.reset()
    tb.perf_random = True
    for _ in range(3):
        await tb.wr("CTRL", csr.bit("CTRL", "START"))
        await tb.wait_idle()
    await tb.stop_perf()
    for name in csr.COUNTERS:
        value = await tb.client.counter(name)
        assert value == tb.sums[name], f"{name} = {value}, driven {tb.sums[name]}"
        assert tb.sums[name] > 0, f"{name} never incremented: the test proves nothing"
    await tb.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
    for name in csr.COUNTERS:
        assert await tb.rd(f"{name}_LO") == 0 and await tb.rd(f"{name}_HI") == 0, name
    # Carry into HI: MACS += 0xFFFF per cycle for more than 2^16 cycles (no Python per cycle).
    await FallingEdge(dut.clk_i)
    tb.awake.clear()
    set_pauses(tb.axil, None, 0)  # a pause generator's coroutine wakes every cycle
    dut.perf_macs_i.value = 0xFFFF
    await ClockCycles(dut.clk_i, (1 << 16) + int(tb.rng.integers(8, 64)))
    tb.awake.set()
    # A LO read then a HI read while it keeps counting: one consistent 64-bit value.
    lo = await tb.rd("MACS_LO")
    hi = await tb.rd("MACS_HI")
    value = hi << 32 | lo
    assert hi == 1 and value % 0xFFFF == 0, f"MACS {value:#x} is not a snapshot of k * 0xFFFF"
    await FallingEdge(dut.clk_i)
    dut.perf_macs_i.value = 0
    await ClockCycles(dut.clk_i, 2)
    final = await tb.rd("MACS_LO")
    assert final > lo or await tb.rd("MACS_HI") > hi, "MACS did not keep counting"


PARAMS = {"P": 8, "CfgImemDepth": 512, "CfgUbDepth": 8192, "CfgDmaBusW": 128, "CfgDmaMaxBurst": 32}


@pytest.mark.parametrize("params", [{}, PARAMS], ids=["default", "p8"])
def test_csr(sim, params):
    runner.run(sim, "tpu_csr", "tb.csr.test_csr", rtl_sources("tpu_csr"), params)
