"""tpu_csr corners the random tests of test_csr.py do not reach (coverage closure, docs/verification.md).

* patterns        every offset of the 256-byte space written with all ones and with all zeros (and the two
                  alternating patterns); after each write every register is read back and compared with a
                  model kept from models/csr.py (access type, writable mask, reset value), the response of
                  every access with csr.expected_response, irq_o with |(IRQ_STATUS & IRQ_ENABLE). CTRL with
                  all ones is START + DMA_START + CNT_CLEAR + ABORT: the starts are rejected (ABORT), abort_o
                  pulses, REJECTS stays 0 (the same write clears it) and IRQ_STATUS.REJECT is set
                  (docs/csr.md, "Every combination of CTRL bits").
* counter_carries each 64-bit counter placed one below the carry into bit k (k = 1..64: 2^k - 1, a state
                  2^k cycles of counting would reach), then a run whose increments the testbench sums: every
                  counter reads back (LO then HI) as the placed value plus the sum, modulo 2^64; a HI read
                  without a new LO read still returns the last LO read's snapshot.
* latched_status  PC / ERR_CODE / DMA_ERR_CODE latch every bit at done only; REJECTS saturates at 0xFFFF.
* raw_handshakes  AXI4-Lite driven pin by pin: AW before W, W before AW, both in one cycle, a write with
                  no byte strobe (OKAY, nothing written, a CTRL.START with WSTRB = 0 starts nothing), a read
                  answered while a write waits for its data (the read sees the old value), and a new request
                  held while the previous response is back-pressured; AxPROT and address bits [1:0]
                  ignored.
"""

from __future__ import annotations

import cocotb
import pytest
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from models import csr
from models.hw import const
from tb.common import runner
from tb.common.axi import set_pauses
from tb.common.mutate import mutate
from tb.common.tb_base import TbBase
from tb.common.tools import rtl_sources
from tb.csr.test_csr import CORE_INPUTS, CsrTb

MASK32, MASK64 = (1 << 32) - 1, (1 << 64) - 1
IRQ_ALL = (1 << const("IrqW")) - 1
PATTERNS = (MASK32, 0, 0xAAAAAAAA, 0x55555555)


class Model:
    """What every register must read, from models/csr.py and the writes made (the core stays idle)."""

    def __init__(self, config: dict[str, int]) -> None:
        self.regs = csr.registers()
        self.value = {r.name: csr.reset_value(r, config) for r in self.regs.values()}

    def write(self, off: int, data: int) -> tuple[int, int]:
        """Apply a full-word write; returns (expected response, abort pulses expected)."""
        reg = csr.by_offset().get(off)
        resp = csr.expected_response(off, write=True)
        if reg is None or reg.access == csr.RO:
            return resp, 0
        if reg.access == csr.RW:
            self.value[reg.name] = data & csr.writable_mask(reg.name)
        elif reg.access == csr.W1C:
            self.value[reg.name] &= ~data
        else:  # CTRL: only what an idle block does with each bit
            ctrl = {n: csr.field(data, "CTRL", n) for n in csr.FIELDS["CTRL"]}
            if ctrl["CNT_CLEAR"]:
                self.value["REJECTS"] = 0
            if ctrl["ABORT"] and (ctrl["START"] or ctrl["DMA_START"]):
                self.value["IRQ_STATUS"] |= csr.bit("IRQ", "REJECT")
                if not ctrl["CNT_CLEAR"]:
                    self.value["REJECTS"] += ctrl["START"] | ctrl["DMA_START"] << 16
            return resp, ctrl["ABORT"]
        return resp, 0

    def irq(self) -> int:
        return int(bool(self.value["IRQ_STATUS"] & self.value["IRQ_ENABLE"]))


async def count_pulses(dut, name: str, into: list[int]) -> None:
    while True:
        await FallingEdge(dut.clk_i)
        await ReadOnly()
        into[0] += int(getattr(dut, name).value)


@cocotb.test()
async def patterns(dut) -> None:
    """All-ones, all-zeros and alternating writes to every offset, the whole map read back after each."""
    tb = CsrTb(dut)
    set_pauses(tb.axil, None, 0)  # thousands of accesses: back-pressure is test_csr.py's business
    await tb.reset()
    model = Model(tb.config)
    aborts = [0]
    cocotb.start_soon(count_pulses(dut, "abort_o", aborts))
    expected_aborts = 0
    for pattern in PATTERNS:
        for off in range(0, 1 << const("CsrAddrW"), 4):
            ctrl = {n: csr.field(pattern, "CTRL", n) for n in csr.FIELDS["CTRL"]}
            if off == csr.offset("CTRL") and (ctrl["START"] or ctrl["DMA_START"]) and not ctrl["ABORT"]:
                continue  # a start that is accepted: start_done_reject in test_csr.py covers it
            resp = await tb.write(off, pattern)
            exp_resp, abort = model.write(off, pattern)
            expected_aborts += abort
            assert resp == exp_resp, f"write {pattern:#x} to {off:#x}: response {resp}, expected {exp_resp}"
            await ClockCycles(dut.clk_i, 2)
            assert int(dut.irq_o.value) == model.irq(), f"irq_o after writing {pattern:#x} to {off:#x}"
            written = csr.by_offset().get(off)
            full = pattern in (0, MASK32) and (written is not None or off % 32 == 0)
            # The whole map after every all-ones / all-zeros write (and some unmapped ones); the
            # alternating patterns read back what they wrote and, at the end, the whole map again.
            for reg in tb.regs.values() if full else ([written] if written is not None else []):
                value = await tb.rd(reg.name)
                assert value == model.value[reg.name], (
                    f"{reg.name} = {value:#x}, expected {model.value[reg.name]:#x} after writing "
                    f"{pattern:#x} to {off:#x}")
            value, resp = await tb.read(off)
            assert resp == csr.expected_response(off, write=False), f"read {off:#x}: response {resp}"
        for reg in tb.regs.values():
            assert await tb.rd(reg.name) == model.value[reg.name], f"{reg.name} after pattern {pattern:#x}"
    assert tb.starts == 0 and tb.dma_cmds == 0, "a START / DMA_START written with ABORT started something"
    assert aborts[0] == expected_aborts > 0, f"abort_o pulsed {aborts[0]} times, expected {expected_aborts}"


@cocotb.test()
async def counter_carries(dut) -> None:
    """Every counter one below a carry into each bit (and the wrap at 2^64), then counted exactly."""
    tb = CsrTb(dut)
    tb.core_time = (6, 12)
    await tb.reset()
    tb.perf_random = True
    names = list(csr.COUNTERS)
    for k in range(1, 65):
        await tb.wait_idle()
        await FallingEdge(dut.clk_i)
        base = (1 << k) - 1
        for i in range(len(names)):
            dut.cnt_q[i].value = base
        start = dict(tb.sums)
        await tb.wr("CTRL", csr.bit("CTRL", "START"))  # CYCLES counts the run, the others what is driven
        await tb.wait_idle()
        await tb.stop_perf()
        for name in names:
            inc = tb.sums[name] - start[name]
            assert inc > 0, f"{name} was not incremented (k = {k}): the check proves nothing"
            value = await tb.client.counter(name)
            assert value == (base + inc) & MASK64, (
                f"{name} = {value:#x}, expected {base:#x} + {inc} (carry into bit {k})")
        hi_again = await tb.rd("MACS_HI")  # no LO read in between: the snapshot of the last MACS_LO read
        assert hi_again == ((base + tb.sums["MACS"] - start["MACS"]) & MASK64) >> 32, "HI without LO"
        tb.perf_random = k < 64
    await tb.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
    for name in names:
        assert await tb.client.counter(name) == 0, f"{name} after CNT_CLEAR"


@cocotb.test()
async def latched_status(dut) -> None:
    """PC, ERR_CODE and DMA_ERR_CODE latch all 32 / 8 bits at their done pulse and nothing else; REJECTS
    saturates at 0xFFFF (counts placed just below 2^15 and 2^16: 2^16 rejected starts would take minutes)."""
    tb = CsrTb(dut)
    await tb.reset()
    tb.awake.clear()  # the responder sleeps: this test drives the core and DMA inputs itself
    await ClockCycles(dut.clk_i, 2)
    values = [MASK32, 0, 0xAAAAAAAA, 0x55555555] + [int(v) for v in tb.rng.integers(0, 1 << 32, 4)]
    for v in values:
        code, dma_code = v & 0xFF, (v >> 8) & 0xFF
        await FallingEdge(dut.clk_i)
        dut.pc_i.value, dut.err_i.value, dut.done_i.value = v, code, 1
        dut.dma_err_i.value, dut.dma_done_i.value = dma_code, 1
        await FallingEdge(dut.clk_i)
        dut.done_i.value = dut.dma_done_i.value = 0
        dut.pc_i.value, dut.err_i.value, dut.dma_err_i.value = ~v & MASK32, ~code & 0xFF, ~dma_code & 0xFF
        assert await tb.rd("PC") == v, f"PC after a done with pc_i = {v:#x}"
        st = await tb.client.status()
        assert (st["ERR_CODE"], st["ERROR"], st["DMA_ERR_CODE"], st["DMA_ERROR"]) == \
            (code, int(code != 0), dma_code, int(dma_code != 0)), f"STATUS {st}: codes {code}, {dma_code}"
    dut.pc_i.value = dut.err_i.value = dut.dma_err_i.value = 0
    await FallingEdge(dut.clk_i)
    dut.busy_i.value = dut.dma_busy_i.value = 1  # every start is rejected
    for placed, rejects, expected in ((0x7FFF, 1, 0x8000), (0xFFFE, 3, 0xFFFF)):
        await FallingEdge(dut.clk_i)
        dut.rej_q.value = dut.dma_rej_q.value = placed
        for _ in range(rejects):
            await tb.wr("CTRL", csr.bit("CTRL", "START"))
            await tb.wr("CTRL", csr.bit("CTRL", "DMA_START"))
        rej = await tb.rd("REJECTS")
        got = (csr.field(rej, "REJECTS", "START"), csr.field(rej, "REJECTS", "DMA_START"))
        assert got == (expected, expected), f"REJECTS {got} after {rejects} rejects from {placed:#x}"
    await tb.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
    assert await tb.rd("REJECTS") == 0
    assert tb.starts == 0 and tb.dma_cmds == 0


class RawAxil:
    """AXI4-Lite driven pin by pin (the bus master model cannot separate AW from W or send WSTRB = 0)."""

    def __init__(self, dut) -> None:
        self.d = dut
        for s in ("awvalid", "wvalid", "arvalid", "bready", "rready", "awaddr", "wdata", "wstrb", "araddr",
                  "awprot", "arprot"):
            getattr(dut, f"s_axil_{s}").value = 0

    async def edge(self) -> dict[str, int]:
        """Advance one clock; the handshake signals as they were at that rising edge."""
        await ReadOnly()
        s = {n: int(getattr(self.d, f"s_axil_{n}").value) for n in (
            "awvalid", "awready", "wvalid", "wready", "bvalid", "bready", "bresp", "arvalid", "arready",
            "rvalid", "rready", "rdata", "rresp")}
        await FallingEdge(self.d.clk_i)
        return s

    async def until(self, valid: str, ready: str) -> dict[str, int]:
        for _ in range(100):
            s = await self.edge()
            if s[valid] and s[ready]:
                return s
        raise AssertionError(f"no {valid}/{ready} handshake in 100 cycles")

    async def aw(self, addr: int) -> None:
        self.d.s_axil_awaddr.value, self.d.s_axil_awvalid.value = addr, 1
        await self.until("awvalid", "awready")
        self.d.s_axil_awvalid.value = 0

    async def w(self, data: int, strb: int) -> None:
        self.d.s_axil_wdata.value, self.d.s_axil_wstrb.value, self.d.s_axil_wvalid.value = data, strb, 1
        await self.until("wvalid", "wready")
        self.d.s_axil_wvalid.value = 0

    async def aw_w(self, addr: int, data: int, strb: int) -> None:
        """AW and W presented in the same cycle; both must be taken in that cycle."""
        self.d.s_axil_awaddr.value, self.d.s_axil_awvalid.value = addr, 1
        self.d.s_axil_wdata.value, self.d.s_axil_wstrb.value, self.d.s_axil_wvalid.value = data, strb, 1
        s = await self.edge()
        assert s["awready"] and s["wready"], "an idle slave did not take AW and W in one cycle"
        self.d.s_axil_awvalid.value = self.d.s_axil_wvalid.value = 0

    async def b(self) -> int:
        self.d.s_axil_bready.value = 1
        s = await self.until("bvalid", "bready")
        self.d.s_axil_bready.value = 0
        return s["bresp"]

    async def read(self, addr: int) -> tuple[int, int]:
        self.d.s_axil_araddr.value, self.d.s_axil_arvalid.value = addr, 1
        await self.until("arvalid", "arready")
        self.d.s_axil_arvalid.value = 0
        self.d.s_axil_rready.value = 1
        s = await self.until("rvalid", "rready")
        self.d.s_axil_rready.value = 0
        return s["rdata"], s["rresp"]


class RawTb(TbBase):
    def __init__(self, dut) -> None:
        super().__init__(dut)
        dut.rst_ni.value = 0
        for name in CORE_INPUTS:
            getattr(dut, name).value = 0
        self.bus = RawAxil(dut)


@cocotb.test()
async def raw_handshakes(dut) -> None:
    """AW/W orders, WSTRB = 0, a read while a write waits for W, a held response."""
    tb = RawTb(dut)
    await tb.reset()
    await FallingEdge(dut.clk_i)
    bus, off = tb.bus, csr.offset
    starts = [0]
    cocotb.start_soon(count_pulses(dut, "start_o", starts))
    # AW first, W some cycles later: written when W arrives.
    await bus.aw(off("PROG_LEN"))
    for _ in range(int(tb.rng.integers(1, 6))):
        assert not (await bus.edge())["bvalid"], "B before W"
    await bus.w(0x11223344, 0xF)
    assert await bus.b() == csr.OKAY
    assert await bus.read(off("PROG_LEN")) == (0x11223344, csr.OKAY)
    # W first, AW later.
    await bus.w(0xCAFEF00D, 0xF)
    for _ in range(int(tb.rng.integers(1, 6))):
        assert not (await bus.edge())["bvalid"], "B before AW"
    await bus.aw(off("DMA_LEN"))
    assert await bus.b() == csr.OKAY
    assert await bus.read(off("DMA_LEN")) == (0xCAFEF00D, csr.OKAY)
    # Both in one cycle, one byte strobed.
    await bus.aw_w(off("DMA_LEN"), 0xFFFFFFFF, 0b0100)
    assert await bus.b() == csr.OKAY
    assert await bus.read(off("DMA_LEN")) == (0xCAFFF00D, csr.OKAY)
    # No strobe at all: OKAY, nothing written, nothing acted on.
    for reg in ("PROG_LEN", "IRQ_ENABLE", "DMA_CFG"):
        before, _ = await bus.read(off(reg))
        await bus.aw_w(off(reg), 0xFFFFFFFF, 0)
        assert await bus.b() == csr.OKAY
        assert await bus.read(off(reg)) == (before, csr.OKAY), f"{reg} written by WSTRB = 0"
    await bus.aw_w(off("CTRL"), csr.bit("CTRL", "START"), 0)
    assert await bus.b() == csr.OKAY
    for _ in range(3):
        await bus.edge()
    assert starts[0] == 0, "CTRL.START with WSTRB = 0 started the core"
    # A read answered while a write waits for its data: the read sees the old value.
    await bus.aw(off("PROG_BASE_LO"))
    assert await bus.read(off("PROG_BASE_LO")) == (0, csr.OKAY)
    assert await bus.read(off("VERSION")) == (const("CsrVersionValue"), csr.OKAY)
    await bus.w(0x87654321, 0xF)
    assert await bus.b() == csr.OKAY
    assert await bus.read(off("PROG_BASE_LO")) == (0x87654321, csr.OKAY)
    # A response held by BREADY = 0: the next AW and W are taken, but that write waits for the first B
    # (one write in flight), and no third AW or W is taken meanwhile; a read is answered meanwhile.
    await bus.aw_w(off("PROG_BASE_HI"), 0x1, 0xF)
    await bus.aw(off("PROG_BASE_HI"))
    await bus.w(0x2, 0xF)
    for _ in range(3):
        s = await bus.edge()
        assert not s["awready"] and not s["wready"], "a second write taken while one waits for B"
    assert await bus.read(off("PROG_BASE_HI")) == (0x1, csr.OKAY), "the held write ran before its B"
    assert await bus.b() == csr.OKAY
    assert await bus.b() == csr.OKAY
    assert await bus.read(off("PROG_BASE_HI")) == (0x2, csr.OKAY)
    # AxPROT and address bits [1:0] carry no meaning: the same word is written and read.
    dut.s_axil_awprot.value = dut.s_axil_arprot.value = 0b111
    await bus.aw_w(off("PROG_LEN") + 3, 0x0BADF00D, 0xF)
    assert await bus.b() == csr.OKAY
    for k in range(4):
        assert await bus.read(off("PROG_LEN") + k) == (0x0BADF00D, csr.OKAY), f"read at byte {k}"
    dut.s_axil_awprot.value = dut.s_axil_arprot.value = 0b010
    assert await bus.read(off("VERSION") + 2) == (const("CsrVersionValue"), csr.OKAY)
    dut.s_axil_awprot.value = dut.s_axil_arprot.value = 0
    # An unmapped write and read (DECERR) and a read of RO VERSION held by RREADY = 0 for a while.
    await bus.aw_w(0xFC, 0xFFFFFFFF, 0xF)
    assert await bus.b() == csr.DECERR
    assert await bus.read(0xFC) == (0, csr.DECERR)


@pytest.mark.parametrize("params", [{}], ids=["default"])
def test_cover_csr(sim, params):
    runner.run(sim, "tpu_csr", "tb.csr.test_cover_csr", rtl_sources("tpu_csr"), params)


# A counter whose low word does not carry into the high word (and a snapshot of the wrong half): the
# carries test must catch both; the random counters test needs 2^16 cycles for the first.
MUTANTS = {
    "carry32": ("cnt_q[i] <= cnt_q[i] + cnt_inc[i];",
                "cnt_q[i] <= {cnt_q[i][63:32], cnt_q[i][31:0] + cnt_inc[i][31:0]};"),
    "snapshot": ("snap_q[i] <= rcnt_val[63:32];", "snap_q[i] <= {rcnt_val[63:33], 1'b0};"),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_cover_csr_catches(sim, mutant):
    if sim != "icarus":
        pytest.skip("one simulator shows it (the mutant is RTL, not a simulator feature)")
    old, new = MUTANTS[mutant]
    sources = mutate(f"tpu_csr.{sim}.{mutant}", rtl_sources("tpu_csr"), {"tpu_csr.sv": [(old, new)]})
    with pytest.raises(AssertionError, match="counter_carries"):
        runner.run(sim, "tpu_csr", "tb.csr.test_cover_csr", sources, {}, testcase="counter_carries",
                   variant=f"mutant_{mutant}")
