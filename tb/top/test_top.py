"""tpu_top: Systole as an AXI peripheral, driven by the host driver (tb/common/driver.py).

Cocotb tests (stimulus from the seeded RNG; SEED reproduces, including every pause pattern):
* matmul_random     random shapes through drv.matmul, with random pauses on every AXI channel and then
                    without (clearing the pauses must release every channel): one shape per pass has more
                    rows than one program holds (several chunks) and K, N of several tiles, not multiples
                    of P. Y bit exact vs matmul_acc and, per chunk, vs the ISA sim with a host-memory
                    model; ARRAY_BUSY, MACS, WSTALL and DMA_BYTES exact, CYCLES above the GEMM model
* gemm_counters     data moved by host DMA_START transfers, then a plain gemm_program: the core's cycle
                    counter equals core_perf.gemm_cycles and every CSR counter its exact value
* dma_overlap       a program whose DMA into UB region B runs while MATMULs read region A (and whose
                    MATMUL on region B waits for it): bit exact vs the ISA sim under back-pressure
* csr_responses     unmapped offsets answer DECERR, writes to read-only registers SLVERR
* errors            SLVERR / DECERR on a program DMA and on the fetch, misaligned and out-of-range host
                    addresses, PROG_BASE / DMA_LEN upper bits: exact code and PC, then a clean run
* start_while_busy  a second START and a DMA_START during a run are rejected and counted
* reset_recovery    reset during a DMA burst and during the GEMM, then a correct run
* mlp_train_infer   two networks (2 and 3 layers; K, N and batch not multiples of P), without and with
                    back-pressure: load_params once, two training steps through drv.mlp_train_step
                    (outputs of each step, masters DMAed out by the first step's own program and read back
                    after the second), inference of several batches on the trained weights and on newly
                    loaded ones; all bit exact vs models.train_ref
* mlp_errors        through the driver's MLP calls: SLVERR on the batch's DMA IN and DECERR on the
                    outputs' DMA OUT raise TpuError with the code, name and PC of that DMA instruction;
                    a failing host transfer in load_params raises TpuDmaError; an out-of-range MATMUL
                    raises ErrAddr; a bus that never answers makes wait_done raise TpuTimeout (never a
                    silent hang); after each, a correct training step
"""
from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from models import core_perf, csr
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W, matmul_acc, random_codes
from models.host_layout import gemm_buffers, gemm_dma_bytes, gemm_dma_program, w_image, x_image, y_from_image
from models.hw import const
from models.isa import decode
from models.isa_sim import HostMemory, MachineState, run_status
from models.mlp import Q_MASTER, CompiledMlp, compile_mlp
from models.programs import GemmLayout, gemm_program
from models.train_ref import TrainConfig, forward, init_params, train_step
from tb.common import runner
from tb.common.axi import DECERR, SLVERR, ErrorAxiSlave, SlaveRam
from tb.common.core_env import CORE_SOURCES
from tb.common.driver import TpuDmaError, TpuDriver, TpuError, TpuTimeout
from tb.common.tb_base import TbBase, param
from tb.common.tools import rtl_sources
from tb.common.xcheck import watch_top

ERR = {n: const(n) for n in ("ErrNone", "ErrDmaAddr", "ErrDmaSlv", "ErrDmaDec", "ErrLen", "ErrAddr")}
HOST_SIZE = 1 << 18


class TopTb(TbBase):
    def __init__(self, dut) -> None:
        super().__init__(dut)
        self.P = param(dut, "P")
        self.depths = {n: param(dut, n) for n in ("ImemDepth", "UbDepth", "WmDepth", "AccDepth")}
        watch_top(self.xcheck, dut)

    async def driver(self, pause: float = 0.0, ram=None) -> TpuDriver:
        """The test's one driver (bus models attach once), after a reset, with `pause` back-pressure."""
        if getattr(self, "drv", None) is None:
            self.drv = TpuDriver(self.dut, self.rng, host_size=HOST_SIZE, ram=ram)
        self.drv.set_pause(self.rng, pause)
        await self.reset()
        await self.drv.init()
        return self.drv

    def shape(self) -> tuple[int, int, int]:
        P, r = self.P, self.rng
        while True:
            M, K = int(r.integers(1, 3 * P + 2)), int(r.integers(1, 3 * P + 1))
            N = int(r.integers(1, 2 * P + 1))
            kt, nt = -(-K // P), -(-N // P)
            if kt * M <= self.depths["UbDepth"] and nt * M <= self.depths["AccDepth"]:
                return M, K, N


def isa_check(drv: TpuDriver, lay: GemmLayout, words: list[int], x, w, y) -> None:
    """Run the same program on the ISA sim with a host-memory model: status and Y must match."""
    buf = gemm_buffers(lay, drv.DATA_BASE)
    host = HostMemory.zeros(HOST_SIZE, bus_bytes=drv.bus_bytes)
    host.write_words(buf.base + buf.x_off, x_image(x, lay), DATA_W)
    host.write_words(buf.base + buf.w_off, w_image(w, lay), DATA_W)
    d = drv.depth
    st = MachineState.new(lay.P, d["UB"], d["WM"], d["ACC"])
    _, code, _ = run_status(words, st, imem_depth=d["IMEM"], host=host)
    assert code == ERR["ErrNone"]
    got = host.read_words(buf.base + buf.y_off, lay.nt * lay.M, lay.P, ACC_W)
    assert np.array_equal(y_from_image(got, lay), y), "TPU result differs from the ISA sim"


async def checked_matmul(tb: TopTb, drv: TpuDriver, M: int, K: int, N: int) -> None:
    """drv.matmul on random codes: Y, and every chunk's program, status and counters, exact."""
    x, w = random_codes(tb.rng, (M, K)), random_codes(tb.rng, (K, N))
    runs: list = []
    y = await drv.matmul(x, w, info=runs)
    assert np.array_equal(y, matmul_acc(x, w)), f"matmul {M}x{K}x{N}: wrong result"
    rows = drv.gemm_chunk_rows(K, N)
    assert len(runs) == -(-M // rows), (len(runs), M, rows)
    P, T = tb.P, core_perf.gemm_tiles(K, N, tb.P)
    for i, (lay, words, r) in enumerate(runs):
        m0 = i * rows
        assert lay.M == min(rows, M - m0)
        isa_check(drv, lay, words, x[m0:m0 + lay.M], w, y[m0:m0 + lay.M])
        c = r.counters
        assert c["ARRAY_BUSY"] == T * lay.M and c["MACS"] == T * lay.M * P * P, c
        assert c["WSTALL"] == core_perf.gemm_stall_cycles(lay.M, K, N, P), c
        assert c["DMA_BYTES"] == gemm_dma_bytes(lay, len(words)), c
        assert c["CYCLES"] > core_perf.gemm_cycles(lay.M, K, N, P), c


def multi_tile(tb: TopTb) -> int:
    """A dimension of 2 or 3 tiles that is not a multiple of P."""
    return tb.P * int(tb.rng.integers(1, 3)) + int(tb.rng.integers(1, tb.P))


@cocotb.test()
async def matmul_random(dut) -> None:
    tb = TopTb(dut)
    # Pauses first: switching them off afterwards must release every channel (cocotbext-axi keeps a
    # cleared generator's last value, which left a channel paused for ever: fixed in driver.set_pause).
    for pause in (0.4, 0.0):
        drv = await tb.driver(pause)
        for _ in range(2):
            shape = tb.shape()
            dut._log.info("matmul %s with pause %.1f", shape, pause)
            await checked_matmul(tb, drv, *shape)
        K, N = multi_tile(tb), multi_tile(tb)
        rows = drv.gemm_chunk_rows(K, N)
        M = rows + int(tb.rng.integers(1, rows))
        dut._log.info("matmul %s in chunks of %d rows with pause %.1f", (M, K, N), rows, pause)
        await checked_matmul(tb, drv, M, K, N)


@cocotb.test()
async def gemm_counters(dut) -> None:
    tb = TopTb(dut)
    drv = await tb.driver()
    P = tb.P
    for M, K, N in [(2 * P, 2 * P, P), (P - 1, P, 2 * P), (3 * P, P + 1, P)]:
        lay = GemmLayout(M, K, N, P)
        x, w = random_codes(tb.rng, (M, K)), random_codes(tb.rng, (K, N))
        buf = gemm_buffers(lay, drv.DATA_BASE)
        drv.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
        drv.write_rows(buf.base + buf.w_off, w_image(w, lay), DATA_W)
        await drv.csr.wr("CTRL", csr.bit("CTRL", "CNT_CLEAR"))
        assert await drv.dma(0, buf.base + buf.x_off, const("MemSelUb"), 0, lay.kt * M) == 0
        assert await drv.dma(0, buf.base + buf.w_off, const("MemSelWm"), 0, lay.kt * lay.nt * P) == 0
        c = await drv.counters()
        assert c["DMA_BYTES"] == buf.x_bytes + buf.w_bytes and c["CYCLES"] == 0, c
        words = assemble(gemm_program(M, K, N, P, lay)[0])
        r = await drv.run(words)
        core_cycles = int(dut.u_core.perf_cycles_o.value)
        assert core_cycles == core_perf.gemm_cycles(M, K, N, P), (core_cycles, M, K, N)
        c = r.counters
        assert c["ARRAY_BUSY"] == core_perf.gemm_rows(M, K, N, P)
        assert c["MACS"] == core_perf.gemm_rows(M, K, N, P) * P * P
        assert c["WSTALL"] == core_perf.gemm_stall_cycles(M, K, N, P)
        assert c["DMA_BYTES"] == 8 * len(words), c
        assert c["CYCLES"] > core_cycles, c  # the fetch comes first
        assert await drv.dma(1, buf.base + buf.y_off, const("MemSelAcc"), 0, lay.nt * M) == 0
        y = y_from_image(drv.read_rows(buf.base + buf.y_off, lay.nt * M, ACC_W), lay)
        assert np.array_equal(y, matmul_acc(x, w))


@cocotb.test()
async def dma_overlap(dut) -> None:
    """DMA X2 into UB region B while MATMULs stream region A; the MATMUL on B waits for it."""
    tb = TopTb(dut)
    P = tb.P
    m = 2 * P
    for pause in (0.0, 0.5):
        drv = await tb.driver(pause)
        base = drv.DATA_BASE
        x1, x2, w = random_codes(tb.rng, (m, P)), random_codes(tb.rng, (m, P)), random_codes(tb.rng, (P, P))
        text = f"""
            SETH {base}
            DMA IN, WM, 0, {P}, 0
            DMA IN, UB, 0, {m}, 0x100
            LDW 0
            DMA IN, UB, {m}, {m}, 0x200     ; region B, overlaps the MATMULs below
            MATMUL 0, 0, {m}, SWAP         ; region A
            MATMUL 0, 0, {m}, ACC
            MATMUL {m}, {m}, {m}           ; region B: waits for the DMA
            DMA OUT, ACC, 0, {2 * m}, 0x400
            HALT
        """
        host = HostMemory.zeros(HOST_SIZE, bus_bytes=drv.bus_bytes)
        for off, rows in ((0, w), (0x100, x1), (0x200, x2)):
            drv.write_rows(base + off, rows, DATA_W)
            host.write_words(base + off, rows, DATA_W)
        words = assemble(text)
        await drv.run(words)
        d = drv.depth
        st = MachineState.new(P, d["UB"], d["WM"], d["ACC"])
        assert run_status(words, st, imem_depth=d["IMEM"], host=host)[1] == 0
        got = drv.read_rows(base + 0x400, 2 * m, ACC_W)
        assert np.array_equal(got, host.read_words(base + 0x400, 2 * m, P, ACC_W)), "differs from ISA sim"
        assert np.array_equal(got[m:], matmul_acc(x2, w))


@cocotb.test()
async def csr_responses(dut) -> None:
    tb = TopTb(dut)
    drv = await tb.driver(0.3)
    regs = csr.by_offset()
    for off in range(0, 256, 4):
        _, resp = await drv.csr.read(off)
        assert resp == csr.expected_response(off, write=False), f"read {off:#x}: {resp}"
        if off not in regs or regs[off].access == csr.RO:
            resp = await drv.csr.write(off, 0)
            assert resp == csr.expected_response(off, write=True), f"write {off:#x}: {resp}"
            assert resp in (SLVERR, DECERR)
    assert await drv.csr.rd("VERSION") == const("CsrVersionValue")


@cocotb.test()
async def errors(dut) -> None:
    tb = TopTb(dut)
    P = tb.P
    slave = ErrorAxiSlave(dut, HOST_SIZE, tb.rng, p=0.3)
    cocotb.start_soon(slave.run())
    drv = await tb.driver(ram=SlaveRam(slave))
    base = drv.DATA_BASE
    ub_bytes = P * DATA_W // 8

    async def expect(words, code, pc) -> None:
        with_err = None
        try:
            await drv.run(words)
        except TpuError as e:
            with_err = e
        assert with_err is not None and (with_err.code, with_err.pc) == (code, pc), (with_err, code, pc)

    prog = assemble(f"SETH {base}\nLDW 0\nMATMUL 0, 0, 4, SWAP\nDMA IN, UB, 0, 8, 0\n"
                    f"MATMUL 8, 8, 4, SWAP\nDMA OUT, UB, 0, 8, 0x1000\nHALT")
    for resp, code in ((SLVERR, ERR["ErrDmaSlv"]), (DECERR, ERR["ErrDmaDec"])):
        slave.errors = [(base + 3 * ub_bytes, base + 3 * ub_bytes + 1, resp)]
        await expect(prog, code, 3)
        slave.errors = [(base + 0x1000 + 5 * ub_bytes, base + 0x1000 + 5 * ub_bytes + 1, resp)]
        await expect(prog, code, 5)
        slave.errors = [(drv.PROG_BASE + 8, drv.PROG_BASE + 9, resp)]  # the fetch itself
        await expect(prog, code, 0)
    slave.errors = []
    await expect(assemble(f"SETH {base + 4}\nDMA IN, UB, 0, 2, 0\nHALT"), ERR["ErrDmaAddr"], 1)
    await expect(assemble("SETH 0xFFFFFFC0\nDMA IN, ACC, 0, 8, 0\nHALT"), ERR["ErrDmaAddr"], 1)
    await expect(assemble("SETH 1, HI\nDMA IN, ACC, 0, 1, 0\nHALT"), ERR["ErrDmaAddr"], 1)
    await expect(assemble(f"DMA IN, UB, {tb.depths['UbDepth'] - 1}, 2, 0\nHALT"), ERR["ErrAddr"], 0)
    # command words that do not fit the DMA: errors, never truncation
    await drv.load_program(assemble("HALT"))
    await drv.csr.wr("PROG_BASE_HI", 1)
    await drv.start()
    r = await drv.wait_done(check=False)
    assert r.error == ERR["ErrDmaAddr"], r
    await drv.csr.wr("PROG_BASE_HI", 0)
    await drv.csr.wr("PROG_LEN", 0)
    await drv.start()
    assert (await drv.wait_done(check=False)).error == ERR["ErrLen"]
    assert await drv.dma(0, base, const("MemSelUb"), 0, 1 << 16) == const("DmaErrRange")
    assert await drv.dma(0, base, const("MemSelUb"), 1 << 16, 1) == const("DmaErrRange")
    assert await drv.dma(0, base | 1 << 32, const("MemSelUb"), 0, 1) == const("DmaErrRange")
    assert (await drv.counters())["DMA_BYTES"] == 0
    # and the next run is correct
    await checked_matmul(tb, drv, 2 * P, P + 1, P)


@cocotb.test()
async def start_while_busy(dut) -> None:
    tb = TopTb(dut)
    drv = await tb.driver()
    P = tb.P
    x, w = random_codes(tb.rng, (4 * P, 2 * P)), random_codes(tb.rng, (2 * P, 2 * P))
    lay = GemmLayout(4 * P, 2 * P, 2 * P, P)
    buf = gemm_buffers(lay, drv.DATA_BASE)
    drv.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
    drv.write_rows(buf.base + buf.w_off, w_image(w, lay), DATA_W)
    await drv.load_program(assemble(gemm_dma_program(buf)))
    await drv.start()
    await drv.csr.wr("CTRL", csr.bit("CTRL", "START"))
    await drv.csr.wr("CTRL", csr.bit("CTRL", "DMA_START"))
    rej = await drv.csr.rd("REJECTS")
    assert csr.field(rej, "REJECTS", "START") == 1 and csr.field(rej, "REJECTS", "DMA_START") == 1, hex(rej)
    assert csr.field(await drv.csr.rd("IRQ_STATUS"), "IRQ", "REJECT") == 1
    await drv.wait_done()
    y = y_from_image(drv.read_rows(buf.base + buf.y_off, lay.nt * lay.M, ACC_W), lay)
    assert np.array_equal(y, matmul_acc(x, w))


@cocotb.test()
async def reset_recovery(dut) -> None:
    tb = TopTb(dut)
    P = tb.P
    for phase in ("burst", "program"):
        drv = await tb.driver(0.2)
        x, w = random_codes(tb.rng, (3 * P, 2 * P)), random_codes(tb.rng, (2 * P, 2 * P))
        lay = GemmLayout(3 * P, 2 * P, 2 * P, P)
        buf = gemm_buffers(lay, drv.DATA_BASE)
        drv.write_rows(buf.base + buf.x_off, x_image(x, lay), DATA_W)
        drv.write_rows(buf.base + buf.w_off, w_image(w, lay), DATA_W)
        await drv.load_program(assemble(gemm_dma_program(buf)))
        await drv.start()
        if phase == "burst":  # a read burst of a program DMA (after the fetch's bursts)
            for _ in range(2):
                await RisingEdge(dut.u_core.busy_o) if _ == 0 else RisingEdge(dut.m_axi_arvalid)
            await ClockCycles(dut.clk_i, int(tb.rng.integers(1, 4)))
        else:  # while the array streams
            t = Timer(100_000, unit="ns")
            assert await First(RisingEdge(dut.u_core.perf_row_o), t) is not t
            await ClockCycles(dut.clk_i, int(tb.rng.integers(0, 2 * P)))
        # the reset below is also seen by the bus models (active-low rst_ni)
        drv = await tb.driver(0.2)
        assert (await drv.csr.status())["BUSY"] == 0
        await checked_matmul(tb, drv, *tb.shape())


# ---- MLP training and inference through the driver ---------------------------------------------------

def networks(P: int) -> list[tuple[list[int], list[str], int]]:
    """(sizes, activations, batch): 2 and 3 layers; sizes and batch not multiples of P (padding)."""
    return [([P + 2, P + 3, 3], ["leaky", "identity"], P + 2),
            ([P + 3, 2 * P - 1, P + 1, 2], ["relu", "leaky", "identity"], P - 1)]


def compile_pair(tb: TopTb, sizes: list[int], acts: list[str], batch: int,
                 lr: float = 0.2) -> tuple[CompiledMlp, CompiledMlp]:
    """Training and inference programs of one network for this DUT (room left in IMEM for SETH/DMA)."""
    d = tb.depths
    mem = dict(P=tb.P, imem_depth=d["ImemDepth"] - 16, ub_depth=d["UbDepth"], wm_depth=d["WmDepth"],
               acc_depth=d["AccDepth"])
    train = compile_mlp(sizes, acts, batch, lr, mode="train", **mem)
    infer = compile_mlp(sizes, acts, batch, mode="infer", **mem)
    assert train.layout == infer.layout
    return train, infer


def random_params(tb: TopTb, sizes: list[int]):
    """Q8.24 masters with all 24 fraction bits used, and non-zero biases."""
    params = init_params(sizes, tb.rng, q88=False)
    return [(w, tb.rng.integers(-(1 << 23), 1 << 23, size=b.shape, dtype=np.int64)) for w, b in params]


def batch(tb: TopTb, rows: int, n: int) -> np.ndarray:
    """Q8.8 codes in [-2, 2)."""
    return tb.rng.integers(-512, 512, size=(rows, n), dtype=np.int64)


def assert_params_equal(chip, gold, what: str) -> None:
    for li, ((cw, cb), (gw, gb)) in enumerate(zip(chip, gold, strict=True), start=1):
        assert cw.shape == gw.shape and np.array_equal(cw, gw), f"{what}: W{li} differs"
        assert np.array_equal(cb, gb), f"{what}: b{li} differs"
        assert gw.min() >= Q_MASTER.min and gw.max() <= Q_MASTER.max


@cocotb.test()
async def mlp_train_infer(dut) -> None:
    tb = TopTb(dut)
    for (sizes, acts, B), pause in zip(networks(tb.P), (0.0, 0.3), strict=True):
        drv = await tb.driver(pause)
        train, infer = compile_pair(tb, sizes, acts, B)
        cfg = TrainConfig(tuple(acts), train.lr, B)
        gold = random_params(tb, sizes)
        dut._log.info("MLP %s batch %d, pause %.1f: %d + %d instructions", sizes, B, pause,
                      len(train.words), len(infer.words))
        await drv.load_params(train, gold)
        for step in range(2):
            x, y = batch(tb, B, sizes[0]), batch(tb, B, sizes[-1])
            gold, _, out = train_step(gold, x, y, cfg)
            runs: list = []
            r = await drv.mlp_train_step(train, x, y, params=step == 0, info=runs)
            assert np.array_equal(r.outputs, out.outputs), f"{sizes} step {step}: outputs differ"
            assert any(d.any() for d in out.dw), "the step must change the weights"
            if step == 0:
                assert_params_equal(r.params, gold, f"{sizes} step 0 masters (DMA OUT in the program)")
            else:
                assert r.params is None
            c = runs[0].counters
            assert c["MACS"] == c["ARRAY_BUSY"] * tb.P ** 2 and c["ARRAY_BUSY"] > 0, c
        assert_params_equal(await drv.read_params(train), gold, f"{sizes} masters after two steps")
        xs = batch(tb, 2 * B + 1, sizes[0])  # three runs, the last one zero padded
        runs = []
        h = await drv.mlp_infer(infer, None, xs, info=runs)
        assert len(runs) == 3 and np.array_equal(h, forward(gold, xs, acts)), f"{sizes}: inference differs"
        other = random_params(tb, sizes)
        h = await drv.mlp_infer(infer, other, xs[:B])
        assert np.array_equal(h, forward(other, xs[:B], acts)), f"{sizes}: inference on new params differs"
    await drv.matmul(random_codes(tb.rng, (2, 3)), random_codes(tb.rng, (3, 2)))
    try:  # the GEMM overwrote the on-chip memories: the driver must know the parameters are gone
        await drv.mlp_train_step(train, x, y)
        raise AssertionError("a training step after matmul must need load_params")
    except RuntimeError:
        pass


def first_dma(words: list[int], out: bool) -> int:
    """PC of the program's first DMA instruction in the given direction."""
    for pc, w in enumerate(words):
        ins = decode(w)
        if ins.op == "DMA" and ins.has("OUT") == out:
            return pc
    raise AssertionError("no such DMA")


@cocotb.test()
async def mlp_errors(dut) -> None:
    tb = TopTb(dut)
    P = tb.P
    slave = ErrorAxiSlave(dut, HOST_SIZE, tb.rng, p=0.3)
    cocotb.start_soon(slave.run())
    drv = await tb.driver(ram=SlaveRam(slave))
    sizes, acts, B = networks(P)[0]
    train, _ = compile_pair(tb, sizes, acts, B)
    cfg = TrainConfig(tuple(acts), train.lr, B)
    gold = random_params(tb, sizes)
    await drv.load_params(train, gold)
    buf = drv.mlp_buffers(train)
    x, y = batch(tb, B, sizes[0]), batch(tb, B, sizes[-1])

    async def expect(code: int, pc: int, name: str, call) -> None:
        try:
            await call
        except TpuError as e:
            assert (e.code, e.pc, e.name) == (code, pc, name), (e.code, e.pc, e.name, code, pc, name)
            return
        raise AssertionError(f"expected TpuError {name} at pc {pc}")

    async def good_step() -> None:
        nonlocal gold
        gold, _, out = train_step(gold, x, y, cfg)
        r = await drv.mlp_train_step(train, x, y)
        assert np.array_equal(r.outputs, out.outputs), "training step after an error differs"

    words = drv.mlp_program(train, targets=True, outputs=True, params=False)
    x_addr, h_addr = buf.base + buf.off["x"], buf.base + buf.off["h"]
    slave.errors = [(x_addr + 8, x_addr + 9, SLVERR)]
    await expect(ERR["ErrDmaSlv"], first_dma(words, False), "ErrDmaSlv", drv.mlp_train_step(train, x, y))
    slave.errors = [(h_addr, h_addr + 1, DECERR)]
    await expect(ERR["ErrDmaDec"], first_dma(words, True), "ErrDmaDec", drv.mlp_train_step(train, x, y))
    slave.errors = []
    # The failed runs changed the masters (the first stopped before the step, the second after it):
    # reload, then a correct step.
    await drv.load_params(train, gold)
    await good_step()
    acc_addr = buf.base + buf.off["acc"]
    slave.errors = [(acc_addr, acc_addr + 1, SLVERR)]
    try:
        await drv.load_params(train, gold)
        raise AssertionError("load_params over a failing bus must raise")
    except TpuDmaError as e:
        assert (e.code, e.name) == (const("DmaErrSlv"), "DmaErrSlv"), e
    slave.errors = []
    await expect(ERR["ErrAddr"], 1, "ErrAddr",
                 drv.run(assemble(f"LDW 0\nMATMUL {tb.depths['UbDepth'] - 2}, 0, 4, SWAP\nHALT")))
    # A bus that never answers: the fetch hangs, wait_done must say so (TpuTimeout), not wait for ever.
    slave.p = 1.0
    try:
        await drv.run(assemble("HALT"))
        raise AssertionError("a run on a dead bus must time out")
    except TpuTimeout as e:
        assert "no interrupt within" in str(e), e
    slave.p = 0.3
    drv = await tb.driver(ram=SlaveRam(slave))  # reset: the driver forgets the parameters too
    await drv.load_params(train, gold)
    await good_step()
    assert_params_equal(await drv.read_params(train), gold, "masters after the errors")


# ---- pytest entry ----------------------------------------------------------------------------------

SOURCES = (*CORE_SOURCES, "tpu_csr", "tpu_dma", "tpu_top")


def params(P: int) -> dict[str, int]:
    """Memories big enough for the MLP tests' networks; ACC small enough that GEMMs split into chunks."""
    return {"P": P, "ImemDepth": 256, "UbDepth": 64 * P, "WmDepth": 16 * P, "AccDepth": 16 * P}


@pytest.mark.parametrize("P", [4, 8])
def test_top(sim: str, P: int) -> None:
    runner.run(sim, "tpu_top", "tb.top.test_top", rtl_sources(*SOURCES), params(P))
