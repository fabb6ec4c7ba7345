"""tpu_dma corners the random tests of test_dma.py reach only by chance (coverage closure,
docs/verification.md), on the same testbench (DmaTb) and configurations.

* responses_per_position  SLVERR and DECERR on the first, a middle and the last beat of a read burst, and
                          on the write response (B) of the first, a middle and the last burst of a write
                          transfer: the transfer ends with DmaErrSlv / DmaErrDec, every burst in flight is
                          completed (the DMA's and the slave's counts agree), nothing is written to the
                          on-chip memory for reads beyond what the model allows, and the next transfer,
                          away from the error, is bit exact.
* command_extremes        every command field at its extreme for each memory: the documented error, no bus.
* monitor_counts          the functional-coverage AXI monitor counts, against the testbench's own counts.
* outstanding_limit       a slave slow to answer (R and B stalled most cycles, addresses taken at once):
                          both directions reach MaxOutstanding bursts in flight and never exceed it; the
                          data are bit exact.
* first_error_wins        a SLVERR, then a slave that stops answering (timeout) or an abort during the
                          drain: the transfer reports the SLVERR (the first error), done comes once, busy
                          stays up while the bus is owed beats and falls when they come; then a bit-exact
                          transfer.
"""

from __future__ import annotations

import cocotb
import pytest
from cocotb.triggers import FallingEdge, ReadOnly, with_timeout
from cocotb_coverage.coverage import coverage_db

from models.hw import const
from tb.common import fcov, runner
from tb.common.axi import DECERR, SLVERR, axi_ram
from tb.common.tb_base import param
from tb.common.tools import rtl_sources
from tb.dma.test_dma import COMMON, CONFIGS, RAM, SELS, TIMEOUT_NS, TO_CHIP, TO_HOST, DmaTb


def error_beat(tb: DmaTb, direction: int, pos: str, bursts: int) -> int:
    """Beat index (from the transfer's start) whose response is the error: reads count beats of the first
    burst, writes the bursts of the transfer (B is per burst; any beat of it makes its B an error)."""
    last = tb.max_burst - 1 if direction == TO_CHIP else (bursts - 1) * tb.max_burst
    middle = tb.max_burst // 2 if direction == TO_CHIP else (bursts // 2) * tb.max_burst
    return {"first": 0, "middle": middle, "last": last}[pos]


async def clean_transfer(tb: DmaTb, slave, direction: int) -> None:
    """A random transfer on a healthy bus, every memory and the host bytes checked: nothing was lost."""
    for s in SELS:
        tb.exp[s] = list(tb.mem[s])
    host_exp = bytearray(slave.mem)
    cmd = tb.random_command(RAM, direction)
    await tb.checked_transfer(slave, host_exp, cmd, lambda: bytearray(slave.mem))


@cocotb.test()
async def responses_per_position(dut) -> None:
    """Each error response at the first, a middle and the last beat (reads) or burst (writes)."""
    tb = DmaTb(dut, port_backpressure=True)
    slave = tb.error_slave()
    await tb.reset()
    assert tb.max_burst >= 3, "a middle beat needs bursts of 3 beats or more"
    bursts = 3
    sel = SELS[3]
    wb = tb.width[sel] // 8
    n = bursts * tb.max_burst * tb.bus_bytes // wb  # three full bursts
    assert n <= tb.depth[sel]
    for direction in (TO_CHIP, TO_HOST):
        for resp, code in ((SLVERR, const("DmaErrSlv")), (DECERR, const("DmaErrDec"))):
            for pos in ("first", "middle", "last"):
                haddr = 0x2000  # 4 KiB aligned: the bursts are full MaxBurst bursts, no split
                bad = haddr + error_beat(tb, direction, pos, bursts) * tb.bus_bytes
                slave.errors = [(bad, bad + tb.bus_bytes, resp)]
                before = bytes(slave.mem)
                err = await tb.transfer(direction, haddr, sel, 0, n)
                what = f"dir {direction}, {resp} at the {pos} {'beat' if direction == TO_CHIP else 'burst'}"
                assert err == code, f"{what}: error {err}, expected {code}"
                assert tb.ar == tb.rlast and tb.aw == tb.b, f"{what}: bursts left in flight after done"
                assert not slave.ar and not slave.aw and not slave.b, f"{what}: the slave still holds bursts"
                if direction == TO_HOST:
                    assert tb.aw >= (1 if pos == "first" else 2 if pos == "middle" else bursts), \
                        f"{what}: the erroneous burst was never presented"
                    # The error region's bytes were dropped by the slave; nothing outside the transfer moved.
                    end = haddr + n * wb
                    assert slave.mem[:haddr] == before[:haddr] and slave.mem[end:] == before[end:], \
                        f"{what}: bytes outside the transfer written"
                else:
                    assert tb.ar >= 1 and (pos != "last" or tb.rlast >= 1), what
                slave.errors = []
                await clean_transfer(tb, slave, direction)
    slave.running = False


@cocotb.test()
async def outstanding_limit(dut) -> None:
    """A slow slave: MaxOutstanding bursts in flight each way, never more; data bit exact."""
    tb = DmaTb(dut, port_backpressure=False)
    slave = tb.error_slave(p=0.0, p_resp=0.85)
    limit = param(dut, "MaxOutstanding")
    peak = {"W": 0}

    async def writes_in_flight() -> None:
        while True:
            await FallingEdge(dut.clk_i)
            await ReadOnly()
            peak["W"] = max(peak["W"], tb.aw - tb.b)

    cocotb.start_soon(writes_in_flight())
    await tb.reset()
    sel = SELS[1]
    wb = tb.width[sel] // 8
    n = min(tb.depth[sel], (limit + 2) * tb.max_burst * tb.bus_bytes // wb)
    assert n * wb >= (limit + 1) * tb.max_burst * tb.bus_bytes, "the transfer is too short to fill the limit"
    host_exp = bytearray(slave.mem)
    for direction in (TO_CHIP, TO_HOST):
        cmd = (direction, 0x4000, sel, 0, n)
        await tb.checked_transfer(slave, host_exp, cmd, lambda: bytearray(slave.mem))
    assert tb.max_reads_in_flight == limit, f"{tb.max_reads_in_flight} read bursts in flight, limit {limit}"
    assert peak["W"] == limit, f"{peak['W']} write bursts in flight, limit {limit}"
    slave.running = False


async def issue(tb: DmaTb, cmd: tuple[int, int, int, int, int]) -> None:
    """Present one command until it is accepted (DmaTb.transfer without the wait for done)."""
    await tb.issue(*cmd)


@cocotb.test()
async def first_error_wins(dut) -> None:
    """An error response, then a timeout or an abort while the bursts in flight drain: the first error is
    the one reported (docs/csr.md), with one done pulse, and the DMA still takes every beat it is owed."""
    tb = DmaTb(dut, port_backpressure=False)
    slave = tb.error_slave(p=0.0, p_resp=0.0)
    await tb.reset()
    d = dut
    sel = SELS[3]
    n = 3 * tb.max_burst * tb.bus_bytes // (tb.width[sel] // 8)  # three full bursts
    haddr = 0x3000
    timeout = 24
    for then in ("timeout", "abort"):
        for direction in (TO_CHIP, TO_HOST):
            # The first beat (reads) or the first burst's B (writes) answers SLVERR.
            slave.errors = [(haddr, haddr + tb.bus_bytes, SLVERR)]
            d.timeout_i.value = timeout if then == "timeout" else 0  # the abort alone ends the slow drain
            await issue(tb, (direction, haddr, sel, 0, n))
            resp = d.m_axi_rresp if direction == TO_CHIP else d.m_axi_bresp
            valid, ready = ((d.m_axi_rvalid, d.m_axi_rready) if direction == TO_CHIP
                            else (d.m_axi_bvalid, d.m_axi_bready))
            while True:  # the error response's handshake
                await FallingEdge(d.clk_i)
                await ReadOnly()
                if int(valid.value) and int(ready.value) and int(resp.value):
                    break
            what = f"SLVERR then {then}, dir {direction}"
            owed = tb.ar - tb.rlast if direction == TO_CHIP else tb.aw - tb.b
            assert owed > 0, f"{what}: nothing in flight after the error: the case tests nothing"
            await FallingEdge(d.clk_i)
            if then == "timeout":
                slave.p_resp = 1.0  # silent from now on
                for _ in range(4 * timeout):
                    await FallingEdge(d.clk_i)
                    if tb.done_err:
                        break
            else:
                slave.p_resp = 0.9  # a slow drain, and an abort in the middle of it
                d.abort_i.value = 1
                await FallingEdge(d.clk_i)
                d.abort_i.value = 0
            if then == "timeout":
                assert tb.done_err == [const("DmaErrSlv")], f"{what}: done errors {tb.done_err}"
                assert int(d.busy_o.value), f"{what}: busy fell while beats are owed"
                slave.p_resp = 0.0
            await with_timeout(tb.done.wait(), TIMEOUT_NS, "ns")
            for _ in range(4000):  # up to 3 bursts of beats owed, each offered in 1 of 10 cycles
                await FallingEdge(d.clk_i)
                if not int(d.busy_o.value):
                    break
            assert not int(d.busy_o.value), f"{what}: the drain did not finish"
            assert tb.done_err == [const("DmaErrSlv")], f"{what}: done errors {tb.done_err}"
            assert tb.ar == tb.rlast and tb.aw == tb.b, f"{what}: bursts left in flight"
            assert not slave.ar and not slave.aw and not slave.b, f"{what}: the slave still holds bursts"
            d.timeout_i.value = 0
            slave.errors, slave.p_resp = [], 0.3
            await clean_transfer(tb, slave, direction)
    slave.running = False


@cocotb.test()
async def command_extremes(dut) -> None:
    """Commands with every field at its extreme (length 2^16 - 1, the last on-chip word, the last bus word
    of the AddrW space) for each memory: DmaErrRange or DmaErrAlign exactly as docs/csr.md orders the
    checks, and no bus activity; the largest legal command still runs."""
    tb = DmaTb(dut, port_backpressure=False)
    ram = axi_ram(dut, RAM)
    await tb.reset()
    addr_w, bb = param(dut, "AddrW"), tb.bus_bytes
    top = (1 << addr_w) - bb
    max_len = (1 << param(dut, "LenW")) - 1
    max_mem = (1 << param(dut, "MemAddrW")) - 1
    for sel in SELS:
        depth, wb = tb.depth[sel], tb.width[sel] // 8
        cases = [
            ((TO_CHIP, 0, sel, 0, max_len), "DmaErrRange"),            # longer than the memory
            ((TO_HOST, 0, sel, max_mem, 1), "DmaErrRange"),            # past the memory's last word
            ((TO_CHIP, 0, sel, depth - 1, 2), "DmaErrRange"),          # one word past the end
            ((TO_HOST, top, sel, 0, 2 * bb // wb + 1), "DmaErrRange"),  # past the AddrW space
            ((TO_CHIP, top + 1, sel, 0, 1), "DmaErrAlign"),            # misaligned beats range
            ((TO_HOST, top | 1, sel, max_mem, max_len), "DmaErrAlign"),  # alignment is checked first
        ]
        for cmd, name in cases:
            err = await tb.transfer(*cmd)
            assert err == const(name), f"{cmd}: error {err}, expected {name}"
            assert tb.ar == tb.aw == tb.w_sent == 0, f"{cmd}: bus activity on a rejected command"
    # The largest legal command of each direction: the whole memory, ending at the last byte of the RAM.
    sel = SELS[3]
    n = tb.depth[sel]
    host = RAM - n * tb.width[sel] // 8
    host_exp = bytearray(ram.read(0, RAM))
    for direction in (TO_CHIP, TO_HOST):
        cmd = (direction, host, sel, 0, n)
        await tb.checked_transfer(ram, host_exp, cmd, lambda: bytearray(ram.read(0, RAM)))


def _hits(point: str) -> dict[str, int]:
    return dict(coverage_db[f"{fcov.ROOT}.{point}"].detailed_coverage)


@cocotb.test()
async def monitor_counts(dut) -> None:
    """The functional-coverage AXI monitor (tb/common/fcov.py) sees every burst's first and last beat and
    every transfer's first and last write response exactly once, with back-pressure on every channel and
    on the memory port (a bin hit must be a real handshake)."""
    tb = DmaTb(dut, port_backpressure=True)
    slave = tb.error_slave()
    copies = 2 if fcov.enabled() else 1  # under make coverage TbBase attached one monitor already
    cocotb.start_soon(fcov.AxiMonitor(dut, dut, tb.max_burst, param(dut, "MaxOutstanding"),
                                      tb.bus_bytes).run())
    await tb.reset()
    before = _hits("dma.responses")
    ar = rlast = writes = 0
    host_exp = bytearray(slave.mem)
    for direction in (TO_CHIP, TO_HOST) * 3:
        await tb.checked_transfer(slave, host_exp, tb.random_command(RAM, direction),
                                  lambda: bytearray(slave.mem))
        ar, rlast, writes = ar + tb.ar, rlast + tb.rlast, writes + int(direction == TO_HOST)
    after = _hits("dma.responses")
    grew = {b: (after[b] - before[b]) // copies for b in after if after[b] > before[b]}
    expected = {"read.first.OKAY": ar, "read.last.OKAY": rlast, "write.first.OKAY": writes,
                "write.last.OKAY": writes}
    assert {b: grew.get(b, 0) for b in expected} == expected, f"monitor saw {grew}, expected {expected}"
    slave.running = False


@pytest.mark.parametrize("config", ["bus64"])
def test_cover_dma(sim, config):
    runner.run(sim, "tpu_dma", "tb.dma.test_cover_dma", rtl_sources("tpu_dma"), {**COMMON, **CONFIGS[config]})
