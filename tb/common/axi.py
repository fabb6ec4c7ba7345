"""The shared AXI test environment: cocotbext-axi masters/RAMs with seeded back-pressure, the DMA's
host memory layout, and a small AXI slave that answers SLVERR/DECERR for chosen address ranges.

Reset: every bus model is told that `rst_ni` is active low. Back-pressure: pause generators draw
from the testbench's seeded RNG, so SEED reproduces the exact stall pattern.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

import cocotb
import numpy as np
from cocotb.triggers import Edge, FallingEdge, First, ReadOnly, RisingEdge
from cocotb.types import LogicArray
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
from cocotbext.axi.memory import Memory

from models import csr

OKAY, SLVERR, DECERR = 0, 2, 3


def pauses(rng: np.random.Generator, p: float) -> Iterator[bool]:
    """An endless pause pattern: True (stall this cycle) with probability `p`, in random runs."""
    while True:
        stall = bool(rng.random() < p)
        for _ in range(int(rng.integers(1, 4))):
            yield stall


def quiet(dut, prefix: str) -> None:
    """cocotbext-axi logs every transaction at INFO: keep its bus loggers to warnings."""
    logging.getLogger(f"cocotb.{dut._name}.{prefix}").setLevel(logging.WARNING)


def set_pauses(model, rng: np.random.Generator | None, p: float) -> None:
    """Random pauses with probability p on the five channels (aw, w, b, ar, r) of an AxiLiteMaster or an
    AxiRam; no rng or p = 0 removes them for good."""
    for ch in (model.write_if.aw_channel, model.write_if.w_channel, model.write_if.b_channel,
               model.read_if.ar_channel, model.read_if.r_channel):
        if rng is not None and p:
            ch.set_pause_generator(pauses(rng, p))
        else:
            # cocotbext-axi stops the generator but keeps its last value: a channel that happened to be
            # paused would stay paused for ever (the traffic on it then hangs).
            ch.clear_pause_generator()
            ch.pause = False


def axil_master(dut, rng: np.random.Generator | None = None, p: float = 0.3,
                prefix: str = "s_axil") -> AxiLiteMaster:
    """An AXI4-Lite master on `prefix`; with `rng`, random pauses on all five channels."""
    quiet(dut, prefix)
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, prefix), dut.clk_i, dut.rst_ni,
                           reset_active_level=False)
    if rng is not None:
        set_pauses(master, rng, p)
    return master


def axi_ram(dut, size: int, rng: np.random.Generator | None = None, p: float = 0.3,
            prefix: str = "m_axi") -> AxiRam:
    """An AxiRam slave on `prefix`; with `rng`, random pauses on aw, w, b, ar and r."""
    quiet(dut, prefix)
    ram = AxiRam(AxiBus.from_prefix(dut, prefix), dut.clk_i, dut.rst_ni, reset_active_level=False,
                 size=size)
    if rng is not None:
        set_pauses(ram, rng, p)
    return ram


class HostRam(Memory):
    """Host memory on an AXI4 slave port with no random pauses: cocotbext-axi's AxiRam (no pause
    generators) edge for edge, but with no Python running while the bus is idle.

    AxiRam runs a coroutine per channel plus one per direction and moves every beat through queues and
    events; the demo's training loop spent most of its wall time there. HostRam is one coroutine that
    sleeps on the rising edge of ARVALID, AWVALID or WVALID while nothing is pending, and otherwise steps
    every clock edge through the same state AxiRam keeps, in the order AxiRam's coroutines run at an
    edge: the R and B sources first (a beat leaves its queue), then the AR, AW and W sinks (a request
    enters its queue; READY is then "queue below 2 entries", AxiRam's occupancy limit), then the read and
    write processes (an AR starts its burst when the previous one is queued out; each R beat is read
    from memory when it enters the R queue, at most 2 beats ahead; a W beat is written when it and its
    AW are in; a burst's B enters the B queue, at most 2, after its last W beat). So every valid, ready
    and payload matches AxiRam's (tb/top/test_host_ram.py records both and compares them edge by edge),
    and models/core_perf.py's DMA latencies hold for both. Responses are always OKAY; INCR bursts of the
    bus width only (what tpu_dma issues; checked, like the 4 KiB rule). `rst_ni` low drops everything in
    flight, as AxiRam does. Storage and `read` / `write` are cocotbext-axi's Memory (sparse).
    """

    LIMIT = 2  # AxiRam's queue_occupancy_limit of every channel

    def __init__(self, dut, size: int, prefix: str = "m_axi") -> None:
        super().__init__(size)
        self.dut, self.prefix = dut, prefix
        self.clk, self.rst = dut.clk_i, dut.rst_ni
        self.bytes = len(self._sig("rdata")) // 8
        for name in ("arready", "awready", "wready", "rvalid", "bvalid"):
            self._sig(name).setimmediatevalue(0)
        for name in ("rdata", "rlast", "rid", "rresp", "bid", "bresp"):  # X until driven, as AxiRam's
            self._sig(name).setimmediatevalue(LogicArray("X" * len(self._sig(name))))
        self._hot = [True, True, True]
        self._task = cocotb.start_soon(self._run())
        cocotb.start_soon(self._watch_reset())
        for k, name in enumerate(("arvalid", "awvalid", "wvalid")):
            cocotb.start_soon(self._watch_valid(k, self._sig(name)))

    def _sig(self, name: str):
        return getattr(self.dut, f"{self.prefix}_{name}")

    def _check_burst(self, addr: int, beats: int, size: int, burst: int) -> None:
        assert burst == 1, f"HostRam: burst type {burst} (only INCR)"
        assert 1 << size == self.bytes, f"HostRam: AxSIZE {size} is not the bus width"
        assert addr % self.bytes == 0, f"HostRam: unaligned burst address {addr:#x}"
        assert (addr & 0xFFF) + beats * self.bytes <= 0x1000, f"HostRam: burst {addr:#x}+{beats} crosses 4K"

    def _write_beat(self, addr: int, data: int, strb: int) -> None:
        raw = data.to_bytes(self.bytes, "little")
        if strb == (1 << self.bytes) - 1:
            self.write(addr % self.size, raw)
        else:
            for i in range(self.bytes):
                if strb >> i & 1:
                    self.write((addr + i) % self.size, raw[i:i + 1])

    async def _run(self) -> None:
        s, n, limit = self._sig, self.bytes, self.LIMIT
        hot = self._hot = [True, True, True]  # ARVALID, AWVALID, WVALID may be high (see _watch_valid)
        clk = RisingEdge(self.clk)
        arvalid, awvalid, wvalid, rready, bready = (s(x) for x in ("arvalid", "awvalid", "wvalid", "rready",
                                                                    "bready"))
        arready, awready, wready = s("arready"), s("awready"), s("wready")
        ar_f = [s(x) for x in ("araddr", "arlen", "arsize", "arburst", "arid")]
        aw_f = [s(x) for x in ("awaddr", "awlen", "awsize", "awburst", "awid")]
        wdata, wstrb, wlast = s("wdata"), s("wstrb"), s("wlast")
        rdata, rlast, rid, rresp, rv = s("rdata"), s("rlast"), s("rid"), s("rresp"), s("rvalid")
        bid, bresp, bv = s("bid"), s("bresp"), s("bvalid")
        arq: deque = deque()  # accepted ARs not started: (addr, beats, id)
        rq: deque = deque()  # R beats queued for the R channel: (data, last, id)
        awq: deque = deque()  # accepted AWs: (addr, beats, id)
        wq: deque = deque()  # accepted W beats: (data, strb, last)
        bq: deque = deque()  # B responses queued: id
        rd = None  # the read burst being queued: [addr, beats left, id]
        wr = None  # the write burst being written: [addr, beats left, id]
        b_wait = None  # id of a finished write burst whose B waits for room in bq
        r_on = b_on = False  # RVALID / BVALID as driven
        ready = [False, False, False]  # ARREADY, AWREADY, WREADY as driven
        # Payload wires, written only when they change (responses are always OKAY).
        last_rlast = last_rid = last_bid = None
        started = False
        while True:
            await clk
            if not started:  # AxiRam's sinks start at the first edge out of reset: READY from there
                started = True
                for h in (arready, awready, wready):
                    h.value = 1
                ready = [True, True, True]
                continue
            # R and B sources.
            if r_on and int(rready.value):
                r_on = False
                if not rq:
                    rv.value = 0
            if not r_on and rq:
                data, last, ident = rq.popleft()
                rdata.value = data
                if last != last_rlast:
                    rlast.value = last_rlast = last
                if ident != last_rid:
                    rid.value = last_rid = ident
                    rresp.value = OKAY
                rv.value = r_on = True
            if b_on and int(bready.value):
                b_on = False
                if not bq:
                    bv.value = 0
            if not b_on and bq:
                ident = bq.popleft()
                if ident != last_bid:
                    bid.value = last_bid = ident
                    bresp.value = OKAY
                bv.value = b_on = True
            # AR, AW and W sinks.
            # A VALID is read only while it may be high: from its rising edge (_watch_valid) until it
            # is seen low (an idle channel costs no read while another one streams).
            arv = awv = wv = 0
            if ready[0] and hot[0] and not (arv := int(arvalid.value)):
                hot[0] = False
            if arv:
                addr, length, size, burst, ident = (int(h.value) for h in ar_f)
                self._check_burst(addr, length + 1, size, burst)
                arq.append((addr, length + 1, ident))
            if ready[1] and hot[1] and not (awv := int(awvalid.value)):
                hot[1] = False
            if awv:
                addr, length, size, burst, ident = (int(h.value) for h in aw_f)
                self._check_burst(addr, length + 1, size, burst)
                awq.append((addr, length + 1, ident))
            if ready[2] and hot[2] and not (wv := int(wvalid.value)):
                hot[2] = False
            if wv:
                wq.append((int(wdata.value), int(wstrb.value), int(wlast.value)))
            for k, (h, q) in enumerate(((arready, arq), (awready, awq), (wready, wq))):
                if ready[k] != (len(q) < limit):
                    ready[k] = len(q) < limit
                    h.value = int(ready[k])
            # The read process: queue R beats, at most `limit` ahead of the channel.
            while True:
                if rd is None:
                    if not arq:
                        break
                    rd = list(arq.popleft())
                while rd[1] and len(rq) < limit:
                    rd[1] -= 1
                    data = int.from_bytes(self.read(rd[0] % self.size, n), "little")
                    rq.append((data, int(rd[1] == 0), rd[2]))
                    rd[0] += n
                if rd[1]:
                    break
                rd = None
            # The write process: W beats into memory after their AW, then the burst's B.
            while True:
                if b_wait is not None:
                    if len(bq) >= limit:
                        break
                    bq.append(b_wait)
                    b_wait = None
                if wr is None:
                    if not awq:
                        break
                    wr = list(awq.popleft())
                while wr[1] and wq:
                    data, strb, last = wq.popleft()
                    wr[1] -= 1
                    assert last == int(wr[1] == 0), "HostRam: WLAST misplaced"
                    self._write_beat(wr[0], data, strb)
                    wr[0] += n
                if wr[1]:
                    break
                b_wait, wr = wr[2], None
            busy = (arq or rq or awq or wq or bq or rd or wr or b_wait is not None or r_on or b_on
                    or not all(ready))
            if not (busy or arv or awv or wv):
                await First(RisingEdge(arvalid), RisingEdge(awvalid), RisingEdge(wvalid))

    async def _watch_valid(self, k: int, valid) -> None:
        """Mark VALID k as possibly high at each of its rising edges (AxiRam's sinks wake the same way)."""
        rise = RisingEdge(valid)
        while True:
            await rise
            self._hot[k] = True

    async def _watch_reset(self) -> None:
        while True:
            await Edge(self.rst)
            try:
                low = not int(self.rst.value)
            except ValueError:
                continue
            if low and self._task is not None:
                self._task.cancel()
                self._task = None
                for name in ("arready", "awready", "wready", "rvalid", "bvalid"):
                    self._sig(name).value = 0
            elif not low and self._task is None:
                self._task = cocotb.start_soon(self._run())


class CsrClient:
    """Register-level host access to tpu_csr through an AxiLiteMaster, by register name (models/csr.py)."""

    def __init__(self, master: AxiLiteMaster) -> None:
        self.master = master
        self.regs = csr.registers()

    def _off(self, reg: str | int) -> int:
        return self.regs[reg].offset if isinstance(reg, str) else reg

    async def read(self, reg: str | int) -> tuple[int, int]:
        """(value, AXI response) of a register name or byte offset."""
        r = await self.master.read(self._off(reg), 4)
        return int.from_bytes(r.data, "little"), int(r.resp)

    async def write(self, reg: str | int, value: int) -> int:
        """Write a whole register; returns the AXI response."""
        return int((await self.master.write(self._off(reg), value.to_bytes(4, "little"))).resp)

    async def rd(self, reg: str) -> int:
        value, resp = await self.read(reg)
        assert resp == csr.OKAY, f"read {reg}: response {resp}"
        return value

    async def wr(self, reg: str, value: int) -> None:
        resp = await self.write(reg, value)
        assert resp == csr.OKAY, f"write {reg}: response {resp}"

    async def status(self) -> dict[str, int]:
        """STATUS decoded into its fields."""
        value = await self.rd("STATUS")
        return {f: csr.field(value, "STATUS", f) for f in csr.FIELDS["STATUS"]}

    async def counter(self, name: str) -> int:
        """A 64-bit performance counter (LO first: that read snapshots HI)."""
        lo = await self.rd(f"{name}_LO")
        return (await self.rd(f"{name}_HI")) << 32 | lo

    async def dma_start(self, direction: int, host_addr: int, sel: int, mem_addr: int, length: int) -> None:
        """Program the DMA_* registers and write CTRL.DMA_START (does not wait for done)."""
        await self.wr("DMA_HOST_LO", host_addr & 0xFFFFFFFF)
        await self.wr("DMA_HOST_HI", host_addr >> 32)
        await self.wr("DMA_MEM_ADDR", mem_addr)
        await self.wr("DMA_LEN", length)
        cfg = csr.FIELDS["DMA_CFG"]
        await self.wr("DMA_CFG", direction << cfg["DIR"][0] | sel << cfg["SEL"][0])
        await self.wr("CTRL", csr.bit("CTRL", "DMA_START"))


# ---- Host memory layout of DMA transfers (docs/csr.md, "Host memory layout") --------------------
def pack_words(words: list[int], word_bits: int) -> bytes:
    """On-chip words -> host bytes: packed tightly, little endian, word_bits/8 bytes each."""
    nbytes = word_bits // 8
    return b"".join(int(w).to_bytes(nbytes, "little") for w in words)


def unpack_words(data: bytes, word_bits: int) -> list[int]:
    """Host bytes -> on-chip words (the inverse of pack_words)."""
    nbytes = word_bits // 8
    assert len(data) % nbytes == 0
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


# ---- An AXI slave with error regions --------------------------------------------------------------
class ErrorAxiSlave:
    """A byte-array AXI4 slave that answers SLVERR or DECERR for beats touching chosen ranges.

    INCR bursts only; AR and AW are queued (several outstanding), R and B come back in order.
    A beat whose bytes touch an error range is answered with that error (reads return zeros, writes
    are dropped); a write burst's B carries the first error of its beats. Ready and valid timing is
    randomised from `rng`. Signals are driven after the falling edge and sampled, settled, before
    the rising edge, so every handshake is seen exactly once. It also asserts the AXI rules the DMA
    must keep: no 4 KiB crossing, WLAST on the last beat of the burst.
    """

    def __init__(self, dut, size: int, rng: np.random.Generator, p: float = 0.3,
                 errors: list[tuple[int, int, int]] | None = None, prefix: str = "m_axi",
                 p_resp: float | None = None) -> None:
        self.dut, self.prefix, self.rng, self.p = dut, prefix, rng, p
        self.p_resp = p if p_resp is None else p_resp  # stall probability of R and B (a slow slave)
        self.mem = bytearray(size)
        self.errors = list(errors or [])  # (start, end, resp), end exclusive
        self.bytes = len(getattr(dut, f"{prefix}_wdata")) // 8
        self.ar: deque = deque()  # [addr, beats left]
        self.aw: deque = deque()  # [addr, beats, beats done, resp]
        self.b: deque = deque()
        self.rvalid = self.bvalid = False
        self.running = True

    def sig(self, name: str):
        return getattr(self.dut, f"{self.prefix}_{name}")

    def resp_for(self, addr: int) -> int:
        for start, end, resp in self.errors:
            if addr < end and start < addr + self.bytes:
                return resp
        return OKAY

    def idle(self) -> None:
        for name in ("awready", "wready", "arready", "rvalid", "bvalid", "rlast"):
            self.sig(name).value = 0
        self.rvalid = self.bvalid = False
        self.ar.clear()
        self.aw.clear()
        self.b.clear()

    def check_burst(self, addr: int, beats: int) -> None:
        assert addr % self.bytes == 0, f"unaligned burst address {addr:#x}"
        assert (addr & 0xFFF) + beats * self.bytes <= 0x1000, f"burst {addr:#x}+{beats} crosses 4 KiB"

    async def run(self) -> None:
        """Run until `running` is cleared; call idle() after a reset."""
        self.idle()
        while self.running:
            await FallingEdge(self.dut.clk_i)
            if not int(self.dut.rst_ni.value):
                self.idle()
                continue
            go = lambda p=self.p: bool(self.rng.random() >= p)  # noqa: E731
            self.sig("arready").value = int(go())
            self.sig("awready").value = int(go())
            self.sig("wready").value = int(bool(self.aw) and go())
            if not self.rvalid and self.ar and go(self.p_resp):
                addr, _ = self.ar[0]
                resp = self.resp_for(addr)
                data = 0 if resp else int.from_bytes(self.mem[addr:addr + self.bytes], "little")
                self.sig("rdata").value = data
                self.sig("rresp").value = resp
                self.sig("rid").value = 0
                self.sig("rlast").value = int(self.ar[0][1] == 1)
                self.rvalid = True
            self.sig("rvalid").value = int(self.rvalid)
            if not self.bvalid and self.b and go(self.p_resp):
                self.sig("bresp").value = self.b[0]
                self.sig("bid").value = 0
                self.bvalid = True
            self.sig("bvalid").value = int(self.bvalid)
            await ReadOnly()
            s = {n: int(self.sig(n).value) for n in ("arvalid", "arready", "awvalid", "awready", "wvalid",
                                                      "wready", "rready", "bready")}
            if s["arvalid"] and s["arready"]:
                addr, beats = int(self.sig("araddr").value), int(self.sig("arlen").value) + 1
                self.check_burst(addr, beats)
                self.ar.append([addr, beats])
            if self.rvalid and s["rready"]:
                self.rvalid = False
                self.ar[0][0] += self.bytes
                self.ar[0][1] -= 1
                if self.ar[0][1] == 0:
                    self.ar.popleft()
            if s["wvalid"] and s["wready"]:
                burst = self.aw[0]
                addr = burst[0] + burst[2] * self.bytes
                data = int(self.sig("wdata").value).to_bytes(self.bytes, "little")
                strb = int(self.sig("wstrb").value)
                resp = self.resp_for(addr)
                if resp:
                    burst[3] = burst[3] or resp
                else:
                    for i in range(self.bytes):
                        if strb >> i & 1:
                            self.mem[addr + i] = data[i]
                burst[2] += 1
                assert int(self.sig("wlast").value) == int(burst[2] == burst[1]), "WLAST misplaced"
                if burst[2] == burst[1]:
                    self.b.append(burst[3])
                    self.aw.popleft()
            if s["awvalid"] and s["awready"]:
                addr, beats = int(self.sig("awaddr").value), int(self.sig("awlen").value) + 1
                self.check_burst(addr, beats)
                self.aw.append([addr, beats, 0, OKAY])
            if self.bvalid and s["bready"]:
                self.bvalid = False
                self.b.popleft()


class SlaveRam:
    """The driver's host-memory interface on an ErrorAxiSlave's bytes."""

    def __init__(self, slave: ErrorAxiSlave) -> None:
        self.slave = slave

    def write(self, addr: int, data: bytes) -> None:
        self.slave.mem[addr:addr + len(data)] = data

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.slave.mem[addr:addr + n])
