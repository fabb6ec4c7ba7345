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
"""

from __future__ import annotations

import cocotb
import pytest

from models import csr
from models.asm import assemble
from models.host_model import MASK32, MASK64
from models.isa import ERROR_NAMES
from tb.common import runner
from tb.common.tools import rtl_sources
from tb.top.test_host import CTRL, SEL, SPACE, HostTb, copy_all
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


@pytest.mark.parametrize("P", [4])
def test_cover_top(sim: str, P: int) -> None:
    runner.run(sim, "tpu_top", "tb.top.test_cover_top", rtl_sources(*SOURCES), params(P))
