"""Bit-exact fixed-point training reference: one SGD step of an MLP, written directly in numpy.

It is built from models.fixed_point and the models.vpu stage functions (never by running a program) and
follows exactly the order of the step compiled by models.mlp (docs/training.md):

    Wq, bq = requant(W_master, 16), requant(b_master, 16)               (Q8.24 -> Q8.8, from the last refresh)
    H_0 = X;  H_l = act_l(sat(requant(H_{l-1} . Wq_l, 8) + bq_l))         forward, Z wrapping in AccW
    dZ'_L = deriv(loss_grad(H_L, Y, loss_scale, 8), H_L)                 dZ' = -lr * dL/dZ, 2^-16 units
    dZ'_{l-1} = deriv(requant(dZ'_l . Wq_l^T, 8), H_{l-1})                 all from the pre-step Wq
    W_l += H_{l-1}^T . dZ'_l ;  b_l += 1.0 . sum_rows(dZ'_l)              wrapping AccW, 2^-24 = Q8.24 units

Padding (pad_to = P): features padded with zeros to multiples of P, the batch to a multiple of P with the
padded rows of dZ'_L forced to zero (the program's mask). The padded step must give the unpadded step's
bits, and every padded weight, bias, and gradient entry must stay exactly zero: `train_step` checks both
and raises AssertionError otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.fixed_point import ACC_W, DATA_W, FRAC_W, Fmt, matmul_acc, round_shift, to_float, wrap
from models.isa import ACT_CODES
from models.mlp import (
    BACK_SHIFT,
    DEFAULT_SLOPE,
    GRAD_FRAC,
    LOSS_SHIFT,
    MASTER_FRAC,
    ONE,
    REFRESH_SHIFT,
    Params,
    effective_lr,
    loss_scale_code,
)
from models.vpu import activate, bias_add, deriv, loss_grad, requant

DATA_MIN, DATA_MAX = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
Q_MASTER = Fmt(ACC_W, MASTER_FRAC)


@dataclass(frozen=True)
class TrainConfig:
    """Network activations and the step's hyper-parameters (lr is quantized through loss_scale)."""

    acts: tuple[str, ...]
    lr: float
    batch: int
    slope: int = DEFAULT_SLOPE

    @property
    def loss_scale(self) -> int:
        return loss_scale_code(self.lr, self.batch)

    @property
    def lr_eff(self) -> float:
        return effective_lr(self.loss_scale, self.batch)

    def act_code(self, layer: int) -> int:
        return ACT_CODES[self.acts[layer - 1]]


@dataclass
class StepOutputs:
    """Everything one step computed (codes), plus where saturation and wrapping happened."""

    h: list[np.ndarray]  # H_0 = X .. H_L (Q8.8)
    dz: list[np.ndarray]  # dZ'_1 .. dZ'_L (2^-16 units, -lr scaled)
    dw: list[np.ndarray]  # master increments H^T . dZ' (2^-24 units), before wrapping
    db: list[np.ndarray]
    saturated: dict[str, int] = field(default_factory=dict)  # stage -> number of saturated elements

    @property
    def outputs(self) -> np.ndarray:
        return self.h[-1]


def _count_sat(raw: np.ndarray) -> int:
    return int(((raw < DATA_MIN) | (raw > DATA_MAX)).sum())


def _core(params: Params, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, valid: int,
          ) -> tuple[Params, StepOutputs]:
    """One step on (possibly padded) arrays; batch rows >= `valid` get a zero dZ'_L."""
    L = len(params)
    sat: dict[str, int] = {}
    wq = [requant(w, REFRESH_SHIFT) for w, _ in params]
    bq = [requant(b, REFRESH_SHIFT) for _, b in params]
    h = [np.asarray(x, dtype=np.int64)]
    for li in range(1, L + 1):
        z = matmul_acc(h[-1], wq[li - 1])
        zr = round_shift(z, FRAC_W)
        sat[f"forward {li} requant"] = _count_sat(zr)
        d = requant(z, FRAC_W)
        sat[f"forward {li} bias"] = _count_sat(d + bq[li - 1])
        h.append(activate(bias_add(d, bq[li - 1]), cfg.act_code(li), cfg.slope))
    ls = cfg.loss_scale
    y = np.asarray(y, dtype=np.int64)
    sat["loss"] = _count_sat(round_shift((h[L] - y) * ls, LOSS_SHIFT)[:valid])
    dz = [None] * (L + 1)
    dz[L] = deriv(loss_grad(h[L], y, ls, LOSS_SHIFT), h[L], cfg.act_code(L), cfg.slope)
    dz[L][valid:] = 0  # batch mask
    for li in range(L, 1, -1):
        acc = matmul_acc(dz[li], wq[li - 1].T)
        sat[f"backward {li}->{li - 1} requant"] = _count_sat(round_shift(acc, BACK_SHIFT))
        dz[li - 1] = deriv(requant(acc, BACK_SHIFT), h[li - 1], cfg.act_code(li - 1), cfg.slope)
    new: Params = []
    dws, dbs = [], []
    wrapped = 0
    for li in range(1, L + 1):
        w, b = (np.asarray(a, dtype=np.int64) for a in params[li - 1])
        dw = h[li - 1].T @ dz[li]  # exact: Q8.8 x 2^-16 = 2^-24 units, the master format
        db = ONE * dz[li].sum(axis=0)  # the row of ones (1.0) times dZ'
        nw, nb = wrap(w + dw, ACC_W), wrap(b + db, ACC_W)
        wrapped += int((nw != w + dw).sum() + (nb != b + db).sum())
        new.append((nw, nb))
        dws.append(dw)
        dbs.append(db)
    sat["master wrap"] = wrapped
    return new, StepOutputs(h, dz[1:], dws, dbs, sat)


def _pad(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, np.int64)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def train_step(
    params: Params, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, pad_to: int = 1
) -> tuple[Params, float, StepOutputs]:
    """One SGD step: returns (new Q8.24 params, MSE loss of the forward pass as a float, StepOutputs).

    params: per layer (W [K, N], b [N]) Q8.24 codes; x [B, n_in], y [B, n_out] Q8.8 codes, B = cfg.batch.
    The loss is (1/B) sum (H_L - Y)^2 over the real rows, from the Q8.8 outputs.
    pad_to > 1 runs the step on arrays padded as the program pads them and checks the padding stays zero.
    """
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    B = cfg.batch
    if x.shape[0] != B or y.shape[0] != B:
        raise ValueError(f"batch of {x.shape[0]} / {y.shape[0]} rows, config says {B}")
    if len(cfg.acts) != len(params):
        raise ValueError("one activation per layer")
    new, out = _core(params, x, y, cfg, B)
    if pad_to > 1:
        p = pad_to
        up = lambda n: -(-n // p) * p  # noqa: E731
        pp = [(_pad(w, (up(w.shape[0]), up(w.shape[1]))), _pad(b, (up(b.shape[0]),))) for w, b in params]
        newp, outp = _core(pp, _pad(x, (up(B), up(x.shape[1]))), _pad(y, (up(B), up(y.shape[1]))), cfg, B)
        for li, ((w, b), (wp, bp)) in enumerate(zip(new, newp, strict=True), start=1):
            K, N = w.shape
            assert np.array_equal(wp[:K, :N], w) and np.array_equal(bp[:N], b), f"layer {li}: padded != plain"
            assert not wp[K:].any() and not wp[:, N:].any() and not bp[N:].any(), f"layer {li}: padding moved"
        for li in range(1, len(params) + 1):
            n = new[li - 1][1].shape[0]
            assert not outp.dz[li - 1][B:].any() and not outp.dz[li - 1][:, n:].any(), f"dZ'{li} padding"
    loss = float(((to_float(out.h[-1]) - to_float(y)) ** 2).sum() / B)
    return new, loss, out


def forward(params: Params, x: np.ndarray, acts: tuple[str, ...] | list[str], slope: int = DEFAULT_SLOPE,
            ) -> np.ndarray:
    """Inference: the Q8.8 outputs H_L for inputs x, from the Q8.8 copies of the masters."""
    h = np.asarray(x, dtype=np.int64)
    for (w, b), act in zip(params, acts, strict=True):
        z = matmul_acc(h, requant(w, REFRESH_SHIFT))
        h = activate(bias_add(requant(z, FRAC_W), requant(b, REFRESH_SHIFT)), ACT_CODES[act], slope)
    return h


def init_params(sizes: list[int], rng: np.random.Generator, scale: float = 1.0,
                q88: bool = True) -> Params:
    """Seeded He-uniform weights (bound scale * sqrt(6 / fan_in)), zero biases, as Q8.24 codes.

    q88: round the weights to Q8.8 values (then the array's copy equals the master exactly).
    """
    params: Params = []
    for k, n in zip(sizes[:-1], sizes[1:], strict=True):
        bound = scale * np.sqrt(6.0 / k)
        w = rng.uniform(-bound, bound, size=(k, n))
        frac = FRAC_W if q88 else MASTER_FRAC
        codes = np.rint(w * (1 << frac)).astype(np.int64) << (MASTER_FRAC - frac)
        params.append((codes, np.zeros(n, np.int64)))
    return params


def params_to_float(params: Params) -> list[tuple[np.ndarray, np.ndarray]]:
    """Master codes -> real numbers."""
    return [(to_float(w, Q_MASTER), to_float(b, Q_MASTER)) for w, b in params]


def grads_from_step(old: Params, new: Params, lr_eff: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dequantized gradients dL/dW, dL/db implied by a step: (master delta) / -lr_eff (no wrap assumed)."""
    return [((to_float(nw - ow, Q_MASTER)) / -lr_eff, to_float(nb - ob, Q_MASTER) / -lr_eff)
            for (ow, ob), (nw, nb) in zip(old, new, strict=True)]


def train_epochs(params: Params, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, epochs: int,
                 rng: np.random.Generator, eval_fn=None) -> tuple[Params, list]:
    """Plain SGD over shuffled full batches (models.datasets.batches) for `epochs` epochs.

    Returns (params, history): history[e] = eval_fn(params) after epoch e (None without eval_fn).
    """
    from models.datasets import batches

    history = []
    for _ in range(epochs):
        for xb, yb in batches(x, y, cfg.batch, rng):
            params, _, _ = train_step(params, xb, yb, cfg)
        history.append(eval_fn(params) if eval_fn else None)
    return params, history


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Classification accuracy: argmax of the outputs (one output: > 0.5) against integer labels."""
    out = to_float(outputs)
    pred = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
    return float((pred == np.asarray(labels)).mean())


__all__ = [
    "GRAD_FRAC", "MASTER_FRAC", "StepOutputs", "TrainConfig", "accuracy", "forward", "grads_from_step",
    "init_params", "params_to_float", "train_epochs", "train_step",
]
