"""tpu_vpu: every pathway, random pathway bits, gaps, back-to-back operations and reset, bit exact.

Driver -> DUT -> monitor -> scoreboard: the driver presents operations (a config plus rows) and queues,
for every row, the golden model's output row, the model's running bias-gradient sums after that row,
and the cycle it was driven. The monitor samples every output row; the scoreboard compares data and
sums bit for bit with models.vpu.vpu and checks that each row left exactly VpuLatency cycles later.
Inputs carry random junk while in_valid_i is low, so anything that leaks from an idle input shows up.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cocotb
import numpy as np
import pytest
from cocotb.simtime import get_sim_time
from cocotb.triggers import Timer

from models import vpu as V
from models.fixed_point import ACC_W, DATA_W, FRAC_W
from tb.common import fcov, runner
from tb.common.tb_base import CLOCK_PERIOD_NS, TbBase, pack, param, unpack
from tb.common.tools import rtl_sources

LO, HI = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
ACC_LO, ACC_HI = -(1 << (ACC_W - 1)), (1 << (ACC_W - 1)) - 1
ONE = 1 << FRAC_W

FORWARD = V.PATH_BIAS | V.PATH_ACT
LAST_LAYER = V.PATH_BIAS | V.PATH_ACT | V.PATH_LOSS | V.PATH_DERIV | V.PATH_BGRAD
BACKWARD = V.PATH_DERIV | V.PATH_BGRAD


# ---- Stimulus ---------------------------------------------------------------------------------


@dataclass
class Op:
    """One VPU operation: config, operands and the golden model's answer."""

    cfg: V.VpuConfig
    rows: np.ndarray  # [M, P] AccW codes
    bias: np.ndarray  # [P]
    aux: np.ndarray  # [M, P]
    out: np.ndarray | None = None  # [M, P] expected data
    sums: np.ndarray | None = None  # [M, P] expected bgrad_o after each row

    def __post_init__(self) -> None:
        self.out, _ = V.vpu(self.rows, self.cfg, self.bias, self.aux)
        # bgrad_o is a running sum: after row k it equals the model's sums over rows 0..k.
        prefixes = range(1, len(self.rows) + 1)
        self.sums = np.stack([V.vpu(self.rows[:k], self.cfg, self.bias, self.aux[:k])[1] for k in prefixes])


def corner_rows(rng: np.random.Generator, m: int, p: int, shift: int) -> np.ndarray:
    """Wide rows whose requantized values hit ties, saturation both ways and the range edges."""
    kind = rng.integers(0, 5, size=(m, p))
    k = rng.integers(2 * LO, 2 * HI + 1, size=(m, p))  # up to twice beyond the DataW range
    edge = rng.choice([HI, HI + 1, LO, LO - 1, 0, -1, 1], size=(m, p))
    half = (1 << (shift - 1)) if shift else 0
    frac = rng.integers(0, 1 << shift, size=(m, p)) if shift else np.zeros((m, p), dtype=np.int64)
    full = rng.integers(ACC_LO, ACC_HI + 1, size=(m, p))
    small = rng.integers(LO, HI + 1, size=(m, p))
    out = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [(k << shift) + frac, (k << shift) + half, (edge << shift) + rng.choice([half, -half, 0], (m, p)),
         full],
        (small << shift) + frac,
    )
    return np.clip(out, ACC_LO, ACC_HI).astype(np.int64)


def data_codes(rng: np.random.Generator, shape, zero_frac: float = 0.15) -> np.ndarray:
    """DataW codes: a mix of the full range, small values, the extremes and zeros."""
    full = rng.integers(LO, HI + 1, size=shape)
    small = rng.integers(-4 * ONE, 4 * ONE, size=shape)
    extreme = rng.choice([LO, HI, -1, 1], size=shape)
    pick = rng.random(shape)
    out = np.where(pick < 0.4, full, np.where(pick < 0.85, small, extreme))
    out[rng.random(shape) < zero_frac] = 0
    return out.astype(np.int64)


def random_config(rng: np.random.Generator, bits: int | None = None) -> V.VpuConfig:
    batch = int(rng.integers(1, 17))
    return V.VpuConfig.from_bits(
        int(rng.integers(0, 32)) if bits is None else bits,
        act=int(rng.choice([V.ACT_IDENTITY, V.ACT_RELU, V.ACT_LEAKY, V.ACT_LEAKY, 3])),
        shift=int(rng.choice([FRAC_W, FRAC_W, 0, 2 * FRAC_W, int(rng.integers(0, 32))])),
        slope=int(rng.choice([ONE // 8, 3, int(rng.integers(0, 4 * ONE)), int(rng.integers(LO, HI + 1))])),
        loss_scale=int(rng.choice([round(2 * ONE / batch), int(rng.integers(LO, HI + 1))])),
        loss_shift=int(rng.choice([FRAC_W, int(rng.integers(0, 32))])),
    )


def make_op(rng: np.random.Generator, p: int, cfg: V.VpuConfig, m: int | None = None) -> Op:
    m = int(rng.integers(1, 9)) if m is None else m
    rows = corner_rows(rng, m, p, cfg.shift)
    return Op(cfg, rows, data_codes(rng, p), data_codes(rng, (m, p), zero_frac=0.25))


def directed_ops(rng: np.random.Generator, p: int) -> list[Op]:
    """Every pathway the training flow uses, with each activation, plus plain requantize / pass-through."""
    ops = [make_op(rng, p, V.VpuConfig(shift=0), 6), make_op(rng, p, V.VpuConfig(), 6)]
    for act in (V.ACT_IDENTITY, V.ACT_RELU, V.ACT_LEAKY):
        for bits in (FORWARD, LAST_LAYER, BACKWARD):
            cfg = V.VpuConfig.from_bits(bits, act=act, loss_scale=round(2 * ONE / 4))  # 2/B, B = 4
            ops.append(make_op(rng, p, cfg, 5))
    # Pass-through of rows that are already data codes (sign-extended), bias-gradient alone.
    rows = data_codes(rng, (4, p))
    ops.append(Op(V.VpuConfig(shift=0, bgrad_en=True), rows, data_codes(rng, p), data_codes(rng, (4, p))))
    return ops


# ---- Driver, monitor, scoreboard ------------------------------------------------------------------


def cycle() -> int:
    return int(get_sim_time(unit="ns")) // CLOCK_PERIOD_NS


class Scoreboard:
    """Expected rows in order; every observed row must match the next one, data, sums and latency."""

    def __init__(self, log) -> None:
        self.log = log
        self.expected: deque = deque()
        self.errors: list[str] = []
        self.matched = 0

    def expect(self, when: int, tag: str, row: np.ndarray, sums: np.ndarray) -> None:
        self.expected.append((when, tag, row.tolist(), sums.tolist()))

    def observe(self, when: int, row: list[int], sums: list[int]) -> None:
        if not self.expected:
            self.errors.append(f"cycle {when}: unexpected output row {row}")
            return
        sent, tag, want_row, want_sums = self.expected.popleft()
        if when - sent != V.LATENCY:
            self.errors.append(f"{tag}: left after {when - sent} cycles, expected {V.LATENCY}")
        if row != want_row:
            self.errors.append(f"{tag}: out_data_o {row} != model {want_row}")
        if sums != want_sums:
            self.errors.append(f"{tag}: bgrad_o {sums} != model {want_sums}")
        self.matched += 1

    def flush(self) -> None:
        self.expected.clear()

    def check(self) -> None:
        if self.expected:
            self.errors.append(f"{len(self.expected)} rows never came out, first {self.expected[0][1]}")
        for e in self.errors[:10]:
            self.log.error(e)
        assert not self.errors, f"{len(self.errors)} scoreboard errors, first: {self.errors[0]}"


class VpuTb(TbBase):
    def __init__(self, dut) -> None:
        super().__init__(dut)
        self.p = param(dut, "P")
        self.sb = Scoreboard(self.log)
        self.stopping = False
        self.junk()
        self.xcheck.watch(dut.out_valid_o, [dut.out_data_o])
        cocotb.start_soon(self.monitor())

    def junk(self) -> None:
        """in_valid_i low, every other input random: nothing of it may reach the outputs."""
        d, r = self.dut, self.rng
        d.in_valid_i.value = 0
        d.in_first_i.value = int(r.integers(0, 2))
        d.in_data_i.value = pack(r.integers(ACC_LO, ACC_HI + 1, self.p), ACC_W)
        d.in_aux_i.value = pack(r.integers(LO, HI + 1, self.p), DATA_W)
        d.bias_i.value = pack(r.integers(LO, HI + 1, self.p), DATA_W)
        d.path_i.value = int(r.integers(0, 32))
        d.act_i.value = int(r.integers(0, 4))
        d.shift_i.value = int(r.integers(0, 32))
        d.slope_i.value = int(r.integers(0, 1 << DATA_W))
        d.loss_scale_i.value = int(r.integers(0, 1 << DATA_W))
        d.loss_shift_i.value = int(r.integers(0, 32))

    def drive_row(self, op: Op, k: int) -> None:
        d, c = self.dut, op.cfg
        d.in_valid_i.value = 1
        d.in_first_i.value = int(k == 0)
        d.in_data_i.value = pack(op.rows[k], ACC_W)
        d.in_aux_i.value = pack(op.aux[k], DATA_W)
        d.bias_i.value = pack(op.bias, DATA_W)
        d.path_i.value = c.bits
        d.act_i.value = c.act
        d.shift_i.value = c.shift
        d.slope_i.value = c.slope & ((1 << DATA_W) - 1)
        d.loss_scale_i.value = c.loss_scale & ((1 << DATA_W) - 1)
        d.loss_shift_i.value = c.loss_shift

    async def driver(self, ops: list[Op], gap_prob: float = 0.0) -> None:
        """Operations back to back; each row preceded by an idle cycle with probability gap_prob."""
        for n, op in enumerate(ops):
            for k in range(len(op.rows)):
                while True:
                    await self.falling()
                    if self.stopping:
                        self.junk()
                        return
                    if self.rng.random() >= gap_prob:
                        break
                    self.junk()
                self.drive_row(op, k)
                tag = f"op {n} (path {op.cfg.bits:05b} act {op.cfg.act}) row {k}"
                self.sb.expect(cycle(), tag, op.out[k], op.sums[k])
            fcov.sample_vpu(op.rows, op.cfg, op.bias, op.aux)
        await self.falling()
        self.junk()

    async def monitor(self) -> None:
        d = self.dut
        while True:
            await self.falling()
            if d.rst_ni.value != 1 or d.out_valid_o.value != 1:
                continue
            row = unpack(d.out_data_o.value.to_unsigned(), self.p, DATA_W).tolist()
            sums = unpack(d.bgrad_o.value.to_unsigned(), self.p, ACC_W).tolist()
            self.sb.observe(cycle(), row, sums)

    async def run(self, ops: list[Op], gap_prob: float = 0.0) -> None:
        await self.driver(ops, gap_prob)
        await self.cycles(V.LATENCY + 2)
        self.sb.check()
        rows = sum(len(op.rows) for op in ops)
        assert self.sb.matched >= rows, f"only {self.sb.matched} rows checked"
        self.log.info("%d operations, %d rows matched the model", len(ops), rows)


# ---- cocotb tests -----------------------------------------------------------------------------


@cocotb.test()
async def directed_pathways(dut):
    """Forward, last layer, backward (each activation), requantize and pass-through, back to back."""
    tb = VpuTb(dut)
    await tb.reset()
    await tb.run(directed_ops(tb.rng, tb.p))


@cocotb.test()
@cocotb.parametrize(gap_prob=[0.0, 0.4])
async def random_pathways(dut, gap_prob: float):
    """Random pathway bits and parameters per operation, with and without idle cycles between rows."""
    tb = VpuTb(dut)
    await tb.reset()
    ops = [make_op(tb.rng, tb.p, random_config(tb.rng)) for _ in range(120)]
    ops += [make_op(tb.rng, tb.p, random_config(tb.rng, bits), 3) for bits in range(32)]
    order = tb.rng.permutation(len(ops))
    await tb.run([ops[i] for i in order], gap_prob)


@cocotb.test()
async def reset_mid_stream(dut):
    """Reset with rows in flight clears outputs and sums; the next stream is correct."""
    tb = VpuTb(dut)
    await tb.reset()
    first = [make_op(tb.rng, tb.p, random_config(tb.rng, LAST_LAYER), 8) for _ in range(4)]
    task = cocotb.start_soon(tb.driver(first, 0.2))
    # Reset once rows have left and at least 3 are in flight: the monitor may take one at this edge and
    # one at the next, before the reset lands (a fixed cycle count left no row out on some seeds).
    for _ in range(sum(len(op.rows) for op in first)):
        await tb.falling()
        if tb.sb.matched > 0 and len(tb.sb.expected) >= 3:
            break
    tb.stopping = True
    await task
    assert tb.sb.matched > 0, "no row left before the reset: the test would not exercise in-flight rows"
    assert tb.sb.expected, "no row in flight at the reset: the test would not exercise in-flight rows"
    dut.rst_ni.value = 0  # asynchronous: takes effect between edges
    await Timer(1, unit="ns")
    assert dut.out_valid_o.value == 0, "out_valid_o not cleared by reset"
    assert dut.out_data_o.value.to_unsigned() == 0, "out_data_o not cleared by reset"
    assert dut.bgrad_o.value.to_unsigned() == 0, "bgrad_o not cleared by reset"
    tb.sb.flush()
    for _ in range(3):
        await tb.falling()
        assert dut.out_valid_o.value == 0, "out_valid_o rose during reset"
    dut.rst_ni.value = 1
    tb.stopping = False
    await tb.cycles(V.LATENCY + 1)
    tb.sb.check()  # rows in flight at the reset must not come out afterwards
    await tb.run([make_op(tb.rng, tb.p, random_config(tb.rng)) for _ in range(12)], 0.2)


# ---- pytest entry -----------------------------------------------------------------------------


@pytest.mark.parametrize("P", [2, 4, 8])
def test_vpu(sim, P):
    runner.run(sim, "tpu_vpu", "tb.vpu.test_vpu", rtl_sources("tpu_vpu"), {"P": P})
