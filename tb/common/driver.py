"""The host driver of Systole as an AXI peripheral (docs/host.md). Async; runs inside cocotb.

    drv = TpuDriver(dut, rng, pause=0.3)      # AxiLiteMaster on s_axil_*, AxiRam on m_axi_* (host memory)
    await drv.init()                          # reads the configuration registers, enables the DONE irq
    y = await drv.matmul(a, b)                # any shape: DMA in, tiled GEMM, DMA out; bit exact
    await drv.load_params(train, params)      # an MLP's constants, masters and Q8.8 copies, once
    r = await drv.mlp_train_step(train, x, y, params=True)   # r.outputs, r.params (numpy codes)
    h = await drv.mlp_infer(infer, None, x)   # any number of rows, batch by batch, weights on chip
    info = await drv.run(words)               # load a program into host memory, START, wait, status

Every wait is bounded: `wait_done` waits for `irq_o` with one trigger and a timeout derived from the
program (`cycle_budget`), every CSR access has its own timeout; a hang raises `TpuTimeout` naming where
the TPU stopped. A run that ends with an error raises `TpuError(code, pc)` (code, pc and name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from cocotb.triggers import First, RisingEdge, SimTimeoutError, Timer, with_timeout

from models import csr
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W
from models.host_layout import (
    ALIGN,
    align,
    dma_lines,
    gemm_buffers,
    gemm_dma_bytes,
    gemm_dma_program,
    seth_lines,
    w_image,
    word_bytes,
    x_image,
    y_from_image,
)
from models.hw import const
from models.isa import ERROR_NAMES, IllegalInstruction, decode
from models.isa_sim import MachineState, pack_rows, unpack_rows
from models.mlp import CompiledMlp, MlpLayout, Params
from models.programs import GemmLayout
from tb.common import fcov
from tb.common.axi import CsrClient, HostRam, axi_ram, axil_master, set_pauses
from tb.common.tb_base import CLOCK_PERIOD_NS

CSR_TIMEOUT_CYCLES = 2_000  # one AXI4-Lite access, back-pressure included
MEM_SEL = {"UB": const("MemSelUb"), "WM": const("MemSelWm"), "ACC": const("MemSelAcc")}
DMA_ERROR_NAMES = {const(n): n for n in ("DmaErrNone", "DmaErrAlign", "DmaErrRange", "DmaErrLen", "DmaErrSlv",
                                         "DmaErrDec")}
IRQ_ALL = (1 << 5) - 1


class TpuError(Exception):
    """The TPU stopped with error `code` (tpu_pkg Err*) at instruction `pc`; `name` is the code's name."""

    def __init__(self, code: int, pc: int) -> None:
        self.code, self.pc = code, pc
        self.name = ERROR_NAMES.get(code, f"code {code}")
        super().__init__(f"TPU error {self.name} ({code}) at pc {pc}")


class TpuDmaError(Exception):
    """A host-side transfer (CTRL.DMA_START) ended with DMA error `code` (tpu_pkg DmaErr*)."""

    def __init__(self, code: int, what: str) -> None:
        self.code = code
        self.name = DMA_ERROR_NAMES.get(code, f"code {code}")
        super().__init__(f"host DMA {what} failed: {self.name} ({code})")


class TpuTimeout(Exception):
    """The TPU (or its CSR port) did not answer in time: a hang, never a silent one."""


@dataclass
class RunInfo:
    """Status and counters after a run (counters are cleared at every run's start by the driver).

    `bytes_in` / `bytes_out`: what the run's fetch and DMA instructions must move (set by the driver's
    own programs, whose DMA_BYTES it checks; 0 for `run` of a caller's program).
    """

    error: int
    pc: int
    counters: dict[str, int]
    bytes_in: int = 0
    bytes_out: int = 0


class MlpResult(NamedTuple):
    """What one MLP run read back: the outputs H_L (Q8.8 codes) and/or the Q8.24 masters."""

    outputs: np.ndarray | None
    params: Params | None


@dataclass
class MlpBuffers:
    """Host byte offsets (from `base`) of one network's images: parameters (ub, wm, acc), batch (x, y), h."""

    base: int
    off: dict[str, int]
    end: int


@dataclass
class _Loaded:
    """The network whose parameters are on chip (its layout) and its host buffers and program cache."""

    layout: MlpLayout
    buf: MlpBuffers
    programs: dict = field(default_factory=dict)


def cycle_budget(words: list[int], P: int, bus_bytes: int) -> int:
    """A generous upper bound of the cycles a program takes, fetch and back-pressure included.

    Used only to turn a hang into a timeout: every instruction costs its rows / words plus a fixed
    latency, LOOP bodies count `count` times, DMA and fetch traffic are charged 8x their bus beats.
    """
    def cost(word: int) -> int:
        try:
            ins = decode(word)
        except (IllegalInstruction, ValueError):
            return 4
        if ins.op in ("MATMUL", "VEC"):
            return ins["m"] + 4 * P + 32
        if ins.op == "COPY":
            return 2 * ins["len"] * P + 4 * P + 32
        if ins.op == "LDW":
            return 2 * P + 8
        if ins.op == "DMA":
            wb = P * (ACC_W if ins["mem"] == MEM_SEL["ACC"] else DATA_W) // 8
            return 8 * (-(-ins["len"] * wb // bus_bytes) + 64)
        return 4

    total, pc = 8 * (-(-8 * len(words) // bus_bytes) + 64), 0
    while pc < len(words):
        try:
            ins = decode(words[pc])
        except (IllegalInstruction, ValueError):
            ins = None
        if ins is not None and ins.op == "LOOP":
            body = words[pc + 1:pc + 1 + ins["body"]]
            total += 4 + max(ins["count"], 1) * sum(cost(w) for w in body)
            pc += 1 + len(body)
        else:
            total += cost(words[pc])
            pc += 1
    return 2 * total + 2_000


class _TimedCsr(CsrClient):
    """CsrClient whose every access fails with TpuTimeout instead of waiting forever."""

    async def read(self, reg: str | int) -> tuple[int, int]:
        try:
            return await with_timeout(super().read(reg), CSR_TIMEOUT_CYCLES * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            raise TpuTimeout(f"CSR read of {reg} not answered within {CSR_TIMEOUT_CYCLES} cycles") from None

    async def write(self, reg: str | int, value: int) -> int:
        try:
            return await with_timeout(super().write(reg, value), CSR_TIMEOUT_CYCLES * CLOCK_PERIOD_NS, "ns")
        except SimTimeoutError:
            raise TpuTimeout(f"CSR write of {reg} not answered within {CSR_TIMEOUT_CYCLES} cycles") from None


WHOLE_SPACE = (0, (1 << 64) - 1)  # the widest DMA window (docs/csr.md, "DMA window")


class TpuDriver:
    """Owns the CSR master and the host memory; lays out buffers; loads, starts and waits for programs."""

    PROG_BASE = 0x0  # programs at the bottom of host memory; data buffers above DATA_BASE
    DATA_BASE = 0x10000

    def __init__(self, dut, rng: np.random.Generator, *, pause: float = 0.0, host_size: int = 1 << 20,
                 ram=None) -> None:
        self.dut = dut
        self.axil = axil_master(dut, rng if pause else None, pause)
        self.csr = _TimedCsr(self.axil)
        self.ram = ram if ram is not None else axi_ram(dut, host_size, rng if pause else None, pause)
        self.host_size = host_size
        self.cfg: dict[str, int] = {}
        self._mlp: _Loaded | None = None
        self._budgets: dict[tuple[int, ...], int] = {}

    def set_pause(self, rng: np.random.Generator, p: float) -> None:
        """Random pauses with probability p on all ten AXI channels (p = 0: none)."""
        if p and isinstance(self.ram, HostRam):
            raise ValueError("HostRam never back-pressures: pass ram=None (an AxiRam) to test with pauses")
        set_pauses(self.axil, rng, p)
        if hasattr(self.ram, "write_if"):  # an AxiRam (the error-injecting slave has no pauses)
            set_pauses(self.ram, rng, p)

    # ---- configuration and host memory ----------------------------------------------------------
    async def init(self, window: tuple[int, int] = WHOLE_SPACE) -> None:
        """Read the configuration registers, open the DMA window (`window` = (base, limit exclusive);
        it resets closed) and enable the DONE and DMA_DONE interrupts (after a reset)."""
        for name in ("CFG_ARRAY", "CFG_IMEM", "CFG_UB", "CFG_WMEM", "CFG_ACC", "CFG_DMA"):
            self.cfg[name] = await self.csr.rd(name)
        self.P = csr.field(self.cfg["CFG_ARRAY"], "CFG_ARRAY", "P")
        self.bus_bytes = csr.field(self.cfg["CFG_DMA"], "CFG_DMA", "BUS_W") // 8
        self.depth = {"IMEM": self.cfg["CFG_IMEM"], "UB": self.cfg["CFG_UB"], "WM": self.cfg["CFG_WMEM"],
                      "ACC": self.cfg["CFG_ACC"]}
        self._mlp = None  # a reset or a new session: nothing known to be on chip
        await self.set_window(*window)
        await self.csr.wr("IRQ_ENABLE", csr.bit("IRQ", "DONE") | csr.bit("IRQ", "DMA_DONE"))

    async def set_window(self, base: int, limit: int) -> None:
        """The DMA window [base, limit) the fetch and the programs' DMAs must stay in."""
        for name, v in (("DMA_WIN_BASE", base), ("DMA_WIN_LIMIT", limit)):
            await self.csr.wr(f"{name}_LO", v & 0xFFFFFFFF)
            await self.csr.wr(f"{name}_HI", v >> 32)

    async def abort(self) -> None:
        """CTRL.ABORT: stop the run or host transfer in progress (docs/csr.md, "Abort"); does not wait."""
        await self.csr.wr("CTRL", csr.bit("CTRL", "ABORT"))

    def write_host(self, addr: int, data: bytes) -> None:
        self.ram.write(addr, data)

    def read_host(self, addr: int, n: int) -> bytes:
        return bytes(self.ram.read(addr, n))

    def write_rows(self, addr: int, rows: np.ndarray, width: int) -> None:
        """On-chip words (rows of P `width`-bit codes) into host memory, packed as the DMA moves them."""
        self.write_host(addr, pack_rows(rows, width))

    def read_rows(self, addr: int, n: int, width: int) -> np.ndarray:
        """n on-chip words of P `width`-bit codes from host memory."""
        return unpack_rows(self.read_host(addr, n * self.P * width // 8), self.P, width)

    # ---- running --------------------------------------------------------------------------------
    async def _wait_irq(self, timeout_cycles: int, what: str) -> None:
        if int(self.dut.irq_o.value):
            return
        timeout = Timer(timeout_cycles * CLOCK_PERIOD_NS, unit="ns")
        fired = await First(RisingEdge(self.dut.irq_o), timeout)
        if fired is timeout:
            raise TpuTimeout(f"{what}: no interrupt within {timeout_cycles} cycles (hang): {self._where()}")

    def _where(self) -> str:
        """Where the TPU is stuck (for a hang's message); internal names may be hidden by the simulator."""
        d = self.dut
        try:
            return (f"top state {int(d.state_q.value)}, core busy {d.u_core.busy_o.value}, "
                    f"pc {int(d.u_core.pc_o.value)}, dma state {d.u_dma.state_q.value}, "
                    f"dma cmd pending {d.cmd_v_q.value}, core dma outstanding {d.u_core.u_ctrl.dma_q.value}")
        except (AttributeError, ValueError) as e:
            return f"internal state not visible ({e})"

    async def counters(self) -> dict[str, int]:
        """The six 64-bit performance counters by name (CYCLES, ARRAY_BUSY, MACS, WSTALL, DMA_BYTES, ...)."""
        return {name: await self.csr.counter(name) for name in csr.COUNTERS}

    async def load_program(self, words: list[int], base: int | None = None) -> int:
        """Place `words` in host memory and point PROG_BASE / PROG_LEN at them; returns the base."""
        base = self.PROG_BASE if base is None else base
        self.write_host(base, b"".join(int(w).to_bytes(8, "little") for w in words))
        await self.csr.wr("PROG_BASE_LO", base & 0xFFFFFFFF)
        await self.csr.wr("PROG_BASE_HI", base >> 32)
        await self.csr.wr("PROG_LEN", len(words))
        key = tuple(int(w) for w in words)
        if key not in self._budgets:  # the training loop loads the same program at every step
            self._budgets[key] = cycle_budget(list(key), self.P, self.bus_bytes)
        self._budget = self._budgets[key]
        return base

    async def start(self) -> None:
        """Clear the counters and pending interrupts, then START (does not wait)."""
        await self.csr.wr("IRQ_STATUS", IRQ_ALL)
        await self.csr.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
        await self.csr.wr("CTRL", csr.bit("CTRL", "START"))

    async def wait_done(self, timeout_cycles: int | None = None, check: bool = True) -> RunInfo:
        """Wait for the run's DONE interrupt (TpuTimeout after `timeout_cycles`, by default the loaded
        program's `cycle_budget`); raise TpuError on an error if `check`."""
        timeout_cycles = timeout_cycles or getattr(self, "_budget", 200_000)
        await self._wait_irq(timeout_cycles, "run")
        status = await self.csr.status()
        assert status["DONE"] == 1 and status["BUSY"] == 0, f"interrupt without done: {status}"
        await self.csr.wr("IRQ_STATUS", IRQ_ALL)
        info = RunInfo(status["ERR_CODE"], await self.csr.rd("PC"), await self.counters())
        if check and info.error:
            raise TpuError(info.error, info.pc)
        return info

    async def run(self, words: list[int], timeout_cycles: int | None = None, check: bool = True) -> RunInfo:
        """Load `words` into host memory, fetch and run them; raise TpuError on an error (if `check`)."""
        await self.load_program(words)
        await self.start()
        return await self.wait_done(timeout_cycles, check)

    async def dma(self, direction: int, host_addr: int, sel: int, mem_addr: int, length: int,
                  timeout_cycles: int | None = None) -> int:
        """A host-side transfer (CTRL.DMA_START) while the core is idle; returns the DMA error code."""
        if timeout_cycles is None:
            wb = self.P * (ACC_W if sel == MEM_SEL["ACC"] else DATA_W) // 8 if sel else 8
            timeout_cycles = 16 * (-(-length * wb // self.bus_bytes) + 64) + 2_000
        await self.csr.wr("IRQ_STATUS", IRQ_ALL)
        await self.csr.dma_start(direction, host_addr, sel, mem_addr, length)
        await self._wait_irq(timeout_cycles, "host DMA")
        status = await self.csr.status()
        await self.csr.wr("IRQ_STATUS", IRQ_ALL)
        return status["DMA_ERR_CODE"]

    async def _dma_checked(self, out: bool, host_addr: int, mem: str, mem_addr: int, n: int) -> None:
        """A host transfer of n words that must succeed (TpuDmaError otherwise); split to fit DMA_LEN."""
        step = 2048  # keeps every part's host address ALIGN-aligned
        for k in range(0, n, step):
            m = min(step, n - k)
            code = await self.dma(1 if out else 0, host_addr + k * word_bytes(mem, self.P), MEM_SEL[mem],
                                  mem_addr + k, m)
            if code:
                raise TpuDmaError(code, f"{'out of' if out else 'into'} {mem}[{mem_addr + k}..+{m}]")

    async def _run_checked(self, words: list[int], bytes_in: int, bytes_out: int,
                           info: list | None) -> RunInfo:
        """Run one of the driver's own programs: TpuError on an error, DMA_BYTES must equal its payload."""
        r = await self.run(words)
        r.bytes_in, r.bytes_out = bytes_in, bytes_out
        if r.counters["DMA_BYTES"] != bytes_in + bytes_out:
            raise AssertionError(f"DMA_BYTES {r.counters['DMA_BYTES']} != {bytes_in + bytes_out} bytes "
                                 "the program moves")
        if info is not None:
            info.append(r)
        return r

    # ---- GEMM -----------------------------------------------------------------------------------
    def gemm_chunk_rows(self, K: int, N: int) -> int:
        """Rows of A per program: the largest M whose X, W and Y fit the on-chip memories (and MATMUL's M)."""
        P, kt, nt = self.P, -(-K // self.P), -(-N // self.P)
        if kt * nt * P > self.depth["WM"]:
            raise ValueError(f"W ({K}x{N}) does not fit WMEM ({self.depth['WM']} words)")
        rows = min(self.depth["UB"] // kt, self.depth["ACC"] // nt, 4095)
        if rows < 1:
            raise ValueError(f"one row of X ({K}) or Y ({N}) does not fit UB / ACC")
        return rows

    async def matmul(self, a: np.ndarray, b: np.ndarray, *, info: list | None = None) -> np.ndarray:
        """Y = A . B (raw Q codes, AccW wrapping, like models.fixed_point.matmul_acc), on the TPU.

        Rows of A are split into chunks that fit the on-chip memories (`gemm_chunk_rows`); each chunk is
        one program that loads its X and W, runs gemm_body and writes Y back. `info` (a list) collects a
        (GemmLayout, program words, RunInfo) per chunk. Overwrites on-chip memory (forgets loaded params).
        """
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        M, K = a.shape
        K2, N = b.shape
        if K != K2 or M < 1 or N < 1:
            raise ValueError(f"shapes {a.shape} and {b.shape} do not chain")
        rows = self.gemm_chunk_rows(K, N)
        self._mlp = None
        out = []
        for m0 in range(0, M, rows):
            x = a[m0:m0 + rows]
            lay = GemmLayout(x.shape[0], K, N, self.P)
            fcov.sample_gemm(lay.M, K, N, self.P, *(self.depth[n] for n in ("UB", "WM", "ACC")))
            buf = gemm_buffers(lay, self.DATA_BASE)
            if buf.end > self.host_size:
                raise ValueError(f"host memory of {self.host_size} bytes too small for this GEMM ({buf.end})")
            self.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
            self.write_rows(buf.base + buf.w_off, w_image(b, lay), DATA_W)
            self.write_host(buf.base + buf.y_off, bytes(buf.y_bytes))  # a missing write cannot pass
            words = assemble(gemm_dma_program(buf))
            moved = gemm_dma_bytes(lay, len(words))
            r = await self._run_checked(words, moved - buf.y_bytes, buf.y_bytes, None)
            if info is not None:
                info.append((lay, words, r))
            out.append(y_from_image(self.read_rows(buf.base + buf.y_off, lay.nt * lay.M, ACC_W), lay))
        return np.concatenate(out, axis=0)

    # ---- MLP training and inference ---------------------------------------------------------------
    def mlp_buffers(self, m: CompiledMlp, base: int | None = None) -> MlpBuffers:
        """Host layout of network `m`: parameter images (ub, wm, acc), then the batch area (x, y, h)."""
        base = self.DATA_BASE if base is None else base
        lay, L, P = m.layout, len(m.sizes) - 1, m.P
        ub_b, acc_b = word_bytes("UB", P), word_bytes("ACC", P)
        off, pos = {}, 0
        for name, nbytes in (("ub", lay.ub_words * ub_b), ("wm", lay.wm_words * ub_b),
                             ("acc", lay.acc_words * acc_b), ("x", lay.kt(1) * lay.bp * ub_b),
                             ("y", lay.nt(L) * lay.bp * ub_b), ("h", lay.nt(L) * lay.bp * ub_b)):
            off[name] = pos
            pos = align(pos + nbytes)
        if base + pos > self.host_size:
            raise ValueError(f"host memory of {self.host_size} bytes is too small ({base + pos} needed)")
        return MlpBuffers(base, off, base + pos)

    def _state(self, m: CompiledMlp) -> MachineState:
        d = self.depth
        return m.new_state(d["UB"], d["WM"], d["ACC"])

    async def load_params(self, m: CompiledMlp, params: Params) -> None:
        """Constants, Q8.24 masters and their Q8.8 copies of network `m` into UB, WMEM and ACC (host DMA).

        They stay on chip: every later mlp_train_step / mlp_infer of a network with the same layout
        (same sizes, batch and P; training or inference program) uses them, until matmul or init.
        """
        if m.P != self.P:
            raise ValueError(f"network compiled for P={m.P}, the TPU has P={self.P}")
        lay = m.layout
        st = self._state(m)  # raises when the layout does not fit the memories
        m.place_params(st, params)
        buf = self.mlp_buffers(m)
        self._mlp = None
        for name, mem, rows, width in (("ub", "UB", st.ub[:lay.ub_words], DATA_W),
                                       ("wm", "WM", st.wm[:lay.wm_words], DATA_W),
                                       ("acc", "ACC", st.acc[:lay.acc_words], ACC_W)):
            self.write_rows(buf.base + buf.off[name], rows, width)
            await self._dma_checked(False, buf.base + buf.off[name], mem, 0, len(rows))
        self._mlp = _Loaded(lay, buf)

    def _loaded(self, m: CompiledMlp) -> _Loaded:
        if self._mlp is None:
            raise RuntimeError("no parameters on chip: call load_params first")
        if m.layout != self._mlp.layout:
            raise ValueError("this network's layout differs from the one whose parameters are on chip")
        return self._mlp

    def mlp_program(self, m: CompiledMlp, *, targets: bool, outputs: bool, params: bool) -> list[int]:
        """SETH, DMA IN of X (and Y if `targets`), the compiled step, DMA OUT of H_L and/or the masters,
        HALT: the whole run of `m` on the loaded parameters, as words (cached)."""
        ld = self._loaded(m)
        key = (id(m), targets, outputs, params)
        if key in ld.programs and ld.programs[key][0] is m:
            return ld.programs[key][1]
        lay, P, L, off = m.layout, m.P, len(m.sizes) - 1, ld.buf.off
        body = [ln for ln in m.asm.splitlines() if ln.strip()]
        if not body[-1].startswith("HALT"):
            raise ValueError("a compiled MLP program ends with HALT")
        n_out = lay.nt(L) * lay.bp
        lines = seth_lines(ld.buf.base)
        lines += dma_lines("IN", "UB", lay.x_ub, lay.kt(1) * lay.bp, off["x"], P)
        if targets:
            lines += dma_lines("IN", "UB", lay.y_ub, n_out, off["y"], P)
        lines += body[:-1]
        if outputs:
            lines += dma_lines("OUT", "UB", lay.h_ub[-1], n_out, off["h"], P)
        if params:
            lines += dma_lines("OUT", "ACC", 0, lay.z_acc, off["acc"], P)  # the masters come first
        lines.append("HALT")
        words = assemble("\n".join(lines) + "\n")
        if len(words) > self.depth["IMEM"]:
            raise ValueError(f"program of {len(words)} words does not fit IMEM ({self.depth['IMEM']})")
        ld.programs[key] = (m, words)
        return words

    async def _mlp_run(self, m: CompiledMlp, x: np.ndarray, y: np.ndarray | None, outputs: bool,
                       params: bool, info: list | None) -> MlpResult:
        ld = self._loaded(m)
        lay, L, off, base = m.layout, len(m.sizes) - 1, ld.buf.off, ld.buf.base
        ub_b, acc_b = word_bytes("UB", m.P), word_bytes("ACC", m.P)
        words = self.mlp_program(m, targets=y is not None, outputs=outputs, params=params)
        sc = self._state(m)
        m.place_batch(sc, x, y)  # checks the shapes
        nx, ny = lay.kt(1) * lay.bp, lay.nt(L) * lay.bp
        self.write_rows(base + off["x"], sc.ub[lay.x_ub:lay.x_ub + nx], DATA_W)
        bytes_in = 8 * len(words) + nx * ub_b
        if y is not None:
            self.write_rows(base + off["y"], sc.ub[lay.y_ub:lay.y_ub + ny], DATA_W)
            bytes_in += ny * ub_b
        # Zeroed read-back areas: a DMA OUT that did not happen cannot look like a result.
        if outputs:
            self.write_host(base + off["h"], bytes(ny * ub_b))
        if params:
            self.write_host(base + off["acc"], bytes(lay.z_acc * acc_b))
        bytes_out = (ny * ub_b if outputs else 0) + (lay.z_acc * acc_b if params else 0)
        await self._run_checked(words, bytes_in, bytes_out, info)
        h = p = None
        if outputs:
            sc.ub[lay.h_ub[-1]:lay.h_ub[-1] + ny] = self.read_rows(base + off["h"], ny, DATA_W)
            h = m.read_outputs(sc)
        if params:
            sc.acc[:lay.z_acc] = self.read_rows(base + off["acc"], lay.z_acc, ACC_W)
            p = m.read_params(sc)
        return MlpResult(h, p)

    async def mlp_train_step(self, m: CompiledMlp, x: np.ndarray, y: np.ndarray, *, outputs: bool = True,
                             params: bool = False, info: list | None = None) -> MlpResult:
        """One SGD step of training program `m` on the batch (x [batch, n_in], y [batch, n_out], Q8.8
        codes), on the parameters on chip (load_params). One program: DMA in X and Y, the step, DMA out
        the outputs H_L (`outputs`) and the updated Q8.24 masters (`params`). `info` collects the RunInfo.
        """
        if m.mode != "train":
            raise ValueError("mlp_train_step needs a program compiled with mode='train'")
        return await self._mlp_run(m, x, y, outputs, params, info)

    async def mlp_infer(self, m: CompiledMlp, params: Params | None, x: np.ndarray, *,
                        info: list | None = None) -> np.ndarray:
        """Outputs H_L ([rows, n_out] Q8.8 codes) of network `m` for every row of x: one run per batch,
        the last zero padded. `params` are loaded first; None uses the parameters already on chip
        (loaded for a training program of the same layout, e.g. after some training steps)."""
        if m.mode != "infer":
            raise ValueError("mlp_infer needs a program compiled with mode='infer'")
        if params is not None:
            await self.load_params(m, params)
        x = np.asarray(x, np.int64)
        B, n = m.batch, len(x)
        out = []
        for s in range(0, n, B):
            chunk = np.zeros((B, m.sizes[0]), np.int64)
            chunk[:min(B, n - s)] = x[s:s + B]
            r = await self._mlp_run(m, chunk, None, True, False, info)
            out.append(r.outputs[:min(B, n - s)])
        return np.concatenate(out) if out else np.zeros((0, m.sizes[-1]), np.int64)

    async def read_params(self, m: CompiledMlp) -> Params:
        """The Q8.24 masters of the network on chip, by one host DMA out of ACC."""
        ld = self._loaded(m)
        lay = m.layout
        addr = ld.buf.base + ld.buf.off["acc"]
        await self._dma_checked(True, addr, "ACC", 0, lay.z_acc)
        sc = self._state(m)
        sc.acc[:lay.z_acc] = self.read_rows(addr, lay.z_acc, ACC_W)
        return m.read_params(sc)


__all__ = ["ALIGN", "MlpResult", "RunInfo", "TpuDmaError", "TpuDriver", "TpuError", "TpuTimeout", "align",
           "cycle_budget"]
