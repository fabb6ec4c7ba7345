"""The compiled training step on the ISA simulator equals the numpy training reference, bit for bit.

Also: padding stays exactly zero, saturation happens in the same places in both, XOR and the digits train.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets import batches, digits, xor
from models.fixed_point import quantize, random_codes
from models.isa_sim import run
from models.mlp import CompiledMlp, compile_mlp
from models.train_ref import TrainConfig, accuracy, forward, init_params, train_epochs, train_step

SEED = 7311


def _rng(*key: int) -> np.random.Generator:
    print(f"seed {[SEED, *key]}")
    return np.random.default_rng([SEED, *key])


def _random_params(rng, sizes):
    """Q8.24 masters with sub-Q8.8 bits set (the refresh must round them) and random biases."""
    params = init_params(sizes, rng, q88=False)
    return [(w, random_codes(rng, w.shape[1], 23)) for w, _ in params]


def _assert_same(m: CompiledMlp, st, params, out, step: int) -> None:
    for li, ((w, b), (w2, b2)) in enumerate(zip(params, m.read_params(st), strict=True), start=1):
        np.testing.assert_array_equal(w2, w, err_msg=f"step {step}: W{li} master")
        np.testing.assert_array_equal(b2, b, err_msg=f"step {step}: b{li} master")
    for li in range(1, len(params) + 1):
        np.testing.assert_array_equal(m.read_activations(st, li), out.h[li], err_msg=f"step {step}: H{li}")
        np.testing.assert_array_equal(m.read_grad(st, li), out.dz[li - 1], err_msg=f"step {step}: dZ'{li}")
    # padded rows / columns of every master stayed exactly zero on the machine too
    padded = m.read_params(st, padded=True)
    for li, ((wp, bp), (w, _)) in enumerate(zip(padded, params, strict=True), start=1):
        K, N = w.shape
        assert not wp[K:].any() and not wp[:, N:].any() and not bp[N:].any(), f"step {step}: W{li} padding"


CASES = [  # sizes, acts, batch, P, lr
    ([5, 3, 2], ["leaky", "identity"], 6, 2, 0.3),
    ([3, 5], ["leaky"], 3, 2, 0.2),
    ([7, 9, 5, 3], ["relu", "leaky", "leaky"], 10, 4, 0.3),
    ([6, 5, 3], ["leaky", "relu"], 4, 4, 0.5),
    ([13, 6, 9, 2], ["leaky", "identity", "leaky"], 9, 8, 0.2),
    ([2, 2, 1], ["leaky", "identity"], 4, 8, 0.25),
    ([10, 11, 3], ["identity", "leaky"], 17, 8, 0.4),
]


@pytest.mark.parametrize("sizes, acts, B, P, lr", CASES)
def test_isa_sim_step_equals_reference(sizes, acts, B, P, lr):
    rng = _rng(B, P, *sizes)
    m = compile_mlp(sizes, acts, batch=B, lr=lr, P=P, mode="train")
    cfg = TrainConfig(tuple(acts), lr, B)
    params = _random_params(rng, sizes)
    st = m.new_state()
    m.place_params(st, params)
    for step in range(3):  # several steps, a new batch each time; the machine keeps its masters
        x = rng.integers(-400, 400, (B, sizes[0]))
        y = rng.integers(-400, 400, (B, sizes[-1]))
        m.place_batch(st, x, y)
        retired = st.retired
        res = run(m.words, st)
        assert res.state.halted and res.state.retired - retired == len(m.words)
        params, _, out = train_step(params, x, y, cfg, pad_to=P)
        _assert_same(m, st, params, out, step)
        assert any((dw != 0).any() for dw in out.dw), "the step must change the weights"


def test_loop_program_runs_several_steps_on_one_batch():
    sizes, acts, B, P, lr = [6, 5, 3], ["leaky", "identity"], 5, 4, 0.3
    rng = _rng(99)
    params = _random_params(rng, sizes)
    x, y = rng.integers(-300, 300, (B, 6)), rng.integers(-300, 300, (B, 3))
    m = compile_mlp(sizes, acts, batch=B, lr=lr, P=P, steps=4)
    st = m.new_state()
    m.place_params(st, params)
    m.place_batch(st, x, y)
    run(m.words, st)
    cfg = TrainConfig(tuple(acts), lr, B)
    for _ in range(4):
        params, _, out = train_step(params, x, y, cfg)
    _assert_same(m, st, params, out, 4)


def test_reference_catches_a_wrong_program():
    """A one-word change of the program (loss_scale off by one LSB) must break the comparison."""
    sizes, acts, B, P, lr = [5, 4, 3], ["leaky", "identity"], 4, 2, 0.3
    rng = _rng(5)
    params = _random_params(rng, sizes)
    x, y = rng.integers(-300, 300, (B, 5)), rng.integers(-300, 300, (B, 3))
    m = compile_mlp(sizes, acts, batch=B, lr=lr, P=P)
    bad = compile_mlp(sizes, acts, batch=B, lr=-(m.loss_scale - 1) * B / 2 / 65536, P=P)
    assert bad.loss_scale == m.loss_scale - 1
    assert sum(a != b for a, b in zip(m.words, bad.words, strict=True)) == 1
    st = m.new_state()
    m.place_params(st, params)
    m.place_batch(st, x, y)
    run(bad.words, st)
    new, _, _ = train_step(params, x, y, TrainConfig(tuple(acts), lr, B))
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(new, m.read_params(st), strict=True))


def test_batch_padding_rows_are_masked():
    """B = 5 on P = 4: three padded rows with non-zero biases must not change any master."""
    sizes, acts, P = [3, 4, 2], ["leaky", "identity"], 4
    rng = _rng(55)
    params = [(w, np.full(w.shape[1], 3 << 24)) for w, _ in init_params(sizes, rng)]  # biases 3.0
    x, y = rng.integers(0, 256, (5, 3)), rng.integers(0, 256, (5, 2))
    cfg = TrainConfig(tuple(acts), 0.2, 5)
    m = compile_mlp(sizes, acts, batch=5, lr=0.2, P=P)
    st = m.new_state()
    m.place_params(st, params)
    m.place_batch(st, x, y)
    run(m.words, st)
    ref, _, out = train_step(params, x, y, cfg, pad_to=P)
    _assert_same(m, st, ref, out, 0)
    # and the padded reference itself (pad_to) agreed with the unpadded one inside train_step; the mask
    # matters: without it the padded rows' gradients (H = 3.0 vs Y = 0) would move the biases.
    assert (m.read_grad(st, 2) != 0).any()


def test_saturation_happens_in_the_same_places():
    """A huge lr saturates the loss-stage gradient (and large weights the forward pass): still bit exact."""
    sizes, acts, B, P = [6, 5, 3], ["leaky", "leaky"], 4, 2
    rng = _rng(3)
    params = [(w * 40, b) for w, b in _random_params(rng, sizes)]  # |W| up to ~40: forward saturates too
    x = rng.integers(-1000, 1000, (B, 6))
    y = quantize(rng.uniform(-100, 100, (B, 3)))  # large targets
    lr = 0.9  # |lr * 2/B| = 0.45: loss_scale -29491, dH' saturates at +-0.5
    cfg = TrainConfig(tuple(acts), lr, B)
    m = compile_mlp(sizes, acts, batch=B, lr=lr, P=P)
    st = m.new_state()
    m.place_params(st, params)
    seen: dict[str, int] = {}
    for step in range(3):
        m.place_batch(st, x, y)
        run(m.words, st)
        params, _, out = train_step(params, x, y, cfg)
        _assert_same(m, st, params, out, step)
        for k, v in out.saturated.items():
            seen[k] = seen.get(k, 0) + v
    print("saturated elements per stage over 3 steps:", seen)
    assert seen["loss"] > 0, "the test must drive the loss stage into saturation"
    assert seen["forward 1 requant"] + seen["forward 2 requant"] + seen["forward 1 bias"] > 0
    assert seen["backward 2->1 requant"] > 0


XOR_SEED, XOR_LR, XOR_STEPS = 2, 0.25, 150  # documented in docs/training.md


def test_xor_trains_to_100_percent_in_reference_and_isa_sim():
    ds = xor()
    acts = ["leaky", "identity"]
    params0 = init_params([2, 2, 1], np.random.default_rng(XOR_SEED))
    cfg = TrainConfig(tuple(acts), XOR_LR, 4)
    params = params0
    first = None
    for s in range(XOR_STEPS):
        params, loss, _ = train_step(params, ds.x_train, ds.y_train, cfg)
        if first is None and accuracy(forward(params, ds.x_train, acts), ds.labels_train) == 1.0:
            first = s + 1
    print(f"XOR: 100% first after {first} steps, loss after {XOR_STEPS} steps {loss:.4f}")
    assert accuracy(forward(params, ds.x_train, acts), ds.labels_train) == 1.0
    # the same XOR_STEPS steps as ONE program (LOOP) on the ISA simulator, P = 2
    m = compile_mlp([2, 2, 1], acts, batch=4, lr=XOR_LR, P=2, steps=XOR_STEPS)
    st = m.new_state()
    m.place_params(st, params0)
    m.place_batch(st, ds.x_train, ds.y_train)
    run(m.words, st)
    for (w, b), (w2, b2) in zip(params, m.read_params(st), strict=True):
        np.testing.assert_array_equal(w2, w)
        np.testing.assert_array_equal(b2, b)
    infer = compile_mlp([2, 2, 1], acts, batch=4, P=2, mode="infer")
    st2 = infer.new_state()
    infer.place_params(st2, m.read_params(st))
    infer.place_batch(st2, ds.x_train)
    run(infer.words, st2)
    assert accuracy(infer.read_outputs(st2), ds.labels_train) == 1.0


# Digits configuration, documented in docs/training.md.
DIGITS_SIZES, DIGITS_ACTS = [64, 32, 10], ["leaky", "identity"]
DIGITS_B, DIGITS_LR, DIGITS_SCALE, DIGITS_EPOCHS = 32, 0.15, 0.5, 4


def test_digits_reference_reaches_90_percent_held_out():
    ds = digits(seed=0)
    params = init_params(DIGITS_SIZES, np.random.default_rng(0), scale=DIGITS_SCALE)
    cfg = TrainConfig(tuple(DIGITS_ACTS), DIGITS_LR, DIGITS_B)

    def test_acc(p):
        return accuracy(forward(p, ds.x_test, DIGITS_ACTS), ds.labels_test)

    params, hist = train_epochs(params, ds.x_train, ds.y_train, cfg, DIGITS_EPOCHS, np.random.default_rng(1),
                                test_acc)
    steps = DIGITS_EPOCHS * (len(ds.x_train) // DIGITS_B)
    print(f"digits {DIGITS_SIZES}: held-out accuracy per epoch {hist} ({steps} steps)")
    assert hist[-1] >= 0.90


@pytest.mark.parametrize("P", [4, 8])
def test_digits_steps_on_isa_sim_equal_reference(P):
    ds = digits(seed=0)
    params = init_params(DIGITS_SIZES, np.random.default_rng(0), scale=DIGITS_SCALE)
    cfg = TrainConfig(tuple(DIGITS_ACTS), DIGITS_LR, DIGITS_B)
    m = compile_mlp(DIGITS_SIZES, DIGITS_ACTS, batch=DIGITS_B, lr=DIGITS_LR, P=P)
    st = m.new_state()
    m.place_params(st, params)
    for step, (xb, yb) in enumerate(batches(ds.x_train, ds.y_train, DIGITS_B, np.random.default_rng(1))):
        if step == 3:
            break
        m.place_batch(st, xb, yb)
        run(m.words, st)
        params, _, out = train_step(params, xb, yb, cfg, pad_to=P)
        _assert_same(m, st, params, out, step)
