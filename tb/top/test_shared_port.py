"""tpu_top: the core's host port shared by a program's DMA and the units (docs/isa.md §4a).

Cocotb test (stimulus from the TB's RNG, seeded by SEED):
* dma_acc_wmem_overlap  a program whose DMAs into WMEM and into ACC, and out of ACC and WMEM, are
                        outstanding while LDW and MATMUL run on other ranges of the same memories (and an
                        LDW / MATMUL touching the DMA's range waits for it), followed by VEC (which waits
                        for every DMA, rule 3) on the results; without and with random back-pressure.
                        Every region the program DMAs out equals the ISA simulator's host memory, and a
                        monitor shows that each DMA really overlapped the weight or matrix unit.
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.triggers import RisingEdge

from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W, random_codes
from models.isa_sim import HostMemory, MachineState, run_status
from tb.common import runner
from tb.common.tools import rtl_sources
from tb.top.test_top import HOST_SIZE, SOURCES, TopTb, params

MEM_NAMES = {1: "UB", 2: "WM", 3: "ACC"}


async def overlap_monitor(dut, counts: dict[str, int]) -> None:
    """Per DMA memory: cycles in which a program DMA is outstanding while the weight or matrix unit works."""
    core = dut.u_core
    while True:
        await RisingEdge(dut.clk_i)
        if int(core.u_ctrl.dma_q.value) and not (int(core.wu_idle.value) and int(core.mu_idle.value)):
            name = MEM_NAMES.get(int(core.u_ctrl.dma_sel_q.value), "?")
            counts[name] = counts.get(name, 0) + 1


def program(P: int, m: int, base: int) -> str:
    """ACC ranges: [0, m) and [m, 2m) MATMUL targets, [2m, 3m) DMA IN target, [3m, 4m) DMA OUT source.
    WMEM tiles: 0 and P used by LDW, 2P the DMA IN target (then loaded), 3P DMAed out while LDW 0 runs."""
    return f"""
        SETH {base}
        DMA IN, WM, 0, {4 * P}, 0x0000       ; four tiles
        DMA IN, UB, 0, {2 * m}, 0x1000       ; X rows
        DMA IN, ACC, {3 * m}, {m}, 0x2000    ; words DMAed out below, untouched meanwhile
        DMA IN, WM, {2 * P}, {P}, 0x3000     ; WMEM DMA: outstanding while
        LDW 0                                ;   LDW on another tile
        MATMUL 0, 0, {m}, SWAP               ;   and MATMULs into ACC
        LDW {P}, T
        MATMUL {m}, {m}, {m}, SWAP
        LDW {2 * P}                          ; the DMA's range: waits for it
        MATMUL 0, 0, {m}, ACC, SWAP
        DMA IN, ACC, {2 * m}, {m}, 0x4000    ; ACC DMA: outstanding while
        LDW 0                                ;   LDW
        MATMUL {m}, {m}, {m}, ACC, SWAP      ;   and an accumulating MATMUL on another ACC range
        MATMUL 0, {2 * m}, {m}, ACC          ; the DMA's range: waits, then accumulates onto its words
        DMA OUT, ACC, {3 * m}, {m}, 0x5000   ; ACC read by the DMA while
        LDW {P}                              ;   LDW
        MATMUL {m}, 0, {m}, ACC, SWAP        ;   and a MATMUL writes ACC [0, m)
        DMA OUT, WM, {3 * P}, {P}, 0x6000    ; WMEM read by the DMA while
        LDW 0                                ;   LDW reads WMEM [0, P)
        MATMUL 0, {m}, {m}, SWAP
        SETV act=relu, shift=8
        VEC ACC, 0, {2 * m}, {3 * m}, ACT    ; waits for the DMA: ACC [0, 3m) -> UB [2m, 5m)
        DMA OUT, ACC, 0, {3 * m}, 0x7000
        DMA OUT, UB, {2 * m}, {3 * m}, 0x8000
        DMA OUT, WM, 0, {4 * P}, 0x9000
        HALT
    """


OUTS = ((0x5000, "ACC", 1), (0x6000, "WM", 1), (0x7000, "ACC", 3), (0x8000, "UB", 3), (0x9000, "WM", 4))


@cocotb.test()
async def dma_acc_wmem_overlap(dut) -> None:
    tb = TopTb(dut)
    P = tb.P
    for pause in (0.0, 0.5):
        drv = await tb.driver(pause)
        base = drv.DATA_BASE
        m = int(tb.rng.integers(P, 2 * P + 1))
        host = HostMemory.zeros(HOST_SIZE, bus_bytes=drv.bus_bytes)
        acc_codes = (-(1 << (ACC_W - 1)), 1 << (ACC_W - 1), (m, P))
        inputs = ((0x0000, random_codes(tb.rng, (4 * P, P)), DATA_W),
                  (0x1000, random_codes(tb.rng, (2 * m, P)), DATA_W),
                  (0x2000, tb.rng.integers(*acc_codes), ACC_W),
                  (0x3000, random_codes(tb.rng, (P, P)), DATA_W),
                  (0x4000, tb.rng.integers(*acc_codes), ACC_W))
        for off, rows, width in inputs:
            drv.write_rows(base + off, rows, width)
            host.write_words(base + off, rows, width)
        words = assemble(program(P, m, base))
        counts: dict[str, int] = {}
        mon = cocotb.start_soon(overlap_monitor(dut, counts))
        await drv.run(words)
        mon.cancel()
        d = drv.depth
        st = MachineState.new(P, d["UB"], d["WM"], d["ACC"])
        _, code, pc = run_status(words, st, imem_depth=d["IMEM"], host=host)
        assert code == 0, f"the ISA sim stops with error {code} at pc {pc}"
        for off, mem, n in OUTS:
            width = ACC_W if mem == "ACC" else DATA_W
            n_words = n * (m if mem in ("ACC", "UB") else P)
            got = drv.read_rows(base + off, n_words, width)
            exp = host.read_words(base + off, n_words, P, width)
            bad = np.flatnonzero(np.any(got != exp, axis=1))
            assert bad.size == 0, (
                f"pause {pause}: DMA OUT of {mem} at 0x{off:x} differs from the ISA sim at {bad.size} words, "
                f"first {int(bad[0])}: {got[bad[0]]} vs {exp[bad[0]]}")
        assert counts.get("WM", 0) > 0 and counts.get("ACC", 0) > 0, (
            f"pause {pause}: the WMEM and ACC DMAs did not overlap the units (cycles {counts})")
        tb.log.info("pause %.1f, M=%d: DMA overlapped LDW/MATMUL for %s cycles; bit exact", pause, m, counts)


@pytest.mark.parametrize("P", [4, 8])
def test_shared_port(sim: str, P: int) -> None:
    runner.run(sim, "tpu_top", "tb.top.test_shared_port", rtl_sources(*SOURCES), params(P))
