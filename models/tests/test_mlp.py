"""The MLP compiler: memory fit, layout round trips, inference programs, listing, error reporting."""

from __future__ import annotations

import numpy as np
import pytest

from models.asm import assemble
from models.fixed_point import random_codes
from models.isa import IMEM_DEPTH, decode
from models.isa_sim import run
from models.mlp import compile_mlp, estimate_cycles, loss_scale_code
from models.train_ref import forward, init_params

SEED = 20240611
DIGITS = [64, 32, 10]


def _rng(*key: int) -> np.random.Generator:
    print(f"seed {[SEED, *key]}")
    return np.random.default_rng([SEED, *key])


@pytest.mark.parametrize("P", [4, 8])
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_digits_network_fits_default_depths(P, mode):
    m = compile_mlp(DIGITS, ["leaky", "identity"], batch=32, lr=0.15, P=P, mode=mode)
    assert len(m.words) <= IMEM_DEPTH
    st = m.new_state()  # default depths; raises if the layout does not fit
    lay = m.layout
    assert lay.ub_words <= st.ub.shape[0] and lay.wm_words <= st.wm.shape[0]
    assert lay.acc_words <= st.acc.shape[0]
    assert m.words[-1] == assemble("HALT")[0]
    cycles = estimate_cycles(m.words, P)
    print(f"P={P} {mode}: {len(m.words)} instructions, ~{cycles} cycles\n{lay.describe()}")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(layers=DIGITS, batch=32, P=2), "UB needs"),
        (dict(layers=DIGITS, batch=32, P=2, ub_depth=1 << 14, wm_depth=1 << 14, acc_depth=1 << 14),
         "IMEM holds"),  # 4x the tiles of P=4
        (dict(layers=DIGITS, batch=64, P=4, ub_depth=8192), "WMEM needs"),  # dZ' scratch + tiles
        (dict(layers=[64, 512, 10], batch=8, P=8), "needs"),
        (dict(layers=DIGITS, batch=32, P=4, ub_depth=2048), "UB needs"),
        (dict(layers=DIGITS, batch=32, P=4, acc_depth=512), "ACC needs"),
    ],
)
def test_too_large_networks_raise_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compile_mlp(acts=["leaky", "identity"], lr=0.1, mode="train", **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(acts=["leaky"]), "activations"),
        (dict(acts=["leaky", "tanh"]), "activations"),
        (dict(lr=20.0), "loss_scale"),  # |lr * 2/B| >= 0.5
        (dict(lr=1e-7), "zero loss_scale"),
        (dict(mode="eval"), "mode"),
        (dict(slope=0), "positive slope"),
        (dict(steps=0), "steps"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = dict(layers=[3, 4, 2], acts=["leaky", "identity"], batch=4, lr=0.1, P=2, mode="train")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        compile_mlp(**args)


def test_loss_scale_is_minus_lr_times_2_over_b_in_2e16_units():
    assert loss_scale_code(0.1, 32) == -410  # -0.1 * 2/32 * 65536 = -409.6
    assert loss_scale_code(0.25, 4) == -8192
    assert loss_scale_code(-0.25, 4) == 8192


def test_listing_and_asm_agree_with_the_words():
    m = compile_mlp([5, 7, 3], ["relu", "leaky"], batch=6, lr=0.1, P=4, steps=3)
    assert assemble(m.asm) == m.words
    lines = m.listing().splitlines()
    assert len(lines) == len(m.words)
    for pc, (line, w) in enumerate(zip(lines, m.words, strict=True)):
        assert line.startswith(f"{pc:4d}: {w:016x}")
    assert decode(m.words[0]).op == "LOOP" and decode(m.words[0])["count"] == 3
    assert sum(m.phases.values()) == len(m.words)


@pytest.mark.parametrize("sizes, B, P", [([5, 7, 3], 6, 2), ([9, 4], 5, 4), ([3, 11, 6, 2], 9, 8)])
def test_place_and_read_round_trip(sizes, B, P):
    rng = _rng(B, P, *sizes)
    m = compile_mlp(sizes, ["leaky"] * (len(sizes) - 1), batch=B, lr=0.1, P=P)
    st = m.new_state()
    shapes = zip(sizes[:-1], sizes[1:], strict=True)
    params = [(random_codes(rng, (k, n), 32), random_codes(rng, n, 32)) for k, n in shapes]
    x, y = random_codes(rng, (B, sizes[0])), random_codes(rng, (B, sizes[-1]))
    m.place_params(st, params)
    m.place_batch(st, x, y)
    for (w, b), (w2, b2) in zip(params, m.read_params(st), strict=True):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(m.read_activations(st, 0), x)
    # padded entries are zero in ACC
    for (wp, bp), (w, b) in zip(m.read_params(st, padded=True), params, strict=True):
        assert wp.sum() == w.sum() and bp.sum() == b.sum() and wp.shape[0] % P == 0
    with pytest.raises(ValueError):
        m.place_batch(st, x[:-1], y)


@pytest.mark.parametrize("sizes, acts, B, P", [
    ([5, 7, 3], ["relu", "leaky"], 6, 2),
    ([13, 6, 9, 2], ["leaky", "identity", "relu"], 11, 4),
    ([64, 32, 10], ["leaky", "identity"], 32, 8),
])
def test_inference_program_matches_reference_forward(sizes, acts, B, P):
    rng = _rng(B, P, *sizes)
    params = init_params(sizes, rng, q88=False)
    params = [(w, random_codes(rng, w.shape[1], 24)) for w, _ in params]
    x = rng.integers(-512, 512, (B, sizes[0]))
    m = compile_mlp(sizes, acts, batch=B, P=P, mode="infer")
    st = m.new_state()
    m.place_params(st, params)
    m.place_batch(st, x)
    before = m.read_params(st)
    res = run(m.words, st)
    assert res.state.halted and res.state.retired == len(m.words)
    np.testing.assert_array_equal(m.read_outputs(st), forward(params, x, acts))
    for (w, b), (w2, b2) in zip(before, m.read_params(st), strict=True):  # inference leaves masters alone
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
