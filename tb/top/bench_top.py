"""End-to-end GEMM benchmark on tpu_top: data start and end in host memory (run by scripts/bench.py).

Not collected by pytest (the file name does not start with test_). For every shape in BENCH_SHAPES (JSON
list of [M, K, N]) and every variant in BENCH_VARIANTS ("serial": `host_layout.gemm_dma_program`;
"overlap": `core_perf.gemm_dma_overlap_program`), one program fetched by the DMA moves X and W in, runs
the tiled GEMM and moves Y out. Before a row is appended to BENCH_OUT (one JSON line per run):

* Y read back from host memory equals `matmul_acc` bit for bit (the Y buffer is zeroed before the run);
* DMA_BYTES equals the bytes the program must move (fetch + X + W + Y images), ARRAY_BUSY, MACS and
  WSTALL their exact values;
* every DMA transfer (the fetch included) is busy exactly `core_perf.dma_cycles` edges, and the GEMM
  part, DMA_STALL and CYCLES equal `core_perf.e2e_model` (WSTALL too for the serial variant).

The bus model is HostRam (tb/common/axi.py: cocotbext-axi's AxiRam with no back-pressure, edge for edge,
without its per-beat coroutines): a benchmark measures the design, not random stalls. Transfer windows
are timed from the DMA's busy_o edges (two wake-ups per transfer). Each row also carries the run's wall
and CPU seconds (informational: chip cycles per second of the simulation).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from models import core_perf
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W, matmul_acc, random_codes
from models.host_layout import gemm_buffers, gemm_dma_bytes, gemm_dma_program, w_image, x_image, y_from_image
from models.programs import GemmLayout
from tb.common.axi import HostRam
from tb.common.driver import TpuDriver
from tb.common.tb_base import CLOCK_PERIOD_NS, TbBase

# Buffers start 64 bytes past a 4 KiB boundary, so every 4 KiB boundary a transfer crosses splits a burst
# (16 beats of 8 bytes are 128 bytes): the model's claim that splits cost nothing is measured too.
HOST_SKEW = 64
PROGRAMS = {"serial": gemm_dma_program, "overlap": core_perf.gemm_dma_overlap_program}


def _cycle() -> int:
    return int(get_sim_time("ns")) // CLOCK_PERIOD_NS


class DmaWindows:
    """Records the [start, end) cycle numbers of every DMA transfer (tpu_dma busy_o high)."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.dma: list[tuple[int, int, int, int]] = []  # (start, end, direction, beats)
        cocotb.start_soon(self._dma())

    def clear(self) -> None:
        self.dma = []

    async def _dma(self) -> None:
        busy = self.dut.u_dma.busy_o
        while True:
            await RisingEdge(busy)
            t0 = _cycle()
            direction, length = int(self.dut.u_dma.dir_q.value), int(self.dut.u_dma.ax_left_q.value)
            await FallingEdge(busy)
            self.dma.append((t0, _cycle(), direction, length))


@cocotb.test()
async def gemm_end_to_end(dut) -> None:
    tb = TbBase(dut)
    drv = TpuDriver(dut, tb.rng, ram=HostRam(dut, 1 << 20))  # the driver's default host_size
    await tb.reset()
    await drv.init()
    P = drv.P
    win = DmaWindows(dut)
    shapes = json.loads(os.environ["BENCH_SHAPES"])
    variants = json.loads(os.environ.get("BENCH_VARIANTS", '["serial", "overlap"]'))
    with open(os.environ["BENCH_OUT"], "a") as out:
        for M, K, N in shapes:
            for variant in variants:
                lay = GemmLayout(M, K, N, P)
                buf = gemm_buffers(lay, drv.DATA_BASE + HOST_SKEW)
                x, w = random_codes(tb.rng, (M, K)), random_codes(tb.rng, (K, N))
                drv.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
                drv.write_rows(buf.base + buf.w_off, w_image(w, lay), DATA_W)
                drv.write_host(buf.base + buf.y_off, bytes(buf.y_bytes))
                words = assemble(PROGRAMS[variant](buf))
                win.clear()
                timeout = 20 * (buf.end - buf.base) + 50 * M * lay.kt * lay.nt + 10_000
                t0, p0 = time.time(), time.process_time()
                info = await drv.run(words, timeout_cycles=timeout)
                wall, cpu = time.time() - t0, time.process_time() - p0
                what = f"{variant} GEMM {M}x{K}x{N} on P={P}"
                y = y_from_image(drv.read_rows(buf.base + buf.y_off, lay.nt * M, ACC_W), lay)
                assert np.array_equal(y, matmul_acc(x, w)), f"{what}: wrong result"
                c = info.counters
                tiles = core_perf.gemm_tiles(K, N, P)
                moved = gemm_dma_bytes(lay, len(words))
                assert c["DMA_BYTES"] == moved, f"{what}: DMA_BYTES {c['DMA_BYTES']}, program moves {moved}"
                assert c["ARRAY_BUSY"] == tiles * M and c["MACS"] == tiles * M * P * P, f"{what}: {c}"
                if variant == "serial":
                    assert c["WSTALL"] == core_perf.gemm_stall_cycles(M, K, N, P), f"{what}: {c}"
                model = core_perf.e2e_model(buf, variant, len(words), drv.bus_bytes, drv.PROG_BASE)
                windows = [end - start for start, end, _, _ in win.dma]
                assert windows == model.windows, f"{what}: DMA windows {windows}, model {model.windows}"
                assert [d for _, _, d, _ in win.dma] == [int(t.out) for t in model.transfers], f"{what}"
                first_out = next(k for k, t in enumerate(model.transfers) if t.out)
                gemm_part = win.dma[first_out][0] - win.dma[model.gemm_after][1]
                assert gemm_part == model.gemm_part, f"{what}: GEMM part {gemm_part}, model {model.gemm_part}"
                assert c["DMA_STALL"] == model.dma_stall, f"{what}: DMA_STALL {c['DMA_STALL']}, model {model}"
                assert c["CYCLES"] == model.cycles, f"{what}: CYCLES {c['CYCLES']}, model {model.cycles}"
                row = {
                    "variant": variant, "P": P, "M": M, "K": K, "N": N, "tiles": tiles,
                    "bus_bytes": drv.bus_bytes, "program_words": len(words),
                    "cycles": c["CYCLES"], "model_cycles": model.cycles, "gemm_part_cycles": gemm_part,
                    "gemm_cycles_on_chip": core_perf.gemm_cycles(M, K, N, P),
                    "dma_bytes": c["DMA_BYTES"], "dma_stall_cycles": c["DMA_STALL"],
                    "array_rows": c["ARRAY_BUSY"], "macs": M * K * N, "weight_stall_cycles": c["WSTALL"],
                    "ideal_cycles": core_perf.ideal_cycles(M, K, N, P),
                    "dma_busy_cycles": sum(windows), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                dut._log.warning("%s: %d cycles", what, c["CYCLES"])
