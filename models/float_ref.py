"""Float32 reference of the same MLP: forward, MSE loss, backward, SGD; plus the error bound that the
fixed-point gradients must meet against it (models/tests/test_float_ref.py).

Network: Z_l = H_{l-1} W_l + b_l, H_l = act_l(Z_l) (identity, relu, leaky with slope s), loss
L = (1/B) sum (H_L - Y)^2, so dL/dH_L = 2/B (H_L - Y); dZ = dH * act'(Z) with act'(z) = 1 for z > 0 and
0 (relu) or s (leaky) for z <= 0 (the VPU's rule, read from the post-activation: h > 0 <=> z > 0);
dW_l = H_{l-1}^T dZ_l, db_l = sum_rows dZ_l, dH_{l-1} = dZ_l W_l^T; SGD W -= lr dW, b -= lr db.
"""

from __future__ import annotations

import numpy as np

from models.fixed_point import FRAC_W
from models.mlp import GRAD_FRAC

FParams = list[tuple[np.ndarray, np.ndarray]]  # per layer (W [K, N], b [N]) float


def _act(z: np.ndarray, act: str, slope: float) -> np.ndarray:
    if act == "relu":
        return np.maximum(z, 0)
    if act == "leaky":
        return np.where(z > 0, z, z * z.dtype.type(slope))
    return z


def _dact(z: np.ndarray, act: str, slope: float) -> np.ndarray:
    if act == "relu":
        return (z > 0).astype(z.dtype)
    if act == "leaky":
        return np.where(z > 0, z.dtype.type(1), z.dtype.type(slope))
    return np.ones_like(z)


def forward(params: FParams, x: np.ndarray, acts: list[str] | tuple[str, ...], slope: float,
            dtype: type = np.float32) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Returns (H_0 = X .. H_L, Z_1 .. Z_L), computed in `dtype` (float32 unless a test asks for more)."""
    h = [np.asarray(x, dtype=dtype)]
    zs = []
    for (w, b), act in zip(params, acts, strict=True):
        z = h[-1] @ np.asarray(w, dtype) + np.asarray(b, dtype)
        zs.append(z)
        h.append(_act(z, act, slope))
    return h, zs


def gradients(params: FParams, x: np.ndarray, y: np.ndarray, acts: list[str] | tuple[str, ...], slope: float,
              dtype: type = np.float32) -> tuple[FParams, float, list[np.ndarray], list[np.ndarray]]:
    """(per layer (dL/dW, dL/db), loss, H list, dZ list) for the MSE loss, in `dtype`."""
    h, zs = forward(params, x, acts, slope, dtype)
    B = h[0].shape[0]
    y = np.asarray(y, dtype)
    loss = float(((h[-1] - y) ** 2).sum() / B)
    dh = dtype(2.0 / B) * (h[-1] - y)
    grads: FParams = [None] * len(params)  # type: ignore[list-item]
    dzs: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
    for li in range(len(params), 0, -1):
        dz = dh * _dact(zs[li - 1], acts[li - 1], slope)
        dzs[li - 1] = dz
        grads[li - 1] = (h[li - 1].T @ dz, dz.sum(axis=0))
        dh = dz @ np.asarray(params[li - 1][0], dtype).T
    return grads, loss, h, dzs


def sgd_step(params: FParams, x: np.ndarray, y: np.ndarray, acts: list[str] | tuple[str, ...], slope: float,
             lr: float) -> tuple[FParams, float]:
    """One float SGD step: (new params, loss before the step)."""
    grads, loss, _, _ = gradients(params, x, y, acts, slope)
    new = [(np.asarray(w, np.float32) - np.float32(lr) * dw, np.asarray(b, np.float32) - np.float32(lr) * db)
           for (w, b), (dw, db) in zip(params, grads, strict=True)]
    return new, loss


def predict(params: FParams, x: np.ndarray, acts: list[str] | tuple[str, ...], slope: float) -> np.ndarray:
    return forward(params, x, acts, slope)[0][-1]


def fixed_grad_bound(params: FParams, x: np.ndarray, y: np.ndarray, acts: list[str] | tuple[str, ...],
                     slope: float, lr: float, margin: float = 1e-6) -> FParams:
    """Element-wise bound on |dW_fixed - dW_float| (and db) for one step from the same Q8.8 weights.

    The fixed-point step differs from exact arithmetic only at its roundings, each at most half an LSB:
    d = 2^-(FracW+1) for every Q8.8 result (forward requant, leaky product), g = 2^-(GradFrac+1) for every
    gradient result (loss stage, leaky derivative, backward requant), in -lr-scaled units. Propagating
    worst cases (no saturation assumed; the test checks that none happened):

      eZ_l = |eH_{l-1}| |W_l| + d,   eH_l = eZ_l + d (leaky) or eZ_l,   eH_0 = 0
      edH'_L = lr 2/B eH_L + g;   edH'_{l-1} = edZ'_l |W_l|^T + g
      edZ'_l = edH'_l + g + [|Z_l| <= eZ_l] (1 - a) (|dH'_l| + edH'_l)    a = act' on the other side
      edW'_l = |H_{l-1}|^T edZ'_l + eH_{l-1}^T (|dZ'_l| + edZ'_l),  edb'_l = sum_rows edZ'_l

    The bracket is the only non-smooth term: when Z is within its error of 0, the two models may take
    different branches of act'. Bounds are returned in dL/dW units (divided by lr), plus `margin` for the
    float32 rounding of the float model itself.
    """
    d = 2.0 ** -(FRAC_W + 1)
    g = 2.0 ** -(GRAD_FRAC + 1)
    h, zs = forward(params, x, acts, slope, np.float64)
    B = h[0].shape[0]
    L = len(params)
    eh = [np.zeros_like(h[0])]
    ez = []
    for li in range(1, L + 1):
        w = np.abs(np.asarray(params[li - 1][0], np.float64))
        e = eh[-1] @ w + d
        ez.append(e)
        eh.append(e + d if acts[li - 1] == "leaky" else e)
    dh = -lr * 2.0 / B * (h[-1] - np.asarray(y, np.float64))
    edh = lr * 2.0 / B * eh[-1] + g
    out: FParams = [None] * L  # type: ignore[list-item]
    for li in range(L, 0, -1):
        act = acts[li - 1]
        z = zs[li - 1]
        other = {"relu": 0.0, "leaky": slope}.get(act, 1.0)
        da = np.where(z > 0, 1.0, other)
        dz = dh * da
        ambiguous = np.abs(z) <= ez[li - 1]
        edz = edh + (g if act == "leaky" else 0.0) + ambiguous * (1.0 - other) * (np.abs(dh) + edh)
        edw = np.abs(h[li - 1]).T @ edz + eh[li - 1].T @ (np.abs(dz) + edz)
        edb = edz.sum(axis=0)
        out[li - 1] = (edw / lr + margin, edb / lr + margin)
        w = np.asarray(params[li - 1][0], np.float64)
        dh = dz @ w.T
        edh = edz @ np.abs(w).T + g
    return out
