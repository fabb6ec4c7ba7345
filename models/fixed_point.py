"""Fixed-point arithmetic exactly as the RTL does it (docs/number-format.md).

All values are numpy integer arrays holding the raw two's-complement codes (int64 so that products
and sums never overflow the host type). Rules, written down once here and in the docs:

* data are signed Q(total-frac).frac; the default Q8.8 comes from rtl/tpu_pkg.sv;
* a product of two data values is exact: 2*total bits, 2*frac fraction bits;
* partial sums wrap modulo 2**acc_bits (two's complement), so accumulation is associative;
* requantization shifts right with round-half-to-even, then saturates to the output width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.hw import const

DATA_W = const("DataW")
FRAC_W = const("FracW")
ACC_W = const("AccW")


@dataclass(frozen=True)
class Fmt:
    """A signed fixed-point format: `bits` in total, `frac` of them after the binary point."""

    bits: int = DATA_W
    frac: int = FRAC_W

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1


Q_DATA = Fmt()


def _ints(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"expected integer codes, got dtype {a.dtype}")
    return a.astype(np.int64)


def saturate(x, bits: int) -> np.ndarray:
    """Clamp integer codes into the signed range of `bits` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(_ints(x), lo, hi)


def wrap(x, bits: int) -> np.ndarray:
    """Reduce integer codes modulo 2**bits into the signed range (what a bits-wide register holds)."""
    a = _ints(x)
    m = 1 << bits
    return ((a + (m >> 1)) & (m - 1)) - (m >> 1)


def round_shift(x, shift: int) -> np.ndarray:
    """x / 2**shift rounded to nearest, ties to even (exact integer arithmetic, any sign)."""
    a = _ints(x)
    if shift == 0:
        return a
    q = a >> shift  # floor
    r = a & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def requantize(acc, shift: int = FRAC_W, out_bits: int = DATA_W) -> np.ndarray:
    """Wide accumulator codes -> data codes: round half to even by `shift` bits, then saturate."""
    return saturate(round_shift(acc, shift), out_bits)


def quantize(x, fmt: Fmt = Q_DATA) -> np.ndarray:
    """Real numbers -> codes of `fmt`, rounding half to even and saturating."""
    scaled = np.asarray(x, dtype=np.float64) * (1 << fmt.frac)
    return saturate(np.rint(scaled).astype(np.int64), fmt.bits)  # np.rint rounds half to even


def to_float(codes, fmt: Fmt = Q_DATA) -> np.ndarray:
    """Codes of `fmt` -> real numbers."""
    return _ints(codes).astype(np.float64) / (1 << fmt.frac)


def mul(a, b) -> np.ndarray:
    """Exact product of data codes (2*frac fraction bits)."""
    return _ints(a) * _ints(b)


def matmul_acc(x, w, acc=None, acc_bits: int = ACC_W) -> np.ndarray:
    """acc + x @ w with exact products and a wrapping acc_bits accumulator, as the array computes it."""
    x, w = _ints(x), _ints(w)
    if x.shape[-1] != w.shape[0]:
        raise ValueError(f"inner dimensions differ: {x.shape} @ {w.shape}")
    total = x @ w
    if acc is not None:
        total = total + _ints(acc)
    return wrap(total, acc_bits)


def random_codes(rng: np.random.Generator, shape, bits: int = DATA_W) -> np.ndarray:
    """Uniform random codes over the whole signed range of `bits` bits, extremes included."""
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=shape, dtype=np.int64)
