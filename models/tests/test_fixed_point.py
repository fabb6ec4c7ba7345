"""Fixed-point corner cases, each against an independent computation (Python's exact Fractions)."""

from fractions import Fraction

import numpy as np
import pytest

from models import fixed_point as fp
from models.hw import const


def rne(value: Fraction) -> int:
    """Round half to even, from first principles."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        return floor + 1
    return floor


def test_defaults_come_from_the_package():
    assert (fp.DATA_W, fp.FRAC_W, fp.ACC_W) == (const("DataW"), const("FracW"), const("AccW"))
    assert fp.Q_DATA.min == -(1 << 15) and fp.Q_DATA.max == (1 << 15) - 1


@pytest.mark.parametrize(
    "acc, expected",
    [
        (0x0180, 2),    # +1.5  -> 2 (tie, to even)
        (0x0280, 2),    # +2.5  -> 2 (tie, to even)
        (-0x0180, -2),  # -1.5  -> -2
        (-0x0080, 0),   # -0.5  -> 0
        (-0x0280, -2),  # -2.5  -> -2
        (0x0181, 2),    # just above a tie rounds up
        (0x017F, 1),    # just below a tie rounds down
        (-0x0181, -2),
        (-0x017F, -1),
    ],
)
def test_round_half_to_even_ties_and_neighbours(acc, expected):
    assert int(fp.round_shift(acc, 8)) == expected


def test_round_shift_matches_exact_rational_rounding():
    rng = np.random.default_rng(1)
    values = rng.integers(-(1 << 40), 1 << 40, size=2000)
    for shift in (1, 4, 8, 13):
        got = fp.round_shift(values, shift)
        want = [rne(Fraction(int(v), 1 << shift)) for v in values]
        assert got.tolist() == want


@pytest.mark.parametrize(
    "acc, expected",
    [
        ((1 << 31) - 1, (1 << 15) - 1),  # positive saturation
        (-(1 << 31), -(1 << 15)),  # negative saturation
        ((1 << 23) - 1, (1 << 15) - 1),  # rounds up past max -> saturates
        (((1 << 15) - 1) << 8, (1 << 15) - 1),  # exactly max
        (-(1 << 15) << 8, -(1 << 15)),  # exactly min
        ((-(1 << 15) << 8) - 0x80, -(1 << 15)),  # tie below min -> saturates
    ],
)
def test_requantize_saturates_both_ways(acc, expected):
    assert int(fp.requantize(acc)) == expected


def test_wrap_is_twos_complement():
    assert int(fp.wrap((1 << 31), 32)) == -(1 << 31)
    assert int(fp.wrap(-(1 << 31) - 1, 32)) == (1 << 31) - 1
    assert int(fp.wrap(5 + (7 << 32), 32)) == 5
    assert fp.wrap(np.arange(-3, 4), 32).tolist() == list(range(-3, 4))


def test_products_are_exact_at_the_extremes():
    lo, hi = fp.Q_DATA.min, fp.Q_DATA.max
    assert int(fp.mul(lo, lo)) == 1 << 30
    assert int(fp.mul(lo, hi)) == -(1 << 30) + (1 << 15)
    assert int(fp.mul(hi, hi)) == ((1 << 15) - 1) ** 2


def test_matmul_acc_wraps_and_tiles_exactly():
    rng = np.random.default_rng(2)
    x = fp.random_codes(rng, (5, 37))
    w = fp.random_codes(rng, (37, 6))
    exact = [[sum(int(x[i, k]) * int(w[k, j]) for k in range(37)) for j in range(6)] for i in range(5)]
    want = [[((v + (1 << 31)) % (1 << 32)) - (1 << 31) for v in row] for row in exact]
    assert fp.matmul_acc(x, w).tolist() == want
    # Tiling over K with accumulation gives the same bits, because wrapping addition is associative.
    acc = None
    for k0 in range(0, 37, 4):
        acc = fp.matmul_acc(x[:, k0 : k0 + 4], w[k0 : k0 + 4], acc)
    assert acc.tolist() == want


def test_quantize_round_trip_and_saturation():
    assert fp.quantize([0.5, -0.5, 1 / 512, 3 / 512, 200.0, -200.0]).tolist() == [
        128, -128, 0, 2, (1 << 15) - 1, -(1 << 15)
    ]
    codes = np.arange(-(1 << 15), 1 << 15, 257)
    assert fp.quantize(fp.to_float(codes)).tolist() == codes.tolist()


def test_float_inputs_are_rejected_where_codes_are_expected():
    with pytest.raises(TypeError):
        fp.requantize(np.array([1.5]))
