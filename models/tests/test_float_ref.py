"""The float reference is right (finite differences), and the fixed-point step computes its gradients.

The fixed-point gradients implied by one step (master delta / -lr_eff) must agree with the float
gradients from the same starting weights within `float_ref.fixed_grad_bound`: a worst-case propagation of
every rounding of the fixed-point step (half an LSB each: 2^-9 for Q8.8 results, 2^-17 for -lr-scaled
gradients), including the act' branch that may differ when Z is within its error of zero. The bound is
tight enough that a wrong sign, a missing act' factor or a factor-2 error of the gradient fails it.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import float_ref
from models.datasets import digits
from models.fixed_point import quantize, to_float
from models.train_ref import (
    TrainConfig,
    accuracy,
    forward,
    grads_from_step,
    init_params,
    params_to_float,
    train_epochs,
    train_step,
)

SEED = 4242
SLOPE = 0.125


def _rng(*key: int) -> np.random.Generator:
    print(f"seed {[SEED, *key]}")
    return np.random.default_rng([SEED, *key])


@pytest.mark.parametrize("acts", [["leaky", "identity"], ["relu", "leaky", "identity"]])
def test_float_gradients_match_finite_differences(acts):
    rng = _rng(len(acts))
    sizes = [4, 6, 5, 3][: len(acts) + 1]
    shapes = zip(sizes[:-1], sizes[1:], strict=True)
    params = [(rng.normal(0, 0.7, (k, n)), rng.normal(0, 0.3, n)) for k, n in shapes]
    x, y = rng.normal(0, 1, (7, sizes[0])), rng.normal(0, 1, (7, sizes[-1]))
    grads, _, _, _ = float_ref.gradients(params, x, y, acts, SLOPE, np.float64)
    eps = 1e-6
    for li, (w, b) in enumerate(params):
        for arr, g in ((w, grads[li][0]), (b, grads[li][1])):
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                up = float_ref.gradients(params, x, y, acts, SLOPE, np.float64)[1]
                arr[idx] = old - eps
                down = float_ref.gradients(params, x, y, acts, SLOPE, np.float64)[1]
                arr[idx] = old
                assert abs((up - down) / (2 * eps) - g[idx]) < 1e-5, f"layer {li} {idx}"


def test_float_sgd_step_descends():
    rng = _rng(1)
    params = [(rng.normal(0, 0.5, (5, 4)), np.zeros(4)), (rng.normal(0, 0.5, (4, 2)), np.zeros(2))]
    x, y = rng.normal(0, 1, (8, 5)), rng.normal(0, 1, (8, 2))
    new, loss0 = float_ref.sgd_step(params, x, y, ["leaky", "identity"], SLOPE, 0.01)
    _, loss1 = float_ref.sgd_step(new, x, y, ["leaky", "identity"], SLOPE, 0.01)
    assert loss1 < loss0


CASES = [  # sizes, acts, batch, lr
    ([64, 32, 10], ["leaky", "identity"], 32, 0.15),
    ([5, 7, 3], ["relu", "leaky"], 6, 0.05),
    ([3, 4, 5, 2], ["leaky", "leaky", "identity"], 8, 0.2),
    ([2, 2, 1], ["leaky", "identity"], 4, 0.25),
]


def _setup(sizes, acts, B, lr, seed):
    rng = _rng(seed, B, *sizes)
    params = init_params(sizes, rng)  # Q8.8-valued masters: the float model sees the same weights
    params = [(w, rng.integers(-64, 64, w.shape[1]) << 16) for w, _ in params]  # Q8.8 biases
    x = quantize(rng.uniform(0, 1, (B, sizes[0])))
    y = quantize(np.eye(sizes[-1])[rng.integers(0, sizes[-1], B)])
    return params, x, y, TrainConfig(tuple(acts), lr, B)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sizes, acts, B, lr", CASES)
def test_fixed_point_gradients_agree_with_float_within_bound(sizes, acts, B, lr, seed):
    params, x, y, cfg = _setup(sizes, acts, B, lr, seed)
    new, loss, out = train_step(params, x, y, cfg)
    assert sum(out.saturated.values()) == 0, "the bound assumes no saturation"
    fixed = grads_from_step(params, new, cfg.lr_eff)
    fp = params_to_float(params)
    xf, yf = to_float(x), to_float(y)
    flt, floss, _, _ = float_ref.gradients(fp, xf, yf, acts, SLOPE)
    bound = float_ref.fixed_grad_bound(fp, xf, yf, acts, SLOPE, cfg.lr_eff)
    assert abs(loss - floss) < 0.05 * floss + 1e-3
    worst = 0.0
    for li, ((dw, db), (fw, fb), (bw, bb)) in enumerate(zip(fixed, flt, bound, strict=True), start=1):
        for name, a, f, b in (("dW", dw, fw, bw), ("db", db, fb, bb)):
            err = np.abs(a - f)
            worst = max(worst, float((err / b).max()))
            bad = np.argwhere(err > b)
            assert bad.size == 0, f"{name}{li} {bad[0]}: fixed {a[tuple(bad[0])]} float {f[tuple(bad[0])]}"
    print(f"worst error / bound = {worst:.3f}")


@pytest.mark.parametrize("sizes, acts, B, lr", CASES[:3])
def test_bound_rejects_wrong_gradients(sizes, acts, B, lr):
    """The bound is a real check: plausible bugs in a gradient (sign, a factor of 2, act' dropped) fail it."""
    params, x, y, cfg = _setup(sizes, acts, B, lr, 0)
    fp = params_to_float(params)
    xf, yf = to_float(x), to_float(y)
    flt, _, h, dz = float_ref.gradients(fp, xf, yf, acts, SLOPE)
    bound = float_ref.fixed_grad_bound(fp, xf, yf, acts, SLOPE, cfg.lr_eff)
    new, _, _ = train_step(params, x, y, cfg)
    fixed = grads_from_step(params, new, cfg.lr_eff)

    def fails(li, dw):
        return bool((np.abs(dw - flt[li][0]) > bound[li][0]).any())

    for li in range(len(sizes) - 1):
        assert not fails(li, fixed[li][0])
        assert fails(li, -fixed[li][0]), f"sign error of dW{li + 1} not caught"
        assert fails(li, 2 * fixed[li][0]), f"factor 2 in dW{li + 1} not caught"
    # act' dropped in the hidden layer: dZ1 = dH1 instead of dH1 * act'(Z1)
    dh1 = dz[1] @ fp[1][0].T
    assert fails(0, h[0].T @ dh1), "missing act' not caught"


def test_fixed_point_training_tracks_float_training_on_digits():
    """Same data order, same start: held-out accuracy of fixed and float SGD stays within 2 points."""
    ds = digits(seed=0)
    acts = ["leaky", "identity"]
    params = init_params([64, 32, 10], np.random.default_rng(0), scale=0.5)
    cfg = TrainConfig(tuple(acts), 0.15, 32)
    fixed, hist = train_epochs(params, ds.x_train, ds.y_train, cfg, 3, np.random.default_rng(1),
                               lambda p: accuracy(forward(p, ds.x_test, acts), ds.labels_test))
    fp = params_to_float(params)
    rng = np.random.default_rng(1)
    from models.datasets import batches

    fhist = []
    for _ in range(3):
        for xb, yb in batches(ds.x_train, ds.y_train, 32, rng):
            fp, _ = float_ref.sgd_step(fp, to_float(xb), to_float(yb), acts, SLOPE, cfg.lr_eff)
        pred = float_ref.predict(fp, to_float(ds.x_test), acts, SLOPE).argmax(axis=1)
        fhist.append(float((pred == ds.labels_test).mean()))
    print("fixed", hist, "float", fhist)
    assert all(abs(a - b) <= 0.02 for a, b in zip(hist, fhist, strict=True))
