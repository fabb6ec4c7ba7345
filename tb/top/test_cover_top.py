"""tpu_top corners the random host tests reach rarely (coverage closure, docs/verification.md), every step
checked access by access against HostModel (models/host_model.py) on test_host.py's testbench.

* window_extremes  DMA windows at the top of the 64-bit space, inverted, ending exactly at the fetch's last
                   byte or one word short, starting at 2^32; fetches from the last words of the 32-bit
                   space, from above it and from the top of the 64-bit space (ErrDmaAddr, ErrDmaWindow or a
                   run): STATUS, PC, every counter, IRQ and every AXI burst compared with the model.
* wide_commands    host DMAs whose DMA_HOST, DMA_MEM_ADDR or DMA_LEN have their upper bits set (DmaErrRange,
                   no bus activity) and a good transfer to and from the last words of the 32-bit space.
* errors_while_busy  every decode error raised while a program DMA is outstanding, ErrPc while a DMA and
                   while a MATMUL runs, DMA command errors arriving while a MATMUL streams or alone.
* all_patterns     every offset written with all ones, all zeros and the alternating patterns (CTRL and
                   the DMA_* / PROG_* registers included, so the starts it triggers run with the registers'
                   values), each response and the whole map after each pattern against the model.
* bus_errors_while_matmul  a program DMA whose slave answers SLVERR / DECERR (on R and on B), an RLAST one
                   beat early or late, or nothing at all (R and B: timeout), while the MATMUL issued after
                   it streams: the code and PC of the ISA sim (the DMA's), the stop seen while the matrix
                   unit is busy, and nothing lost (the MATMUL finishes: ACC, ARRAY_BUSY, MACS; every
                   memory word outside the DMA's range as the ISA sim has it); then a clean run.
* dma_interlock    LDW / MATMUL ranges disjoint from, adjacent to (either side), one word into (either
                   side), nested in and identical to the outstanding DMA's range in WMEM, UB and ACC:
                   every memory against the ISA sim, which runs the DMA first (the interlock's promise).
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from models import csr
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W, random_codes
from models.host_model import MASK32, MASK64
from models.hw import const
from models.isa import ERROR_NAMES
from models.isa_sim import AXI_DECERR, AXI_SLVERR, HostMemory, MachineState, run_status
from tb.common import runner
from tb.common.axi import SlaveRam
from tb.common.driver import TpuDriver
from tb.common.tb_base import TbBase
from tb.common.tools import rtl_sources
from tb.top.test_host import CTRL, SEL, SPACE, HostTb, RlastSlave, copy_all
from tb.top.test_top import SOURCES, params

PATTERNS = (MASK32, 0, 0xAAAAAAAA, 0x55555555)


async def set_window(tb: HostTb, base: int, limit: int) -> None:
    for name, v in (("DMA_WIN_BASE", base), ("DMA_WIN_LIMIT", limit)):
        await tb.wr_name(f"{name}_LO", v & MASK32)
        await tb.wr_name(f"{name}_HI", v >> 32)


async def fetch(tb: HostTb, base: int, words: list[int]) -> None:
    nb = 8 * len(words)
    if base + nb <= SPACE:
        tb.host_write(base, b"".join(w.to_bytes(8, "little") for w in words))
    await tb.wr_name("PROG_BASE_LO", base & MASK32)
    await tb.wr_name("PROG_BASE_HI", base >> 32)
    await tb.wr_name("PROG_LEN", len(words))
    await tb.wr(csr.offset("CTRL"), CTRL["START"])
    await tb.wait_idle()
    await tb.check()


async def read_all(tb: HostTb) -> None:
    for reg in csr.registers().values():
        await tb.rd(reg.offset)


@cocotb.test()
async def window_extremes(dut) -> None:
    """Windows and fetches at the ends of the 32- and 64-bit spaces, against the model."""
    tb = HostTb(dut)
    await tb.start()
    words = assemble("NOP\nNOP\nHALT")
    nb = 8 * len(words)
    top32 = SPACE - nb
    cases = [
        (MASK64 + 1 - 0x1000, MASK64, MASK64 + 1 - 0x1000),  # the top of the 64-bit space: wider than AddrW
        (0xFFFF_F000, MASK64, top32),                        # the last words of the 32-bit space: runs
        (SPACE, MASK64, top32),                              # window above the fetch
        (0, top32 + nb, top32),                              # the fetch ends exactly at the limit: runs
        (0, top32 + nb - 8, top32),                          # one word short
        (top32 + 8, MASK64, top32),                          # one word late
        (0xAAAA_AAAA_AAAA_A000, 0x5555_5555_5555_5000, 0x1000),  # inverted: nothing is inside
        (0x5555_5555_5555_5000, 0xAAAA_AAAA_AAAA_A000, 0x1000),  # far above the fetch
        (0, MASK64, SPACE),                                  # fetch just above the 32-bit space
        (0, MASK64, MASK64 + 1 - nb),                        # the last words of the 64-bit space
        (0, MASK64, 0x1000),                                 # the widest window again: runs
    ]
    for base, limit, prog in cases:
        await set_window(tb, base, limit)
        await fetch(tb, prog, words)
    await read_all(tb)


@cocotb.test()
async def wide_commands(dut) -> None:
    """DMA_HOST / DMA_MEM_ADDR / DMA_LEN too wide for the DMA, and the last words of the 32-bit space."""
    tb = HostTb(dut)
    await tb.start()
    wb = tb.P * 2  # UB words: P codes of 16 bits
    cases = [
        (MASK64 + 1 - 8, "IMEM", 0, 1, 0),           # host address at the top of the 64-bit space
        (0xFFFF_FFFF_0000_0000, "UB", 0, 1, 1),      # HI word all ones
        (0x1000, "UB", MASK32, 1, 0),                # on-chip address with every bit set
        (0x1000, "UB", 0x1_0000, 1, 1),              # bit 16 of the on-chip address
        (0x1000, "ACC", 0, MASK32, 0),               # length with every bit set
        (0x1000, "WM", 0, 0x1_0000, 1),              # bit 16 of the length
        (SPACE - 8, "IMEM", 0, 1, 0),                # the last word of the 32-bit space, both ways
        (SPACE - 8, "IMEM", 0, 1, 1),
        (SPACE - 4 * wb, "UB", 0, 4, 0),             # (on-chip words are written before they are read)
        (SPACE - 4 * wb, "UB", 0, 4, 1),
    ]
    tb.host_write(SPACE - 4 * wb, tb.rand_bytes(4 * wb))
    for host, mem, addr, n, out in cases:
        for name, v in (("DMA_HOST_LO", host & MASK32), ("DMA_HOST_HI", host >> 32), ("DMA_MEM_ADDR", addr),
                        ("DMA_LEN", n), ("DMA_CFG", out | SEL[mem] << 4)):
            await tb.wr_name(name, v)
        await tb.wr(csr.offset("CTRL"), CTRL["DMA_START"])
        await tb.wait_idle()
        await tb.check()
    await read_all(tb)


@cocotb.test()
async def all_patterns(dut) -> None:
    """Every offset written with all ones, zeros and alternating bits, the whole map read back."""
    tb = HostTb(dut)
    await tb.start()
    for pattern in PATTERNS:
        for off in range(0, 0x100, 4):
            await tb.wr(off, pattern)  # the response against the model
            if tb.m.busy:  # a START or DMA_START of the pattern: it runs with what the registers hold
                await tb.wait_idle()
            if off == csr.offset("CTRL"):
                await tb.check()
        # The register-level read-back after every write is tb/csr/test_cover_csr.py's; here the whole map
        # once per pattern, through the top.
        await read_all(tb)
        await tb.check()
    await tb.wr_name("DMA_TIMEOUT", 1 << 16)


def padded(lines: list[str], at: int) -> list[str]:
    """`lines` placed so that the last one sits at IMEM word `at` (NOPs before)."""
    return ["NOP"] * (at + 1 - len(lines)) + lines


@cocotb.test()
async def errors_while_busy(dut) -> None:
    """Each decode error raised while a program DMA is outstanding, ErrPc while a DMA runs and while a
    MATMUL streams, and DMA command errors arriving while a MATMUL streams or with nothing else running:
    the code and PC the model gives (and the code each case is named for)."""
    tb = HostTb(dut)
    await tb.start()
    await copy_all(tb, 0, 0x4000_0000)  # defined on-chip memories
    last = tb.depths["IMEM"] - 1
    dma_in = ["SETH 0x10000", "DMA IN, UB, 64, 190, 0"]  # a long DMA into UB 64.. (nothing else touches it)
    cases = {
        "ErrIllegal": dma_in + [".word 0x8000000000000000", "HALT"],  # a NOP with a stray bit
        "ErrAddr": dma_in + [f"LDW {tb.depths['WM'] - 2}", "HALT"],
        "ErrLen": dma_in + [f"MATMUL 0, 0, {tb.depths['ACC'] + 1}", "HALT"],
        "ErrLoop": dma_in + [f"LOOP 2, {last}", "NOP", "HALT"],
        "ErrOverlap": dma_in + ["COPY UB, 0, UB, 1, 4", "HALT"],
        "ErrPc": padded(dma_in + ["NOP"], last),  # the NOP on the last word runs while the DMA does
        "ErrPc ": padded(["LDW 0", f"MATMUL 0, 0, {tb.depths['ACC']}, SWAP", "NOP"], last),
        "ErrDmaAddr": ["SETH 0x10004", "DMA IN, UB, 200, 1, 0", f"MATMUL 0, 0, {tb.depths['ACC']}", "HALT"],
        "ErrDmaAddr ": ["SETH 0x10004", "DMA IN, UB, 200, 1, 0", "HALT"],
        "ErrDmaWindow": ["SETH 0x80000", "DMA IN, UB, 200, 1, 0", f"MATMUL 0, 0, {tb.depths['ACC']}", "HALT"],
        "ErrDmaWindow ": ["SETH 0x80000", "DMA OUT, UB, 200, 1, 0", "HALT"],
    }
    tb.host_write(0x10000, tb.rand_bytes(190 * tb.P * 2))
    for name, lines in cases.items():
        window = (0, 0x40000) if name.startswith("ErrDmaWindow") else (0, MASK64)
        await set_window(tb, *window)
        tb.log.info("case %s", name)
        await fetch(tb, 0x1000, assemble("\n".join(lines)))
        code = csr.field(await tb.rd(csr.offset("STATUS")), "STATUS", "ERR_CODE")
        assert ERROR_NAMES[code] == name.strip(), f"{name.strip()} case ended with {ERROR_NAMES[code]}"
    await set_window(tb, 0, MASK64)


# ---- program DMAs beside a MATMUL -------------------------------------------------------------------
HOST = 1 << 18        # host bytes of the test's slave
DATA = 0x10000        # the program DMAs' host bytes
IMAGES = 0x20000      # where the on-chip memories are loaded from and read back to (0x8000 per memory)
MEMS = ("UB", "WM", "ACC")


def width(mem: str) -> int:
    return ACC_W if mem == "ACC" else DATA_W


class TopRig:
    """tpu_top on a slave that can fail (test_host.RlastSlave: SLVERR / DECERR ranges, RLAST skew), the
    driver, and the ISA sim's host memory kept equal to the slave's bytes."""

    def __init__(self, dut) -> None:
        self.tb = TbBase(dut)
        self.dut, self.rng = dut, self.tb.rng
        self.slave = RlastSlave(dut, HOST, self.rng, p=0.2)
        cocotb.start_soon(self.slave.run())
        self.drv = TpuDriver(dut, self.rng, ram=SlaveRam(self.slave))
        self.stops: list[bool] = []  # per StRun -> StStop of the core: was the matrix unit busy just before
        cocotb.start_soon(self._stops())

    async def start(self) -> None:
        await self.tb.reset()
        await self.drv.init()
        self.P, self.d = self.drv.P, self.drv.depth
        self.host = HostMemory(bytearray(HOST), bus_bytes=self.drv.bus_bytes)

    async def _stops(self) -> None:
        ctrl, munit = self.dut.u_core.u_ctrl, self.dut.u_core.u_munit
        prev_run = prev_busy = False
        while True:
            await FallingEdge(self.dut.clk_i)
            await ReadOnly()
            st = int(ctrl.state_q.value)
            if prev_run and st == 2:  # StRun -> StStop
                self.stops.append(prev_busy)
            prev_run, prev_busy = st == 1, int(munit.idle_o.value) == 0

    def put(self, addr: int, data: bytes) -> None:
        self.drv.write_host(addr, data)
        self.host.data[addr:addr + len(data)] = data

    async def load(self) -> MachineState:
        """Random codes into every on-chip memory (host DMAs); the ISA sim's state holding the same."""
        st = MachineState.new(self.P, self.d["UB"], self.d["WM"], self.d["ACC"])
        for i, mem in enumerate(MEMS):
            rows = random_codes(self.rng, (self.d[mem], self.P), width(mem))
            self.drv.write_rows(IMAGES + 0x8000 * i, rows, width(mem))
            assert await self.drv.dma(0, IMAGES + 0x8000 * i, SEL[mem], 0, self.d[mem]) == 0, mem
            getattr(st, mem.lower())[:] = rows
        self.put(DATA, self.rng.integers(0, 256, 0x1000, dtype=np.uint8).tobytes())
        return st

    async def memories(self) -> dict[str, np.ndarray]:
        """Every on-chip memory read back through host DMAs."""
        out = {}
        for i, mem in enumerate(MEMS):
            assert await self.drv.dma(1, IMAGES + 0x8000 * i, SEL[mem], 0, self.d[mem]) == 0, mem
            out[mem] = self.drv.read_rows(IMAGES + 0x8000 * i, self.d[mem], width(mem))
        return out

    def sim(self, lines: list[str], st: MachineState) -> tuple[MachineState, int, int, bytearray]:
        """The ISA sim on a copy of `st` and of the mirrored host memory: (state, code, pc, host bytes)."""
        cp = MachineState.new(self.P, self.d["UB"], self.d["WM"], self.d["ACC"])
        cp.ub, cp.wm, cp.acc = st.ub.copy(), st.wm.copy(), st.acc.copy()
        host = HostMemory(bytearray(self.host.data), bus_bytes=self.host.bus_bytes, errors=self.host.errors)
        cp, code, pc = run_status(assemble("\n".join(lines)), cp, imem_depth=self.d["IMEM"], host=host)
        return cp, code, pc, host.data


async def freeze_after_fetch(rig: TopRig) -> None:
    """Once the fetch is over (tpu_top runs the core), the slave stops offering R beats and B responses."""
    while int(rig.dut.state_q.value) != 2:  # TRun
        await FallingEdge(rig.dut.clk_i)
    rig.slave.p_resp = 1.0


@cocotb.test()
async def bus_errors_while_matmul(dut) -> None:
    """A program DMA fails (SLVERR, DECERR, RLAST early / late, timeout; reads and writes) while the
    MATMUL after it streams: the DMA's code and PC, the matrix unit busy at the stop, nothing lost."""
    rig = TopRig(dut)
    await rig.start()
    drv, slave, P, d = rig.drv, rig.slave, rig.P, rig.d
    chk = getattr(dut.u_dma, "u_axi_checker", None)  # bound by Verilator only
    m = min(d["UB"], d["ACC"])
    u = d["WM"] - 2  # the DMA's two WMEM words: away from the LDW's tile and from the MATMUL's UB / ACC
    cases = [  # name, direction, injected fault, the code the case is named for
        ("slverr read", "IN", ("resp", AXI_SLVERR), "ErrDmaSlv"),
        ("slverr write", "OUT", ("resp", AXI_SLVERR), "ErrDmaSlv"),
        ("decerr read", "IN", ("resp", AXI_DECERR), "ErrDmaDec"),
        ("decerr write", "OUT", ("resp", AXI_DECERR), "ErrDmaDec"),
        ("rlast early", "IN", ("skew", -1), "ErrDmaProto"),
        ("rlast late", "IN", ("skew", 1), "ErrDmaProto"),
        ("silent R", "IN", ("freeze", 0), "ErrDmaTimeout"),
        ("silent B", "OUT", ("freeze", 0), "ErrDmaTimeout"),
        ("healthy", "IN", (None, 0), "ErrNone"),  # the same program on a healthy bus: the chip recovered
        ("healthy", "OUT", (None, 0), "ErrNone"),
    ]
    await drv.csr.wr("DMA_TIMEOUT", 32)
    for name, direction, (fault, arg), want in cases:
        st = await rig.load()
        lines = [f"SETH {DATA:#x}", "LDW 0", f"DMA {direction}, WM, {u}, 2, 0", f"MATMUL 0, 0, {m}, SWAP",
                 "HALT"]
        # The ISA sim: a bus error in the DMA gives the PC every fault of the DMA reports (and, for SLVERR
        # and DECERR, the code); the program without the DMA gives what the MATMUL leaves: it issued beside
        # the DMA (docs/isa.md §4a rule 2) and finishes before the core stops (§4 rule 5).
        rig.host.errors = [(DATA, DATA + 1, AXI_DECERR if want == "ErrDmaDec" else AXI_SLVERR)]
        _, code, pc, _ = rig.sim(lines, st)
        rig.host.errors = []
        if fault is None:
            done, code, pc, host = rig.sim(lines, st)
        else:
            assert pc == 2 and (fault != "resp" or ERROR_NAMES[code] == want), (name, code, pc)
            code = const(want)
            done, _, _, host = rig.sim(lines[:2] + ["NOP"] + lines[3:], st)
        slave.errors = [(DATA, DATA + 1, arg)] if fault == "resp" else []
        if fault == "skew":
            if chk is not None:  # this slave breaks RLastBeat on purpose
                chk.g_slave_assert.slave_rules_on.value = 0
            slave.bad, slave.skew = 1, arg  # burst 0 is the fetch (one burst), burst 1 the DMA's
        await drv.load_program(assemble("\n".join(lines)))
        slave.count = 0
        freezer = cocotb.start_soon(freeze_after_fetch(rig)) if fault == "freeze" else None
        n_stops = len(rig.stops)
        await drv.start()
        await drv._wait_irq(20_000, name)
        if freezer is not None:
            s = await drv.csr.status()
            assert s["DONE"] and s["BUSY"], f"{name}: DONE, and BUSY up while the DMA owes the bus: {s}"
            await ClockCycles(dut.clk_i, 50)
            assert (await drv.csr.status())["BUSY"], f"{name}: BUSY fell while the slave is silent"
            slave.p_resp = slave.p
            for _ in range(100):
                if not (await drv.csr.status())["BUSY"]:
                    break
                await ClockCycles(dut.clk_i, 10)
        s = await drv.csr.status()
        assert s["DONE"] and not s["BUSY"], f"{name}: {s}"
        got = (ERROR_NAMES[s["ERR_CODE"]], await drv.csr.rd("PC"))
        assert got == (ERROR_NAMES[code], pc) and got[0] == want, f"{name}: {got}, expected {want} at PC {pc}"
        await drv.csr.wr("IRQ_STATUS", 0x1F)
        if chk is not None:
            chk.g_slave_assert.slave_rules_on.value = 1
        slave.bad, slave.errors = -1, []
        if fault is not None:
            assert rig.stops[n_stops:] == [True], f"{name}: the stop did not come while the MATMUL streamed"
        cnt = await drv.counters()
        assert (cnt["ARRAY_BUSY"], cnt["MACS"]) == (m, m * P * P), f"{name}: the MATMUL lost rows: {cnt}"
        mems = await rig.memories()
        for mem in MEMS:
            want_rows = getattr(done, mem.lower()).copy()
            if mem == "WM" and fault is not None and direction == "IN":
                want_rows[u:u + 2] = mems["WM"][u:u + 2]  # what the failing DMA wrote: unspecified (§4a)
            assert np.array_equal(mems[mem], want_rows), f"{name}: {mem} differs from the ISA sim"
        if fault is None:
            nb = 2 * P * DATA_W // 8
            assert drv.read_host(DATA, nb) == bytes(host[DATA:DATA + nb]), f"{name}: host bytes"
    await drv.csr.wr("DMA_TIMEOUT", csr.registers()["DMA_TIMEOUT"].reset)


RELATIONS = ("disjoint", "adjacent_below", "adjacent_above", "overlap1_below", "overlap1_above", "nested",
             "identical")


def placed(rel: str, lo: int, n: int, length: int) -> tuple[int, int]:
    """(DMA length, start of an instruction range of `length` words) in relation `rel` to a DMA range
    starting at `lo` of n words (the relations of tb/common/fcov.py::relation)."""
    return {"disjoint": (n, lo + n + 2), "adjacent_below": (n, lo - length), "adjacent_above": (n, lo + n),
            "overlap1_below": (n, lo - length + 1), "overlap1_above": (n, lo + n - 1),
            "nested": (length + 2, lo + 1), "identical": (length, lo)}[rel]


@cocotb.test()
async def dma_interlock(dut) -> None:
    """LDW / MATMUL ranges in every relation to the outstanding DMA's (WMEM, UB, ACC; the DMA either way):
    every memory word and the host bytes against the ISA sim, which runs the DMA before them."""
    rig = TopRig(dut)
    await rig.start()
    drv, P = rig.drv, rig.P
    lo, n, mm = 3 * P, P + 2, P  # the DMA's start and length, the MATMUL's rows
    for rel in RELATIONS:
        for mem in MEMS:
            direction = ("IN", "OUT")[int(rig.rng.integers(0, 2))]
            dn, start = placed(rel, lo, n, P if mem == "WM" else mm)
            body = {"WM": [f"LDW {start}", f"MATMUL 0, {8 * P}, {mm}, SWAP"],  # the tile it loaded, used
                    "UB": [f"MATMUL {start}, {8 * P}, {mm}, SWAP"],
                    "ACC": [f"MATMUL {8 * P}, {start}, {mm}, SWAP"]}[mem]
            lines = [f"SETH {DATA:#x}", f"LDW {8 * P}", f"DMA {direction}, {mem}, {lo}, {dn}, 0", *body,
                     "HALT"]
            st = await rig.load()
            want, code, _, host = rig.sim(lines, st)
            assert code == 0, (rel, mem, ERROR_NAMES[code])
            await drv.run(assemble("\n".join(lines)))
            got = await rig.memories()
            what = f"{rel}: DMA {direction} {mem} {lo}+{dn}, {body[0]}"
            for m in MEMS:
                assert np.array_equal(got[m], getattr(want, m.lower())), f"{what}: {m} differs from the sim"
            nb = dn * P * width(mem) // 8
            assert drv.read_host(DATA, nb) == bytes(host[DATA:DATA + nb]), f"{what}: host bytes"


@pytest.mark.parametrize("P", [4])
def test_cover_top(sim: str, P: int) -> None:
    runner.run(sim, "tpu_top", "tb.top.test_cover_top", rtl_sources(*SOURCES), params(P))
