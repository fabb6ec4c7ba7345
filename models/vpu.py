"""Golden model of the vector processing unit (rtl/tpu_vpu.sv, docs/vpu.md), bit exact.

The VPU has one lane per array column. Each row of wide codes (AccW, e.g. an accumulator row) flows
through six operations in order (pipelined over VpuLatency registered stages in the RTL, docs/vpu.md); an
operation whose pathway bit is clear passes its value through unchanged:

1. requant  d = saturate(round_shift(in, shift), DataW)                     (always on)
2. bias     d = saturate(d + bias[j], DataW)
3. act      identity: d; relu: max(d, 0); leaky: d >= 0 ? d : saturate(round_shift(d * slope, FracW))
            h = d after this stage (the post-activation value, cached by a forward pass)
4. loss     d = saturate(round_shift((d - aux) * loss_scale, loss_shift), DataW)
5. deriv    g = loss_en ? h : aux; d unchanged when act'(g) = 1, else 0 (relu) or d * slope (leaky)
6. bgrad    sum[j] = wrap(sum[j] + d, AccW) over the rows of one operation; the output row is d

Rounding is always round-half-to-even (models.fixed_point.round_shift) and every intermediate before a
rounding is exact. All functions take and return int64 numpy arrays of raw codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.fixed_point import ACC_W, DATA_W, FRAC_W, round_shift, saturate, wrap
from models.hw import const

ACT_IDENTITY = const("VpuActIdentity")
ACT_RELU = const("VpuActRelu")
ACT_LEAKY = const("VpuActLeaky")
ACT_CODES = 4  # act is a 2-bit field; code 3 is reserved and behaves as identity

PATH_BIAS = 1 << const("VpuPathBias")
PATH_ACT = 1 << const("VpuPathAct")
PATH_LOSS = 1 << const("VpuPathLoss")
PATH_DERIV = 1 << const("VpuPathDeriv")
PATH_BGRAD = 1 << const("VpuPathBgrad")
PATH_BITS = 5  # width of the pathway field

LATENCY = const("VpuLatency")  # in_valid sampled at edge e -> out_valid registered at edge e + LATENCY - 1
SHIFT_MAX = 31  # shift and loss_shift are 5-bit fields

DATA_MIN, DATA_MAX = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
ACC_MIN, ACC_MAX = -(1 << (ACC_W - 1)), (1 << (ACC_W - 1)) - 1


@dataclass(frozen=True)
class VpuConfig:
    """One VPU operation's configuration: pathway enables plus the stage parameters."""

    bias_en: bool = False  # stage 2
    act_en: bool = False  # stage 3
    loss_en: bool = False  # stage 4
    deriv_en: bool = False  # stage 5
    bgrad_en: bool = False  # stage 6
    act: int = ACT_IDENTITY
    shift: int = FRAC_W  # stage 1: right shift (round half to even) then saturate to DataW
    slope: int = 1 << (FRAC_W - 3)  # leaky-ReLU slope (0.125), a DataW code with FracW fraction bits
    loss_scale: int = 1 << FRAC_W  # 1.0; e.g. the quantized 2/B of an MSE loss
    loss_shift: int = FRAC_W  # right shift after (h - y) * loss_scale

    def __post_init__(self) -> None:
        for name in ("shift", "loss_shift"):
            if not 0 <= getattr(self, name) <= SHIFT_MAX:
                raise ValueError(f"{name}={getattr(self, name)} outside 0..{SHIFT_MAX}")
        for name in ("slope", "loss_scale"):
            if not DATA_MIN <= getattr(self, name) <= DATA_MAX:
                raise ValueError(f"{name}={getattr(self, name)} is not a {DATA_W}-bit signed code")
        if not 0 <= self.act < ACT_CODES:
            raise ValueError(f"act={self.act} outside 0..{ACT_CODES - 1}")

    @property
    def bits(self) -> int:
        """The pathway bits as the RTL's path_i field (bit0 bias .. bit4 bgrad)."""
        return (
            (PATH_BIAS if self.bias_en else 0)
            | (PATH_ACT if self.act_en else 0)
            | (PATH_LOSS if self.loss_en else 0)
            | (PATH_DERIV if self.deriv_en else 0)
            | (PATH_BGRAD if self.bgrad_en else 0)
        )

    @classmethod
    def from_bits(cls, bits: int, **params: int) -> VpuConfig:
        """A config from the path_i bits; `params` sets act, shift, slope, loss_scale, loss_shift."""
        if not 0 <= bits < (1 << PATH_BITS):
            raise ValueError(f"pathway bits {bits:#x} outside {PATH_BITS} bits")
        return cls(
            bias_en=bool(bits & PATH_BIAS),
            act_en=bool(bits & PATH_ACT),
            loss_en=bool(bits & PATH_LOSS),
            deriv_en=bool(bits & PATH_DERIV),
            bgrad_en=bool(bits & PATH_BGRAD),
            **params,
        )


def _codes(x, lo: int, hi: int, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{what}: expected integer codes, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < lo or a.max() > hi):
        raise ValueError(f"{what}: codes outside [{lo}, {hi}]")
    return a


def requant(x: np.ndarray, shift: int) -> np.ndarray:
    """Stage 1: saturate(round_shift(x, shift), DataW): x / 2**shift rounded half to even, then clamped."""
    return saturate(round_shift(x, shift), DATA_W)


def bias_add(d: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Stage 2: saturate(d + bias, DataW); the sum is exact before the clamp. bias broadcasts over rows."""
    return saturate(np.asarray(d, dtype=np.int64) + np.asarray(bias, dtype=np.int64), DATA_W)


def _leak(d: np.ndarray, slope: int) -> np.ndarray:
    """saturate(round_shift(d * slope, FracW), DataW): the exact product scaled back to FracW bits."""
    return saturate(round_shift(np.asarray(d, dtype=np.int64) * int(slope), FRAC_W), DATA_W)


def activate(d: np.ndarray, act: int, slope: int) -> np.ndarray:
    """Stage 3: identity d; relu max(d, 0); leaky d if d >= 0 else saturate(round_shift(d*slope, FracW)).

    Code 3 (reserved) behaves as identity, like the RTL.
    """
    d = np.asarray(d, dtype=np.int64)
    if act == ACT_RELU:
        return np.maximum(d, 0)
    if act == ACT_LEAKY:
        return np.where(d >= 0, d, _leak(d, slope))
    return d.copy()


def loss_grad(h: np.ndarray, y: np.ndarray, loss_scale: int, loss_shift: int) -> np.ndarray:
    """Stage 4: saturate(round_shift((h - y) * loss_scale, loss_shift), DataW), h - y and product exact.

    With loss_scale the code of 2/B this is the MSE gradient dH = 2/B (H - Y).
    """
    diff = np.asarray(h, dtype=np.int64) - np.asarray(y, dtype=np.int64)
    return saturate(round_shift(diff * int(loss_scale), loss_shift), DATA_W)


def deriv(d: np.ndarray, g: np.ndarray, act: int, slope: int) -> np.ndarray:
    """Stage 5: d * act'(g), act' taken from the post-activation value g (h > 0 <=> z > 0).

    act'(g) = 1 keeps d. For g <= 0: relu gives 0, leaky gives saturate(round_shift(d*slope, FracW)).
    Identity (and the reserved code 3) always keeps d.
    """
    d = np.asarray(d, dtype=np.int64)
    g = np.asarray(g, dtype=np.int64)
    if act == ACT_RELU:
        return np.where(g > 0, d, 0)
    if act == ACT_LEAKY:
        return np.where(g > 0, d, _leak(d, slope))
    return d.copy()


def bgrad_reduce(d: np.ndarray) -> np.ndarray:
    """Stage 6: per-lane sums of the rows of one operation, wrapping modulo 2**AccW like the register."""
    return wrap(np.asarray(d, dtype=np.int64).sum(axis=0), ACC_W)


def vpu(
    rows_in: np.ndarray,
    cfg: VpuConfig,
    bias: np.ndarray | None = None,
    aux: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run one VPU operation over `rows_in`.

    rows_in: [M, P] AccW codes (accumulator rows, or sign-extended data rows).
    bias: [P] DataW codes, needed when cfg.bias_en.
    aux: [M, P] DataW codes, the targets Y (loss_en) or the cached post-activation H (deriv_en without
    loss_en); needed when either stage uses it.
    Returns ([M, P] DataW output codes, [P] AccW bias-gradient sums). The sums are those of the output
    rows when bgrad_en, else zero (the RTL restarts them on the first row and adds nothing).
    """
    rows = _codes(rows_in, ACC_MIN, ACC_MAX, "rows_in")
    if rows.ndim != 2:
        raise ValueError(f"rows_in must be [M, P], got shape {rows.shape}")
    lanes = rows.shape[1]
    d = requant(rows, cfg.shift)
    if cfg.bias_en:
        if bias is None:
            raise ValueError("bias_en needs bias")
        b = _codes(bias, DATA_MIN, DATA_MAX, "bias")
        if b.shape != (lanes,):
            raise ValueError(f"bias must have shape ({lanes},), got {b.shape}")
        d = bias_add(d, b)
    if cfg.act_en:
        d = activate(d, cfg.act, cfg.slope)
    h = d
    uses_aux = cfg.loss_en or cfg.deriv_en
    a = None
    if uses_aux:
        if aux is None:
            raise ValueError("loss_en / deriv_en need aux (Y or cached H)")
        a = _codes(aux, DATA_MIN, DATA_MAX, "aux")
        if a.shape != rows.shape:
            raise ValueError(f"aux must have shape {rows.shape}, got {a.shape}")
    if cfg.loss_en:
        d = loss_grad(d, a, cfg.loss_scale, cfg.loss_shift)
    if cfg.deriv_en:
        d = deriv(d, h if cfg.loss_en else a, cfg.act, cfg.slope)
    sums = bgrad_reduce(d) if cfg.bgrad_en else np.zeros(lanes, dtype=np.int64)
    return d.astype(np.int64), sums.astype(np.int64)
