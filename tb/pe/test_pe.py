"""tpu_pe: random MACs, weight shift/commit, shadow/active swap and reset, against a reference PE.

The reference below is written from the PE's specification (docs/architecture.md), independently
of the array cycle model; every edge compares all eight reset registers and the outputs, and the
product register (no reset: unknown until the first valid row, kept through a reset) once it is known.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import Timer

from models.fixed_point import ACC_W, DATA_W, wrap
from tb.common import runner
from tb.common.tb_base import TbBase
from tb.common.tools import rtl_sources

REGS = ("valid_q", "prod_valid_q", "switch_q", "x_q", "psum_q", "transit_q", "shadow_q", "active_q")
WIDTH = {"valid_q": 1, "prod_valid_q": 1, "switch_q": 1, "x_q": DATA_W, "psum_q": ACC_W, "transit_q": DATA_W,
         "shadow_q": DATA_W, "active_q": DATA_W}  # fmt: skip
OUTPUTS = {"x_valid_o": "valid_q", "x_switch_o": "switch_q", "x_data_o": "x_q", "psum_o": "psum_q",
           "w_data_o": "transit_q"}  # fmt: skip
LO, HI = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1


class PeRef:
    """One PE, register for register (values as signed integers)."""

    def __init__(self) -> None:
        self.reset()
        self.prod: int | None = None  # prod_q: X in the simulator until the first valid row

    def reset(self) -> None:
        self.regs = dict.fromkeys(REGS, 0)  # prod_q has no reset: it keeps its value

    def step(self, i: dict) -> None:
        r = dict(self.regs)
        swap = i["x_valid"] and i["x_switch"]
        w = self.regs["shadow_q"] if swap else self.regs["active_q"]
        r["valid_q"], r["switch_q"] = i["x_valid"], int(bool(swap))
        # Three-stage MAC: a valid row is registered with its weight, multiplied at the next edge and
        # added to psum_i at the one after.
        r["prod_valid_q"] = self.regs["valid_q"]
        if self.regs["prod_valid_q"]:
            r["psum_q"] = int(wrap(i["psum"] + self.prod, ACC_W))
        if self.regs["valid_q"]:
            self.prod = self.regs["x_q"] * self.regs["active_q"]
        if i["x_valid"]:
            r["x_q"] = i["x_data"]
            r["active_q"] = w
        if i["w_shift"]:
            r["transit_q"] = i["w_data"]
            if i["w_commit"]:
                r["shadow_q"] = i["w_data"]
        self.regs = r


class PeTb(TbBase):
    def __init__(self, dut) -> None:
        super().__init__(dut)
        self.ref = PeRef()
        self.edges = 0
        self.idle()

    def idle(self) -> None:
        self.drive(dict(x_valid=0, x_switch=0, x_data=0, psum=0, w_shift=0, w_commit=0, w_data=0))

    def drive(self, i: dict) -> None:
        d = self.dut
        d.x_valid_i.value, d.x_switch_i.value = i["x_valid"], i["x_switch"]
        d.x_data_i.value = i["x_data"] & ((1 << DATA_W) - 1)
        d.psum_i.value = i["psum"] & ((1 << ACC_W) - 1)
        d.w_shift_i.value, d.w_commit_i.value = i["w_shift"], i["w_commit"]
        d.w_data_i.value = i["w_data"] & ((1 << DATA_W) - 1)

    def check(self, what: str) -> None:
        """Every register and output of the DUT against the reference, as unsigned codes."""
        for name in REGS:
            got = int(getattr(self.dut, name).value)
            exp = self.ref.regs[name] & ((1 << WIDTH[name]) - 1)
            assert got == exp, f"{what}: {name} = {got:#x}, expected {exp:#x}"
        if self.ref.prod is not None:
            got, exp = int(self.dut.prod_q.value), self.ref.prod & ((1 << 2 * DATA_W) - 1)
            assert got == exp, f"{what}: prod_q = {got:#x}, expected {exp:#x}"
        for port, reg in OUTPUTS.items():
            assert int(getattr(self.dut, port).value) == int(getattr(self.dut, reg).value), port

    async def edge(self, i: dict) -> None:
        """Drive `i` after a falling edge, clock it in, compare after the next falling edge."""
        self.drive(i)
        self.ref.step(i)
        await self.falling()
        self.check(f"edge {self.edges} inputs {i}")
        self.edges += 1

    def random_inputs(self) -> dict:
        rng = self.rng

        def data(bits: int) -> int:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            pick = rng.random()
            return int(lo if pick < 0.1 else hi if pick < 0.2 else rng.integers(lo, hi + 1))

        shift = int(rng.random() < 0.5)
        return dict(
            x_valid=int(rng.random() < 0.7), x_switch=int(rng.random() < 0.3), x_data=data(DATA_W),
            psum=data(ACC_W), w_shift=shift, w_commit=int(rng.random() < 0.3), w_data=data(DATA_W),
        )  # fmt: skip

    async def start(self) -> None:
        self.idle()
        await self.reset()
        self.ref.reset()
        self.check("after reset")


@cocotb.test()
async def random_macs(dut):
    """Random MACs, shifts, commits and switches (extremes included) on every edge."""
    tb = PeTb(dut)
    await tb.start()
    for _ in range(400):
        await tb.edge(tb.random_inputs())


@cocotb.test()
async def weight_shift_commit_swap(dut):
    """Directed: shift without commit, commit, swap with bypass, commit and swap on the same edge."""
    tb = PeTb(dut)
    await tb.start()
    w0, w1, w2, x, ps = 1234, LO, HI, -77, 1 << 20
    nop = dict(x_valid=0, x_switch=0, x_data=0, psum=0, w_shift=0, w_commit=0, w_data=0)
    await tb.edge({**nop, "w_shift": 1, "w_data": w1})  # transit only
    assert tb.ref.regs["shadow_q"] == 0 and tb.ref.regs["transit_q"] == w1
    await tb.edge({**nop, "w_shift": 1, "w_commit": 1, "w_data": w0})  # commit w0
    await tb.edge({**nop, "w_commit": 1, "w_data": w2})  # commit without shift: ignored
    await tb.edge({**nop, "x_valid": 1, "x_data": x})  # row a: active is still 0
    assert tb.ref.regs["x_q"] == x and tb.ref.regs["active_q"] == 0
    await tb.edge({**nop, "x_valid": 1, "x_switch": 1, "x_data": x, "psum": ps})  # row b swaps to w0
    assert tb.ref.prod == 0 and tb.ref.regs["active_q"] == w0 and tb.ref.regs["psum_q"] == 0
    # No valid: no swap. Row a's product (0) is added to this edge's psum_i, row b's is registered.
    await tb.edge({**nop, "x_switch": 1, "w_shift": 1, "w_commit": 1, "w_data": w2, "psum": ps})
    assert tb.ref.regs["psum_q"] == ps and tb.ref.prod == x * w0
    assert tb.ref.regs["active_q"] == w0 and tb.ref.regs["switch_q"] == 0
    # Commit and swap on the same edge (row c): active takes the old shadow (w2), shadow the new w1.
    await tb.edge(dict(x_valid=1, x_switch=1, x_data=x, psum=ps, w_shift=1, w_commit=1, w_data=w1))
    assert tb.ref.regs["active_q"] == w2 and tb.ref.regs["shadow_q"] == w1
    assert tb.ref.regs["psum_q"] == ps + x * w0  # row b's sum
    await tb.edge({**nop, "x_valid": 1, "x_data": HI})  # row d keeps using w2; no product to add
    assert tb.ref.regs["psum_q"] == ps + x * w0 and tb.ref.prod == x * w2
    await tb.edge(nop)  # row c's sum
    assert tb.ref.regs["psum_q"] == x * w2 and tb.ref.prod == HI * w2
    await tb.edge({**nop, "psum": -1})  # row d's sum wraps
    assert tb.ref.regs["psum_q"] == int(wrap(-1 + HI * w2, ACC_W))
    for _ in range(3):  # idle edges hold x and psum
        await tb.edge(nop)
    assert tb.ref.regs["valid_q"] == 0 and tb.ref.regs["x_q"] == HI


@cocotb.test()
async def reset_mid_run(dut):
    """Reset asserted between edges clears every register at once (asynchronous), then work resumes."""
    tb = PeTb(dut)
    await tb.start()
    for _ in range(int(tb.rng.integers(20, 60))):
        await tb.edge(tb.random_inputs())
    assert any(tb.ref.regs[r] for r in ("psum_q", "shadow_q", "active_q", "transit_q"))
    await Timer(2, unit="ns")  # between edges
    dut.rst_ni.value = 0
    await Timer(1, unit="ns")
    tb.ref.reset()
    tb.check("asynchronous reset")
    await tb.start()
    for _ in range(100):
        await tb.edge(tb.random_inputs())


def test_pe(sim):
    runner.run(sim, "tpu_pe", "tb.pe.test_pe", rtl_sources("tpu_pe"))
