"""tpu_dma: random transfers both ways for every memory select, bit-exact against a Python model of the
on-chip memory port and of host memory; back-pressure on every AXI channel and on the memory port;
SLVERR/DECERR injection; command errors; reset in the middle of a burst.

A per-cycle monitor checks, from the ports alone: the 4 KiB rule, more than one read burst in flight,
perf_bytes_o summing to the bytes moved and perf_stall_o following its documented definition.
"""

from __future__ import annotations

import cocotb
import pytest
from cocotb.triggers import Event, FallingEdge, ReadOnly, with_timeout

from models.hw import const
from tb.common import runner
from tb.common.axi import DECERR, SLVERR, ErrorAxiSlave, axi_ram, pack_words, unpack_words
from tb.common.tb_base import TbBase, param
from tb.common.tools import rtl_sources
from tb.common.xcheck import watch_dma

RAM = 1 << 16
TO_CHIP, TO_HOST = const("DmaDirToChip"), const("DmaDirToHost")
SELS = (const("MemSelImem"), const("MemSelUb"), const("MemSelWm"), const("MemSelAcc"))
TIMEOUT_NS = 400_000


class DmaTb(TbBase):
    def __init__(self, dut, port_backpressure: bool = False) -> None:
        super().__init__(dut)
        self.bus_w = param(dut, "BusW")
        self.bus_bytes = self.bus_w // 8
        self.width = {SELS[0]: param(dut, "ImemWordW"), SELS[1]: param(dut, "UbWordW"),
                      SELS[2]: param(dut, "WmWordW"), SELS[3]: param(dut, "AccWordW")}
        self.depth = {SELS[0]: param(dut, "ImemWords"), SELS[1]: param(dut, "UbWords"),
                      SELS[2]: param(dut, "WmWords"), SELS[3]: param(dut, "AccWords")}
        self.max_burst = param(dut, "MaxBurst")
        # On-chip memories as the DUT's port writes them (mem) and as the model says they should be (exp).
        self.mem = {s: [int(x) for x in self.rand_words(s, self.depth[s])] for s in SELS}
        self.exp = {s: list(v) for s, v in self.mem.items()}
        self.bp = port_backpressure
        self.pending: list[tuple[int, int]] = []  # (cycle due, data) of memory read responses
        self.cycle = 0
        self.done = Event()
        self.done_err: list[int] = []
        self.max_reads_in_flight = 0
        self.new_transfer(TO_CHIP, 0)
        dut.rst_ni.value = 0
        # No window check, no timeout, no abort: tb/top tests those through the CSRs.
        for name in ("cmd_valid_i", "wr_ready_i", "rd_req_ready_i", "rd_rsp_valid_i", "rd_rsp_data_i",
                     "cmd_win_i", "win_base_i", "win_limit_i", "timeout_i", "abort_i"):
            getattr(dut, name).value = 0
        watch_dma(self.xcheck, dut)
        cocotb.start_soon(self.monitor())

    def bit(self, sig) -> int:
        """A handshake signal as an int; X or Z fails (the bus models drive valid/ready from reset on)."""
        v = sig.value
        assert v.is_resolvable, f"{sig._name} = {v} at cycle {self.cycle}"
        return int(v)

    def rand_words(self, sel: int, n: int) -> list[int]:
        nbytes = self.width[sel] // 8
        return unpack_words(self.rng.integers(0, 256, n * nbytes, dtype="u1").tobytes(), self.width[sel])

    def error_slave(self, **knobs) -> ErrorAxiSlave:
        """An ErrorAxiSlave over RAM random bytes, running (knobs: its p, p_resp, ...)."""
        slave = ErrorAxiSlave(self.dut, RAM, self.rng, **knobs)
        slave.mem[:] = self.rng.integers(0, 256, RAM, dtype="u1").tobytes()
        cocotb.start_soon(slave.run())
        return slave

    def new_transfer(self, direction: int, beats: int) -> None:
        self.dir, self.beats = direction, beats
        self.ar = self.rlast = self.aw = self.b = self.w_sent = 0
        self.bytes = 0
        self.stall_mismatch = []

    async def monitor(self) -> None:
        """Drive the memory port (random ready, random read latency) and check the bus every cycle."""
        d = self.dut
        while True:
            await FallingEdge(d.clk_i)
            self.cycle += 1
            if not int(d.rst_ni.value):
                self.pending.clear()
                continue
            bp = lambda: int(not self.bp or self.rng.random() < 0.6)  # noqa: E731
            d.wr_ready_i.value = bp()
            d.rd_req_ready_i.value = bp()
            if self.pending and self.pending[0][0] <= self.cycle:
                d.rd_rsp_valid_i.value = 1
                d.rd_rsp_data_i.value = self.pending.pop(0)[1]
            else:
                d.rd_rsp_valid_i.value = 0
            await ReadOnly()
            s = {n: self.bit(getattr(d, f"m_axi_{n}")) for n in (
                "arvalid", "arready", "rvalid", "rready", "awvalid", "awready", "wvalid", "wready", "bvalid",
                "bready")}
            wr_valid, wr_ready = int(d.wr_valid_o.value), int(d.wr_ready_i.value)
            busy, done = int(d.busy_o.value), int(d.done_o.value)
            run = busy and not done
            # perf_stall_o against its definition (docs/csr.md), before this cycle's handshakes count.
            if self.dir == TO_CHIP:
                exp_stall = run and (self.ar + s["arvalid"] - self.rlast) > 0 and not s["rvalid"] \
                    and not (wr_valid and not wr_ready)
            else:
                exp_stall = run and ((s["wvalid"] and not s["wready"])
                                     or (s["awvalid"] and not s["awready"] and not s["wvalid"])
                                     or (self.w_sent == self.beats and self.aw + s["awvalid"] - self.b > 0
                                         and not s["bvalid"]))
            if int(d.perf_stall_o.value) != int(bool(exp_stall)):
                self.stall_mismatch.append(self.cycle)
            self.bytes += int(d.perf_bytes_o.value)
            for ch in ("ar", "aw"):
                if s[f"{ch}valid"] and s[f"{ch}ready"]:
                    addr = int(getattr(d, f"m_axi_{ch}addr").value)
                    beats = int(getattr(d, f"m_axi_{ch}len").value) + 1
                    assert beats <= self.max_burst, f"{ch} burst of {beats} beats"
                    assert (addr & 0xFFF) + beats * self.bus_bytes <= 0x1000, f"{ch} {addr:#x} crosses 4 KiB"
                    assert int(getattr(d, f"m_axi_{ch}burst").value) == 1, "not INCR"
                    assert (1 << int(getattr(d, f"m_axi_{ch}size").value)) == self.bus_bytes
                    setattr(self, ch, getattr(self, ch) + 1)
            if s["rvalid"] and s["rready"] and self.bit(d.m_axi_rlast):  # a payload: X while rvalid is low
                self.rlast += 1
            self.max_reads_in_flight = max(self.max_reads_in_flight, self.ar - self.rlast)
            if s["wvalid"] and s["wready"]:
                self.w_sent += 1
            if s["bvalid"] and s["bready"]:
                self.b += 1
            if wr_valid and wr_ready:
                sel, addr = int(d.wr_sel_o.value), int(d.wr_addr_o.value)
                data = int(d.wr_data_o.value)
                assert addr < self.depth[sel], f"write to {sel}:{addr} out of range"
                assert data >> self.width[sel] == 0, f"bits above the word width set in {data:#x}"
                self.mem[sel][addr] = data
            if int(d.rd_req_valid_o.value) and int(d.rd_req_ready_i.value):
                sel, addr = int(d.rd_sel_o.value), int(d.rd_addr_o.value)
                assert addr < self.depth[sel], f"read of {sel}:{addr} out of range"
                due = self.cycle + 1 + int(self.rng.integers(0, 4) if self.bp else 0)
                due = max(due, self.pending[-1][0] + 1) if self.pending else due
                self.pending.append((due, self.mem[sel][addr]))
            if done:
                self.done_err.append(int(d.err_o.value))
                self.done.set()

    async def issue(self, direction: int, haddr: int, sel: int, maddr: int, n: int) -> None:
        """Present one command until it is accepted (transfer without the wait for done)."""
        d = self.dut
        nbytes = n * self.width[sel] // 8
        self.new_transfer(direction, -(-nbytes // self.bus_bytes))
        self.done.clear()
        self.done_err.clear()
        await FallingEdge(d.clk_i)
        d.cmd_valid_i.value, d.cmd_dir_i.value, d.cmd_host_addr_i.value = 1, direction, haddr
        d.cmd_sel_i.value, d.cmd_mem_addr_i.value, d.cmd_len_i.value = sel, maddr, n
        while True:
            await ReadOnly()
            ready = int(d.cmd_ready_o.value)
            await FallingEdge(d.clk_i)
            if ready:
                break
        d.cmd_valid_i.value = 0

    async def transfer(self, direction: int, haddr: int, sel: int, maddr: int, n: int) -> int:
        """Issue one command and wait for its done pulse; returns the error code."""
        d = self.dut
        await self.issue(direction, haddr, sel, maddr, n)
        await with_timeout(self.done.wait(), TIMEOUT_NS, "ns")
        await FallingEdge(d.clk_i)
        assert len(self.done_err) == 1, f"{len(self.done_err)} done pulses"
        assert not int(d.busy_o.value), "busy after done"
        return self.done_err[0]

    def random_command(self, ram_size: int, direction: int | None = None,
                       sel: int | None = None) -> tuple[int, int, int, int, int]:
        """(dir, host address, sel, memory address, length); dir and sel random unless given."""
        direction = int(self.rng.integers(0, 2)) if direction is None else direction
        sel = SELS[int(self.rng.integers(0, 4))] if sel is None else sel
        wb = self.width[sel] // 8
        n = int(self.rng.integers(1, min(48, self.depth[sel]) + 1))
        maddr = int(self.rng.integers(0, self.depth[sel] - n + 1))
        span = -(-n * wb // self.bus_bytes) * self.bus_bytes
        if self.rng.random() < 0.4:  # straddle a 4 KiB boundary
            page = int(self.rng.integers(1, ram_size // 4096))
            haddr = page * 4096 - int(self.rng.integers(1, span // self.bus_bytes + 1)) * self.bus_bytes
        else:
            haddr = int(self.rng.integers(0, (ram_size - span) // self.bus_bytes + 1)) * self.bus_bytes
        return direction, haddr, sel, maddr, n

    async def checked_transfer(self, host, host_exp: bytearray, cmd, read_host) -> None:
        """Run `cmd` and compare on-chip memories, host memory and the byte counter with the model."""
        direction, haddr, sel, maddr, n = cmd
        nbytes = n * self.width[sel] // 8
        if direction == TO_CHIP:
            image = bytes(host_exp[haddr:haddr + nbytes])
            self.exp[sel][maddr:maddr + n] = unpack_words(image, self.width[sel])
        else:
            host_exp[haddr:haddr + nbytes] = pack_words(self.exp[sel][maddr:maddr + n], self.width[sel])
        err = await self.transfer(*cmd)
        what = f"transfer dir={direction} host={haddr:#x} sel={sel} mem={maddr} len={n}"
        assert err == 0, f"{what}: error {err}"
        for s in SELS:
            bad = [a for a in range(self.depth[s]) if self.mem[s][a] != self.exp[s][a]]
            assert not bad, f"{what}: on-chip memory {s} differs at words {bad[:8]}"
        got = read_host()
        if got != host_exp:
            bad = [i for i in range(len(got)) if got[i] != host_exp[i]]
            raise AssertionError(f"{what}: host memory differs at bytes {[hex(b) for b in bad[:8]]}")
        assert self.bytes == nbytes, f"{what}: perf_bytes_o summed to {self.bytes}, moved {nbytes}"
        assert not self.stall_mismatch, f"{what}: perf_stall_o wrong in cycles {self.stall_mismatch[:8]}"


@cocotb.test()
@cocotb.parametrize(backpressure=[False, True])
async def random_transfers(dut, backpressure: bool) -> None:
    """Random transfers both ways, every memory select, against the models; same seed, same results."""
    tb = DmaTb(dut, port_backpressure=backpressure)
    ram = axi_ram(dut, RAM, tb.rng if backpressure else None)
    await tb.reset()
    image = tb.rng.integers(0, 256, RAM, dtype="u1").tobytes()
    ram.write(0, image)
    host_exp = bytearray(image)
    # A long read first, so several read bursts are in flight.
    cmds = [(TO_CHIP, 0x0F00, SELS[1], 0, min(tb.depth[SELS[1]], 96))]
    # Every direction with every memory select, then fully random commands.
    cmds += [tb.random_command(RAM, d, sel) for d in (TO_CHIP, TO_HOST) for sel in SELS for _ in range(2)]
    cmds += [tb.random_command(RAM) for _ in range(12)]
    for cmd in cmds:
        await tb.checked_transfer(ram, host_exp, cmd, lambda: bytearray(ram.read(0, RAM)))
    assert tb.max_reads_in_flight > 1, f"at most {tb.max_reads_in_flight} read burst in flight"
    tb.log.info("max read bursts in flight: %d", tb.max_reads_in_flight)


@cocotb.test()
async def bus_errors(dut) -> None:
    """SLVERR and DECERR anywhere in a transfer stop it cleanly; command errors touch no bus."""
    tb = DmaTb(dut, port_backpressure=True)
    slave = tb.error_slave()
    await tb.reset()
    for resp, code in [(SLVERR, const("DmaErrSlv")), (DECERR, const("DmaErrDec"))] * 4:
        direction, haddr, sel, maddr, n = tb.random_command(RAM)
        beats = -(-n * tb.width[sel] // 8 // tb.bus_bytes)
        bad = haddr + int(tb.rng.integers(0, beats)) * tb.bus_bytes
        slave.errors = [(bad, bad + tb.bus_bytes, resp)]
        err = await tb.transfer(direction, haddr, sel, maddr, n)
        assert err == code, f"dir {direction}: error {err}, expected {code} ({resp} at {bad:#x})"
        assert tb.ar == tb.rlast and tb.aw == tb.b, "bursts left in flight after done"
        assert not slave.ar and not slave.aw and not slave.b, "slave still holds bursts"
        # The next transfer, away from the error, is correct.
        slave.errors = []
        for s in SELS:
            tb.exp[s] = list(tb.mem[s])
        host_exp = bytearray(slave.mem)
        await tb.checked_transfer(slave, host_exp, tb.random_command(RAM), lambda: bytearray(slave.mem))
    # Command errors end at once, with no bus activity.
    ub, wb = SELS[1], tb.width[SELS[1]] // 8
    addr_w = param(dut, "AddrW")
    for cmd, code in [((TO_CHIP, tb.bus_bytes // 2, ub, 0, 1), const("DmaErrAlign")),
                      ((TO_HOST, 0, ub, tb.depth[ub] - 2, 3), const("DmaErrRange")),
                      ((TO_HOST, (1 << addr_w) - tb.bus_bytes, ub, 0, 2 * tb.bus_bytes // wb),
                       const("DmaErrRange")),
                      ((TO_CHIP, 0, ub, 0, 0), const("DmaErrLen"))]:
        err = await tb.transfer(*cmd)
        assert err == code, f"{cmd}: error {err}, expected {code}"
        assert tb.ar == tb.aw == tb.w_sent == 0, f"{cmd}: bus activity on a rejected command"
    slave.running = False


@cocotb.test()
async def first_error_wins(dut) -> None:
    """Several error beats in one read burst: the first beat's response is the one reported."""
    tb = DmaTb(dut, port_backpressure=False)
    slave = ErrorAxiSlave(dut, RAM, tb.rng)
    cocotb.start_soon(slave.run())
    await tb.reset()
    ub, wb = SELS[1], tb.width[SELS[1]] // 8
    for first, rest, code in [(SLVERR, DECERR, const("DmaErrSlv")), (DECERR, SLVERR, const("DmaErrDec"))]:
        beats = 4
        slave.errors = [(0, tb.bus_bytes, first), (tb.bus_bytes, beats * tb.bus_bytes, rest)]
        err = await tb.transfer(TO_CHIP, 0, ub, 0, beats * tb.bus_bytes // wb)
        assert err == code, f"error {err}, expected {code} (first beat {first}, then {rest})"
        assert tb.ar == tb.rlast, "read bursts left in flight after done"
    slave.running = False


@cocotb.test()
async def reset_mid_burst(dut) -> None:
    """Reset at a random point of a long transfer, then transfers both ways are correct."""
    tb = DmaTb(dut, port_backpressure=True)
    ram = axi_ram(dut, RAM, tb.rng)
    await tb.reset()
    ram.write(0, tb.rng.integers(0, 256, RAM, dtype="u1").tobytes())
    for direction in (TO_CHIP, TO_HOST, TO_CHIP, TO_HOST):
        sel = SELS[3]
        n = tb.depth[sel] // 2
        tb.new_transfer(direction, 0)
        await FallingEdge(dut.clk_i)
        dut.cmd_valid_i.value, dut.cmd_dir_i.value, dut.cmd_host_addr_i.value = 1, direction, 0x1000
        dut.cmd_sel_i.value, dut.cmd_mem_addr_i.value, dut.cmd_len_i.value = sel, 0, n
        await FallingEdge(dut.clk_i)
        dut.cmd_valid_i.value = 0
        await tb.cycles(int(tb.rng.integers(5, 80)))
        assert int(dut.busy_o.value), "transfer ended before the reset"
        await tb.reset()
        assert not int(dut.busy_o.value) and int(dut.cmd_ready_o.value), "not idle after reset"
        # What the interrupted transfer wrote is unspecified: take it as the new reference.
        for s in SELS:
            tb.exp[s] = list(tb.mem[s])
        host_exp = bytearray(ram.read(0, RAM))
        for d in (TO_CHIP, TO_HOST):
            cmd = tb.random_command(RAM, d)
            await tb.checked_transfer(ram, host_exp, cmd, lambda: bytearray(ram.read(0, RAM)))


CONFIGS = {
    "bus64": {"BusW": 64},
    "bus128": {"BusW": 128},
    "bus32_p2": {"BusW": 32, "UbWordW": 32, "WmWordW": 32, "AccWordW": 64, "MemWordW": 64},
}
COMMON = {"MaxBurst": 8, "MaxOutstanding": 4, "ImemWords": 128, "UbWords": 256, "WmWords": 128,
          "AccWords": 128}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_dma(sim, config):
    runner.run(sim, "tpu_dma", "tb.dma.test_dma", rtl_sources("tpu_dma"), {**COMMON, **CONFIGS[config]})
