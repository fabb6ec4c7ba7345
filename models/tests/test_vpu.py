"""The VPU golden model against independent exact arithmetic (Python Fractions), no simulator."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from models import vpu as V
from models.fixed_point import ACC_W, DATA_W, FRAC_W

LO, HI = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
ONE = 1 << FRAC_W


def rne(x: Fraction) -> int:
    """Round a rational to the nearest integer, ties to even (independent of models.fixed_point)."""
    f = math.floor(x)
    rest = x - f
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and f % 2 == 1):
        return f + 1
    return f


def sat(v: int) -> int:
    return min(max(v, LO), HI)


def ref_leak(d: int, slope: int) -> int:
    return sat(rne(Fraction(d * slope, ONE)))


def ref_row(x, cfg: V.VpuConfig, bias, aux) -> list[int]:
    """One row through the six stages, scalar by scalar, with Fractions."""
    out = []
    for j, v in enumerate(x):
        d = sat(rne(Fraction(int(v), 1 << cfg.shift)))
        if cfg.bias_en:
            d = sat(d + int(bias[j]))
        if cfg.act_en and d < 0:
            if cfg.act == V.ACT_RELU:
                d = 0
            elif cfg.act == V.ACT_LEAKY:
                d = ref_leak(d, cfg.slope)
        h = d
        if cfg.loss_en:
            d = sat(rne(Fraction((d - int(aux[j])) * cfg.loss_scale, 1 << cfg.loss_shift)))
        if cfg.deriv_en:
            g = h if cfg.loss_en else int(aux[j])
            if g <= 0 and cfg.act == V.ACT_RELU:
                d = 0
            elif g <= 0 and cfg.act == V.ACT_LEAKY:
                d = ref_leak(d, cfg.slope)
        out.append(d)
    return out


def ref_vpu(rows, cfg, bias, aux):
    outs = [ref_row(rows[m], cfg, bias, None if aux is None else aux[m]) for m in range(len(rows))]
    lanes = len(rows[0])
    sums = []
    for j in range(lanes):
        s = sum(o[j] for o in outs) if cfg.bgrad_en else 0
        s = (s + (1 << (ACC_W - 1))) % (1 << ACC_W) - (1 << (ACC_W - 1))
        sums.append(s)
    return np.array(outs, dtype=np.int64), np.array(sums, dtype=np.int64)


# ---- Stages, one at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "shift", "want"),
    [
        (0x180, 8, 2),  # 1.5 -> 2
        (0x280, 8, 2),  # 2.5 -> 2 (tie to even)
        (-0x180, 8, -2),  # -1.5 -> -2
        (-0x80, 8, 0),  # -0.5 -> 0
        (-0x280, 8, -2),  # -2.5 -> -2
        (0x181, 8, 2),  # just above a tie
        (0x17F, 8, 1),  # just below a tie
        ((HI << 8) + 0x80, 8, HI),  # rounds to HI + 1 (odd HI goes up), saturates
        ((LO << 8) - 0x80, 8, LO),  # below LO - 0.5 -> saturates low
        ((LO << 8) - 0x7F, 8, LO),  # rounds back up to exactly LO
        (HI + 1, 0, HI),  # pass-through (shift 0) saturates out-of-range values
        (LO - 1, 0, LO),
        (12345, 0, 12345),
        ((1 << (ACC_W - 1)) - 1, 31, 1),  # (2^31 - 1) / 2^31 rounds to 1
        (-(1 << (ACC_W - 1)), 31, -1),
        (1 << 30, 31, 0),  # exactly 0.5: tie to even 0
        (3 << 29, 31, 1),  # 0.75
    ],
)
def test_requant_cases(x, shift, want):
    assert V.requant(np.array([x]), shift)[0] == want
    assert rne(Fraction(x, 1 << shift)) == want or want in (HI, LO)


def test_requant_random_against_fractions():
    rng = np.random.default_rng(1)
    for shift in range(32):
        x = rng.integers(-(1 << (ACC_W - 1)), 1 << (ACC_W - 1), size=200, dtype=np.int64)
        want = [sat(rne(Fraction(int(v), 1 << shift))) for v in x]
        assert V.requant(x, shift).tolist() == want


def test_bias_add_saturates_both_ways():
    d = np.array([HI, LO, 100, -100, HI - 5])
    b = np.array([1, -1, -300, 300, 5])
    assert V.bias_add(d, b).tolist() == [HI, LO, -200, 200, HI]


def test_activate_cases():
    d = np.array([-8, -4, -12, -1, 0, 1, LO, HI, -20])
    assert V.activate(d, V.ACT_IDENTITY, 32).tolist() == d.tolist()
    assert V.activate(d, 3, 32).tolist() == d.tolist()  # reserved code acts as identity
    assert V.activate(d, V.ACT_RELU, 32).tolist() == [0, 0, 0, 0, 0, 1, 0, HI, 0]
    # slope 0.125: -4 * 0.125 = -0.5 -> 0 (tie to even), -12/8 = -1.5 -> -2, -20/8 = -2.5 -> -2
    assert V.activate(d, V.ACT_LEAKY, 32).tolist() == [-1, 0, -2, 0, 0, 1, LO // 8, HI, -2]
    # a slope above 1 saturates the negative side
    assert V.activate(np.array([LO, -256]), V.ACT_LEAKY, 4 * ONE).tolist() == [LO, -1024]


def test_activate_random_leaky_against_fractions():
    rng = np.random.default_rng(2)
    d = rng.integers(LO, HI + 1, size=500)
    for slope in (32, 1, ONE, 3 * ONE, HI, LO, -77):
        want = [int(v) if v >= 0 else ref_leak(int(v), slope) for v in d]
        assert V.activate(d, V.ACT_LEAKY, slope).tolist() == want


def test_loss_grad_cases():
    # (h - y) * 1.0 >> 8: exact, no rounding
    assert V.loss_grad(np.array([300]), np.array([100]), ONE, FRAC_W).tolist() == [200]
    # scale 0.5: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2 (ties), -3 * 0.5 -> -2
    assert V.loss_grad(np.array([3, 5, -3]), np.array([0, 0, 0]), ONE // 2, FRAC_W).tolist() == [2, 2, -2]
    # the difference is exact: HI - LO overflows DataW but not the stage
    assert V.loss_grad(np.array([HI]), np.array([LO]), ONE, FRAC_W).tolist() == [HI]
    assert V.loss_grad(np.array([LO]), np.array([HI]), ONE, FRAC_W).tolist() == [LO]
    quarter = V.loss_grad(np.array([HI]), np.array([LO]), ONE // 4, FRAC_W)
    assert quarter.tolist() == [rne(Fraction(HI - LO, 4))]


def test_loss_grad_random_against_fractions():
    rng = np.random.default_rng(3)
    h, y = rng.integers(LO, HI + 1, size=(2, 300))
    for scale, shift in ((ONE, 8), (77, 3), (-5, 0), (HI, 31), (LO, 16), (1, 0)):
        want = [sat(rne(Fraction((int(a) - int(b)) * scale, 1 << shift))) for a, b in zip(h, y, strict=True)]
        assert V.loss_grad(h, y, scale, shift).tolist() == want


def test_deriv_cases():
    d = np.array([100, 100, 100, -100, -12, -12])
    g = np.array([1, 0, -5, 0, -1, 3])
    assert V.deriv(d, g, V.ACT_IDENTITY, 32).tolist() == d.tolist()
    assert V.deriv(d, g, V.ACT_RELU, 32).tolist() == [100, 0, 0, 0, 0, -12]  # relu at 0 -> 0
    # leaky: 100/8 = 12.5 -> 12, -100/8 = -12.5 -> -12, -12/8 = -1.5 -> -2
    assert V.deriv(d, g, V.ACT_LEAKY, 32).tolist() == [100, 12, 12, -12, -2, -12]


def test_bgrad_reduce_wraps():
    d = np.full((3, 2), HI)
    assert V.bgrad_reduce(d).tolist() == [3 * HI, 3 * HI]
    big = np.full((1 << (ACC_W - DATA_W + 1), 1), HI)  # enough rows to pass 2^(AccW-1)
    total = big.shape[0] * HI
    want = (total + (1 << (ACC_W - 1))) % (1 << ACC_W) - (1 << (ACC_W - 1))
    assert V.bgrad_reduce(big).tolist() == [want]
    assert want != total  # the case really wraps


# ---- Whole unit ---------------------------------------------------------------------------------


def test_config_bits_round_trip():
    for bits in range(32):
        cfg = V.VpuConfig.from_bits(bits, act=V.ACT_LEAKY, shift=3)
        assert cfg.bits == bits
        assert cfg.act == V.ACT_LEAKY and cfg.shift == 3
    assert V.VpuConfig(bias_en=True, bgrad_en=True).bits == V.PATH_BIAS | V.PATH_BGRAD
    assert (V.PATH_BIAS, V.PATH_ACT, V.PATH_LOSS, V.PATH_DERIV, V.PATH_BGRAD) == (1, 2, 4, 8, 16)


def test_config_defaults_and_validation():
    cfg = V.VpuConfig()
    assert cfg.bits == 0 and cfg.shift == FRAC_W and cfg.slope == ONE // 8 and cfg.loss_scale == ONE
    for bad in ({"shift": 32}, {"loss_shift": -1}, {"slope": HI + 1}, {"act": 4}):
        with pytest.raises(ValueError):
            V.VpuConfig(**bad)
    with pytest.raises(ValueError):
        V.VpuConfig.from_bits(32)


def test_vpu_needs_operands():
    rows = np.zeros((2, 3), dtype=np.int64)
    with pytest.raises(ValueError):
        V.vpu(rows, V.VpuConfig(bias_en=True))
    with pytest.raises(ValueError):
        V.vpu(rows, V.VpuConfig(deriv_en=True))
    with pytest.raises(ValueError):
        V.vpu(rows + (1 << ACC_W), V.VpuConfig())
    with pytest.raises(ValueError):
        V.vpu(rows, V.VpuConfig(loss_en=True), aux=np.zeros((2, 2), dtype=np.int64))


def _operands(rng, m, p):
    rows = rng.integers(-(1 << (ACC_W - 1)), 1 << (ACC_W - 1), size=(m, p), dtype=np.int64)
    rows[::2] >>= rng.integers(0, 24)  # plenty of in-range values too
    bias = rng.integers(LO, HI + 1, size=p, dtype=np.int64)
    aux = rng.integers(LO, HI + 1, size=(m, p), dtype=np.int64)
    aux[rng.random((m, p)) < 0.2] = 0
    return rows, bias, aux


def test_vpu_every_pathway_against_reference():
    rng = np.random.default_rng(4)
    for bits in range(32):
        for act in range(4):
            cfg = V.VpuConfig.from_bits(
                bits,
                act=act,
                shift=int(rng.integers(0, 32)),
                slope=int(rng.choice([32, int(rng.integers(LO, HI + 1))])),
                loss_scale=int(rng.integers(LO, HI + 1)),
                loss_shift=int(rng.integers(0, 32)),
            )
            rows, bias, aux = _operands(rng, 5, 3)
            out, sums = V.vpu(rows, cfg, bias, aux)
            want_out, want_sums = ref_vpu(rows, cfg, bias, aux)
            assert out.tolist() == want_out.tolist(), cfg
            assert sums.tolist() == want_sums.tolist(), cfg


def test_training_pathways_are_consistent():
    """Forward then backward through the model matches the textbook formulas on exact data."""
    rng = np.random.default_rng(5)
    z = rng.integers(-8 * ONE, 8 * ONE, size=(4, 3)) * (1 << FRAC_W)  # Q16.16 accumulator rows
    b = rng.integers(-ONE, ONE, size=3)
    fwd = V.VpuConfig(bias_en=True, act_en=True, act=V.ACT_RELU)
    h, _ = V.vpu(z, fwd, bias=b)
    assert h.tolist() == np.maximum(z // (1 << FRAC_W) + b, 0).tolist()
    dh = rng.integers(-ONE, ONE, size=(4, 3)) * (1 << FRAC_W)
    bwd = V.VpuConfig(deriv_en=True, bgrad_en=True, act=V.ACT_RELU)
    dz, db = V.vpu(dh, bwd, aux=h)
    want = np.where(h > 0, dh // (1 << FRAC_W), 0)
    assert dz.tolist() == want.tolist()
    assert db.tolist() == want.sum(axis=0).tolist()
