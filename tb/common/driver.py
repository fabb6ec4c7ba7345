"""The host driver of Systole as an AXI peripheral (docs/host.md). Async; runs inside cocotb.

    drv = TpuDriver(dut, rng, pause=0.3)      # AxiLiteMaster on s_axil_*, AxiRam on m_axi_* (host memory)
    await drv.init()                          # reads the configuration registers, enables the DONE irq
    y = await drv.matmul(a, b)                # any shape: DMA in, tiled GEMM, DMA out; bit exact
    info = await drv.run(words)               # load a program into host memory, START, wait, status
    counters = await drv.counters()

`run` waits for `irq_o` with a single trigger (and a timeout), never polling every cycle. A run that ends
with an error raises `TpuError(code, pc, name)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cocotb.triggers import First, RisingEdge, Timer

from models import csr
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W
from models.host_layout import ALIGN, align, gemm_buffers, gemm_dma_program, w_image, x_image, y_from_image
from models.isa import ERROR_NAMES
from models.isa_sim import pack_rows, unpack_rows
from models.programs import GemmLayout
from tb.common.axi import CsrClient, axi_ram, axil_master, pauses
from tb.common.tb_base import CLOCK_PERIOD_NS


class TpuError(Exception):
    """The TPU stopped with error `code` (tpu_pkg Err*) at instruction `pc`."""

    def __init__(self, code: int, pc: int) -> None:
        self.code, self.pc = code, pc
        self.name = ERROR_NAMES.get(code, f"code {code}")
        super().__init__(f"TPU error {self.name} ({code}) at pc {pc}")


@dataclass
class RunInfo:
    """Status and counters after a run (counters are cleared at every run's start by the driver)."""

    error: int
    pc: int
    counters: dict[str, int]


class TpuDriver:
    """Owns the CSR master and the host memory; lays out buffers; loads, starts and waits for programs."""

    PROG_BASE = 0x0  # programs at the bottom of host memory; data buffers above DATA_BASE
    DATA_BASE = 0x10000

    def __init__(self, dut, rng: np.random.Generator, *, pause: float = 0.0, host_size: int = 1 << 20,
                 ram=None) -> None:
        self.dut = dut
        self.axil = axil_master(dut, rng if pause else None, pause)
        self.csr = CsrClient(self.axil)
        self.ram = ram if ram is not None else axi_ram(dut, host_size, rng if pause else None, pause)
        self.host_size = host_size
        self.cfg: dict[str, int] = {}

    def set_pause(self, rng: np.random.Generator, p: float) -> None:
        """Random pauses with probability p on all ten AXI channels (p = 0: none)."""
        chans = [self.axil.write_if.aw_channel, self.axil.write_if.w_channel, self.axil.write_if.b_channel,
                 self.axil.read_if.ar_channel, self.axil.read_if.r_channel]
        if hasattr(self.ram, "write_if"):
            chans += [self.ram.write_if.aw_channel, self.ram.write_if.w_channel, self.ram.write_if.b_channel,
                      self.ram.read_if.ar_channel, self.ram.read_if.r_channel]
        for ch in chans:
            if p:
                ch.set_pause_generator(pauses(rng, p))
            else:
                ch.clear_pause_generator()

    # ---- configuration and host memory ----------------------------------------------------------
    async def init(self) -> None:
        for name in ("CFG_ARRAY", "CFG_IMEM", "CFG_UB", "CFG_WMEM", "CFG_ACC", "CFG_DMA"):
            self.cfg[name] = await self.csr.rd(name)
        self.P = csr.field(self.cfg["CFG_ARRAY"], "CFG_ARRAY", "P")
        self.bus_bytes = csr.field(self.cfg["CFG_DMA"], "CFG_DMA", "BUS_W") // 8
        self.depth = {"IMEM": self.cfg["CFG_IMEM"], "UB": self.cfg["CFG_UB"], "WM": self.cfg["CFG_WMEM"],
                      "ACC": self.cfg["CFG_ACC"]}
        await self.csr.wr("IRQ_ENABLE", csr.bit("IRQ", "DONE") | csr.bit("IRQ", "DMA_DONE"))

    def write_host(self, addr: int, data: bytes) -> None:
        self.ram.write(addr, data)

    def read_host(self, addr: int, n: int) -> bytes:
        return bytes(self.ram.read(addr, n))

    def write_rows(self, addr: int, rows: np.ndarray, width: int) -> None:
        self.write_host(addr, pack_rows(rows, width))

    def read_rows(self, addr: int, n: int, width: int) -> np.ndarray:
        return unpack_rows(self.read_host(addr, n * self.P * width // 8), self.P, width)

    # ---- running --------------------------------------------------------------------------------
    async def _wait_irq(self, timeout_cycles: int) -> None:
        if int(self.dut.irq_o.value):
            return
        timeout = Timer(timeout_cycles * CLOCK_PERIOD_NS, unit="ns")
        fired = await First(RisingEdge(self.dut.irq_o), timeout)
        assert fired is not timeout, f"no interrupt within {timeout_cycles} cycles (hang): {self._where()}"

    def _where(self) -> str:
        """Where the TPU is stuck (for a hang's message)."""
        d = self.dut
        try:
            return (f"top state {d.state_q.value}, core busy {d.u_core.busy_o.value}, "
                    f"pc {d.u_core.pc_o.value}, dma state {d.u_dma.state_q.value}, irq {d.irq_o.value} "
                    f"busy {d.busy.value} cmd_v {d.cmd_v_q.value} bad {d.bad_q.value} "
                    f"dma_q {d.u_core.u_ctrl.dma_q.value} ins {d.u_core.u_ctrl.ins.value} "
                    f"cstate {d.u_core.u_ctrl.state_q.value} err {d.u_core.u_ctrl.err.value}")
        except (AttributeError, ValueError) as e:
            return f"internal state not visible ({e})"

    async def counters(self) -> dict[str, int]:
        return {name: await self.csr.counter(name) for name in csr.COUNTERS}

    async def load_program(self, words: list[int], base: int | None = None) -> int:
        base = self.PROG_BASE if base is None else base
        self.write_host(base, b"".join(int(w).to_bytes(8, "little") for w in words))
        await self.csr.wr("PROG_BASE_LO", base & 0xFFFFFFFF)
        await self.csr.wr("PROG_BASE_HI", base >> 32)
        await self.csr.wr("PROG_LEN", len(words))
        return base

    async def start(self) -> None:
        """Clear the counters and pending interrupts, then START (does not wait)."""
        await self.csr.wr("IRQ_STATUS", (1 << 5) - 1)
        await self.csr.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
        await self.csr.wr("CTRL", csr.bit("CTRL", "START"))

    async def wait_done(self, timeout_cycles: int = 200_000, check: bool = True) -> RunInfo:
        await self._wait_irq(timeout_cycles)
        status = await self.csr.status()
        assert status["DONE"] == 1 and status["BUSY"] == 0, f"interrupt without done: {status}"
        await self.csr.wr("IRQ_STATUS", (1 << 5) - 1)
        info = RunInfo(status["ERR_CODE"], await self.csr.rd("PC"), await self.counters())
        if check and info.error:
            raise TpuError(info.error, info.pc)
        return info

    async def run(self, words: list[int], timeout_cycles: int = 200_000, check: bool = True) -> RunInfo:
        """Load `words` into host memory, fetch and run them; raise TpuError on an error (if `check`)."""
        await self.load_program(words)
        await self.start()
        return await self.wait_done(timeout_cycles, check)

    async def dma(self, direction: int, host_addr: int, sel: int, mem_addr: int, length: int,
                  timeout_cycles: int = 100_000) -> int:
        """A host-side transfer (CTRL.DMA_START); returns the DMA error code."""
        await self.csr.wr("IRQ_STATUS", (1 << 5) - 1)
        await self.csr.dma_start(direction, host_addr, sel, mem_addr, length)
        await self._wait_irq(timeout_cycles)
        status = await self.csr.status()
        await self.csr.wr("IRQ_STATUS", (1 << 5) - 1)
        return status["DMA_ERR_CODE"]

    # ---- numpy-level calls ----------------------------------------------------------------------
    def _gemm_chunk_rows(self, K: int, N: int) -> int:
        """Largest M whose X, W and Y fit the on-chip memories (and the MATMUL row field)."""
        P, kt, nt = self.P, -(-K // self.P), -(-N // self.P)
        if kt * nt * P > self.depth["WM"]:
            raise ValueError(f"W ({K}x{N}) does not fit WMEM ({self.depth['WM']} words)")
        return min(self.depth["UB"] // kt, self.depth["ACC"] // nt, 4095)

    async def matmul(self, a: np.ndarray, b: np.ndarray, *, info: list | None = None) -> np.ndarray:
        """Y = A . B (raw Q codes, AccW wrapping, like models.fixed_point.matmul_acc), on the TPU.

        Rows of A are split into chunks that fit the on-chip memories; each chunk is one program that
        loads its X and W, runs gemm_body and writes Y back. `info` (a list) collects each RunInfo.
        """
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        M, K = a.shape
        K2, N = b.shape
        assert K == K2, f"shapes {a.shape} and {b.shape} do not chain"
        rows = self._gemm_chunk_rows(K, N)
        out = []
        for m0 in range(0, M, rows):
            x = a[m0:m0 + rows]
            lay = GemmLayout(x.shape[0], K, N, self.P)
            buf = gemm_buffers(lay, self.DATA_BASE)
            assert buf.end <= self.host_size, "host memory too small for this GEMM"
            self.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
            self.write_rows(buf.base + buf.w_off, w_image(b, lay), DATA_W)
            words = assemble(gemm_dma_program(buf))
            r = await self.run(words, timeout_cycles=50 * (buf.end - buf.base) + 20 * lay.M * lay.kt * lay.nt
                               + 10_000)
            if info is not None:
                info.append((lay, words, r))
            out.append(y_from_image(self.read_rows(buf.base + buf.y_off, lay.nt * lay.M, ACC_W), lay))
        return np.concatenate(out, axis=0)


__all__ = ["ALIGN", "RunInfo", "TpuDriver", "TpuError", "align"]
