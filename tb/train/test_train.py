"""On-chip training: compiled MLP training programs (models.mlp) on the RTL core, bit for bit.

Every run is compared, word for word over UB, WMEM and ACC, with models.isa_sim on the same binary
(tb/common/train_env.py), and the state read back from the core is then compared with the independent
numpy reference models.train_ref: every Q8.24 master weight and bias (ACC), every Q8.8 weight tile (WMEM)
and bias word (UB), every activation H_l and gradient dZ'_l (UB). The row and MAC counters must equal the
program's MATMUL rows.

Cocotb tests (which ones run depends on P; stimulus from env.rng, seeded by SEED):
* random_steps        P = 2, 4, 8: random 2- and 3-layer networks, sizes not multiples of P, random batch
                      (padded or not), lr, Q8.24 masters with sub-Q8.8 bits; two steps each (new batch)
* xor_training        P = 2: XOR 2-2-1 (docs/training.md config) one single-step program, then one LOOP
                      program for the remaining steps; the inference program's predictions, read back,
                      equal the reference and classify all four inputs
* saturation          P = 2: huge lr, weights and targets: loss, forward and backward stages saturate
                      (reference counts > 0), the rails sit exactly where the reference puts them
* digits_training     digits 64-32-10, batch 32, at P = 4 and P = 8:
                      six SGD steps on shuffled training batches, bit exact
                      after every step; the loss of a held-out batch (inference program on the core,
                      compared with the reference) decreases; cycles and array utilization per step
                      are logged ("RESULT" lines, docs/training.md "Results on the RTL")
Without a simulator: test_digits_cache (the digits the simulations load from tb/common/data.py's cache are
models.datasets.digits exactly).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
import pytest

from models.datasets import batches, xor
from models.fixed_point import DATA_W, quantize, random_codes, round_shift, to_float
from models.mlp import LOSS_SHIFT, compile_mlp
from models.train_ref import TrainConfig, accuracy, forward, init_params, train_step
from models.vpu import deriv
from tb.common import runner
from tb.common.core_env import CORE_SOURCES
from tb.common.data import digits
from tb.common.tools import rtl_sources
from tb.common.train_env import TrainEnv, check_reference, phase_cycles

ACTS = ("leaky", "relu", "identity")
DATA_MIN, DATA_MAX = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1

# The demo configurations of docs/training.md (models/tests/test_train_ref.py uses the same).
XOR_SEED, XOR_LR, XOR_STEPS = 2, 0.25, 150
DIGITS_SIZES, DIGITS_ACTS = [64, 32, 10], ["leaky", "identity"]
DIGITS_B, DIGITS_LR, DIGITS_SCALE = 32, 0.15, 0.5
# TRAIN_PHASES=1: also measure the cycles of every phase of a step (7 more runs; docs/training.md).
PHASES = os.environ.get("TRAIN_PHASES", "") not in ("", "0")


def _random_params(rng: np.random.Generator, sizes: list[int]):
    """Q8.24 masters with sub-Q8.8 bits set (the refresh must round them) and random biases."""
    return [(w, random_codes(rng, w.shape[1], 23)) for w, _ in init_params(sizes, rng, q88=False)]


def _loss(h: np.ndarray, y: np.ndarray) -> float:
    return float(((to_float(h) - to_float(y)) ** 2).sum() / h.shape[0])


# ---- random shapes -----------------------------------------------------------------------------------

def _random_net(env: TrainEnv, max_size: int):
    """A random network that fits the DUT: 2 or 3 layers, sizes below max_size and not multiples of P."""
    r, P = env.rng, env.P
    sizes_ok = [n for n in range(1, max_size) if n % P]
    while True:
        L = int(r.integers(2, 4))
        sizes = [int(r.choice(sizes_ok)) for _ in range(L + 1)]
        # The output layer is never ReLU: a dead output would make a step that changes nothing.
        acts = [str(r.choice(ACTS)) for _ in range(L - 1)] + [str(r.choice(ACTS[::2]))]
        B = int(r.integers(1, 2 * P + 2))
        lr = float(r.uniform(0.05, min(0.6, 0.2 * B)))  # |lr * 2/B| < 0.5
        try:
            m = compile_mlp(sizes, acts, batch=B, lr=lr, P=P, **env.depth_kwargs())
        except ValueError as e:
            env.log.info("skip %s batch %d: %s", sizes, B, e)
            continue
        return m, TrainConfig(tuple(acts), lr, B)


@cocotb.test()
async def random_steps(dut) -> None:
    env = TrainEnv(dut)
    await env.reset()
    r, P = env.rng, env.P
    n_nets, n_steps, max_size = 2, 2, 3 * P
    st = env.background()
    for net in range(n_nets):
        m, cfg = _random_net(env, max_size)
        env.log.info("net %d: %s %s batch %d lr %.3f (loss_scale %d), %d instructions", net, m.sizes, m.acts,
                     m.batch, m.lr, m.loss_scale, len(m.words))
        params = _random_params(r, m.sizes)
        m.place_constants(st)
        m.place_params(st, params)
        for step in range(n_steps):
            x = r.integers(-400, 400, (m.batch, m.sizes[0]))
            y = r.integers(-400, 400, (m.batch, m.sizes[-1]))
            m.place_batch(st, x, y)
            what = f"net {net} {m.sizes} B={m.batch} step {step}"
            lay = m.layout
            run = await env.run_program(m.words, st, what, used=(lay.ub_words, lay.wm_words, lay.acc_words))
            params, _, out = train_step(params, x, y, cfg, pad_to=m.P)
            check_reference(m, run.rtl, params, out, what)
            assert any(d.any() for d in out.dw + out.db), f"{what}: the step must change some master"
            st = run.rtl
    await env.verify_all("random_steps, whole memories")


# ---- XOR ---------------------------------------------------------------------------------------------

async def _infer(env: TrainEnv, st, sizes, acts, x: np.ndarray, params, what: str):
    """Run the inference program on the core's current weights; outputs equal train_ref.forward."""
    mi = compile_mlp(sizes, list(acts), batch=x.shape[0], P=env.P, mode="infer", **env.depth_kwargs())
    st = st.copy()
    mi.place_batch(st, x)
    run = await env.run_program(mi.words, st, what)
    check_reference(mi, run.rtl, params, None, what)
    h = mi.read_outputs(run.rtl)
    np.testing.assert_array_equal(h, forward(params, x, acts), err_msg=f"{what}: outputs vs reference")
    return h, run


@cocotb.test()
async def xor_training(dut) -> None:
    env = TrainEnv(dut)
    await env.reset()
    ds = xor()
    acts = ["leaky", "identity"]
    params = init_params([2, 2, 1], np.random.default_rng(XOR_SEED))
    cfg = TrainConfig(tuple(acts), XOR_LR, 4)
    one = compile_mlp([2, 2, 1], acts, batch=4, lr=XOR_LR, P=env.P, **env.depth_kwargs())
    rest = compile_mlp([2, 2, 1], acts, batch=4, lr=XOR_LR, P=env.P, steps=XOR_STEPS - 1,
                       **env.depth_kwargs())
    st = env.background()
    one.place_constants(st)
    one.place_params(st, params)
    h0, _ = await _infer(env, st, [2, 2, 1], acts, ds.x_train, params, "XOR before training")
    assert accuracy(h0, ds.labels_train) < 1.0, "XOR must not be solved before training"
    one.place_batch(st, ds.x_train, ds.y_train)
    run = await env.run_program(one.words, st, "XOR step 1")
    params, _, out = train_step(params, ds.x_train, ds.y_train, cfg, pad_to=env.P)
    check_reference(one, run.rtl, params, out, "XOR step 1")
    first = run.status
    run = await env.run_program(rest.words, run.rtl, f"XOR LOOP {XOR_STEPS - 1}")
    for _ in range(XOR_STEPS - 1):
        params, _, out = train_step(params, ds.x_train, ds.y_train, cfg)
    check_reference(rest, run.rtl, params, out, f"XOR after {XOR_STEPS} steps")
    h, _ = await _infer(env, run.rtl, [2, 2, 1], acts, ds.x_train, params, "XOR after training")
    pred = (to_float(h[:, 0]) > 0.5).astype(int)
    env.log.info("XOR outputs %s -> predictions %s (labels %s)", to_float(h[:, 0]).tolist(), pred.tolist(),
                 ds.labels_train.tolist())
    assert np.array_equal(pred, ds.labels_train), f"XOR predictions {pred.tolist()} after {XOR_STEPS} steps"
    env.log.info("RESULT xor 2-2-1 B=4 P=%d: one step %d cycles, rows %d, utilization %.3f, %d weight-load "
                 "stalls; LOOP of %d steps %d cycles (%.1f per step), utilization %.3f", env.P, first.cycles,
                 first.rows, first.rows / first.cycles, first.wstall, XOR_STEPS - 1, run.status.cycles,
                 run.status.cycles / (XOR_STEPS - 1), run.utilization)
    if PHASES:
        env.log.info("RESULT xor P=%d cycles per phase: %s", env.P, await phase_cycles(env, one, st))


# ---- saturation --------------------------------------------------------------------------------------

@cocotb.test()
async def saturation(dut) -> None:
    """lr 0.9 at B = 4 (loss_scale -29491), weights x40, far targets: every stage saturates somewhere."""
    env = TrainEnv(dut)
    await env.reset()
    r = env.rng
    sizes, acts, B, lr = [6, 5, 3], ["leaky", "leaky"], 4, 0.9
    m = compile_mlp(sizes, acts, batch=B, lr=lr, P=env.P, **env.depth_kwargs())
    cfg = TrainConfig(tuple(acts), lr, B)
    params = [(w * 40, b) for w, b in _random_params(r, sizes)]
    x = r.integers(-1000, 1000, (B, sizes[0]))
    # Half the targets far away (up to +-100: the loss stage saturates there), half within 200 codes of
    # the first forward pass's outputs (it does not): the rails must sit exactly where the model says.
    h0 = forward(params, x, acts)
    near = r.random(h0.shape) < 0.5
    y = np.where(near, np.clip(h0 + r.integers(-200, 200, h0.shape), DATA_MIN, DATA_MAX),
                 quantize(r.uniform(-100, 100, h0.shape)))
    st = env.background()
    m.place_constants(st)
    m.place_params(st, params)
    m.place_batch(st, x, y)
    seen: dict[str, int] = {}
    rails = 0
    for step in range(3):
        run = await env.run_program(m.words, st, f"saturation step {step}")
        params, _, out = train_step(params, x, y, cfg, pad_to=env.P)
        check_reference(m, run.rtl, params, out, f"saturation step {step}")
        for k, v in out.saturated.items():
            seen[k] = seen.get(k, 0) + v
        # Where the loss stage saturates (predicted from the reference's H), the core's dZ' holds the rail
        # (times act'(H) for a negative leaky output).
        h_ref = out.h[-1]
        raw = round_shift((h_ref - y) * m.loss_scale, LOSS_SHIFT)
        sat = (raw < DATA_MIN) | (raw > DATA_MAX)
        rail = np.where(raw > DATA_MAX, DATA_MAX, DATA_MIN)
        expect = deriv(rail, h_ref, cfg.act_code(len(sizes) - 1), cfg.slope)
        got = m.read_grad(run.rtl, len(sizes) - 1)
        assert np.array_equal(got[sat], expect[sat]), f"step {step}: dZ' at saturated loss elements"
        rails += int(sat.sum())
        st = run.rtl
    env.log.info("saturated elements per stage over 3 steps: %s (loss rails checked: %d)", seen, rails)
    assert 0 < seen["loss"] < 3 * y.size and rails == seen["loss"], "loss: some rails, not all"
    assert seen["forward 1 requant"] + seen["forward 2 requant"] + seen["forward 1 bias"] > 0, "forward"
    assert seen["backward 2->1 requant"] > 0, "the backward requantization must saturate"


# ---- digits ------------------------------------------------------------------------------------------

DIGITS_STEPS = 6


@cocotb.test()
async def digits_training(dut) -> None:
    env = TrainEnv(dut)
    await env.reset()
    P = env.P
    ds = digits(seed=0)
    params = init_params(DIGITS_SIZES, np.random.default_rng(0), scale=DIGITS_SCALE)
    cfg = TrainConfig(tuple(DIGITS_ACTS), DIGITS_LR, DIGITS_B)
    m = compile_mlp(DIGITS_SIZES, DIGITS_ACTS, batch=DIGITS_B, lr=DIGITS_LR, P=P, **env.depth_kwargs())
    st = env.background()
    m.place_constants(st)
    m.place_params(st, params)
    x_eval, y_eval = ds.x_test[:DIGITS_B], ds.y_test[:DIGITS_B]
    h, _ = await _infer(env, st, DIGITS_SIZES, DIGITS_ACTS, x_eval, params, "digits eval before")
    loss_before = _loss(h, y_eval)
    n_steps = DIGITS_STEPS
    cycles, losses = [], []
    for step, (xb, yb) in enumerate(batches(ds.x_train, ds.y_train, DIGITS_B, np.random.default_rng(1))):
        if step == n_steps:
            break
        m.place_batch(st, xb, yb)
        what = f"digits P={P} step {step}"
        run = await env.run_program(m.words, st, what)
        params, loss, out = train_step(params, xb, yb, cfg, pad_to=P)
        check_reference(m, run.rtl, params, out, what)
        assert _loss(m.read_outputs(run.rtl), yb) == loss
        cycles.append(run.status.cycles)
        losses.append(loss)
        env.log.info("%s: batch loss %.4f, %d cycles, %d rows, utilization %.3f, %d weight-load stalls", what,
                     loss, run.status.cycles, run.status.rows, run.utilization, run.status.wstall)
        st = run.rtl
    h, _ = await _infer(env, st, DIGITS_SIZES, DIGITS_ACTS, x_eval, params, "digits eval after")
    loss_after = _loss(h, y_eval)
    env.log.info("digits P=%d: held-out batch loss %.4f -> %.4f after %d steps; batch losses %s", P,
                 loss_before, loss_after, n_steps, [round(v, 4) for v in losses])
    assert loss_after < loss_before, f"held-out loss did not decrease: {loss_before} -> {loss_after}"
    assert len(set(cycles)) == 1, f"cycles per step depend on the data: {cycles}"
    env.log.info("RESULT digits 64-32-10 B=32 P=%d: %d instructions, %d cycles per step, %d rows, "
                 "utilization %.3f, %d weight-load stalls", P, len(m.words), cycles[0], run.status.rows,
                 run.utilization, run.status.wstall)
    if PHASES:
        env.log.info("RESULT digits P=%d cycles per phase: %s", P, await phase_cycles(env, m, st))


# ---- pytest entry ------------------------------------------------------------------------------------


# Memory depths per configuration, just large enough for what runs there: digits 64-32-10 batch 32 needs
# UB 2719, WMEM 864, ACC 875 words and 765 instructions at P = 4 and UB 1430, WMEM 448, ACC 454, 222 at
# P = 8; the random networks fit in those, and the P = 2 depths fit every network of sizes < 3P, batch
# <= 2P+1, XOR and the saturation network. Both simulators run the same tests.
DIGITS_P4 = {"ImemDepth": 768, "UbDepth": 2720, "WmDepth": 864, "AccDepth": 880}
DIGITS_P8 = {"ImemDepth": 256, "UbDepth": 1432, "WmDepth": 448, "AccDepth": 456}
SMALL_P2 = {"ImemDepth": 256, "UbDepth": 288, "WmDepth": 80, "AccDepth": 96}
SMALL_P8 = {"ImemDepth": 64, "UbDepth": 224, "WmDepth": 40, "AccDepth": 48}


def config(sim: str, P: int) -> tuple[dict[str, int], list[str]]:
    """(HDL memory depths, cocotb tests) for one simulator and P."""
    if P == 2:
        return SMALL_P2, ["random_steps", "xor_training", "saturation"]
    if P == 4:
        return DIGITS_P4, ["random_steps", "digits_training"]
    return DIGITS_P8, ["random_steps", "digits_training"]


@pytest.mark.parametrize("P", [2, 4, 8])
def test_train(sim: str, P: int) -> None:
    depths, tests = config(sim, P)
    runner.run(sim, "tpu_core", "tb.train.test_train", rtl_sources(*CORE_SOURCES), {"P": P, **depths},
               testcase=tests)


def test_digits_cache(tmp_path, monkeypatch) -> None:
    """tb.common.data.digits (what the simulations load) equals models.datasets.digits, computed or cached."""
    from dataclasses import fields

    from models import datasets
    from tb.common import data

    monkeypatch.setattr(data, "CACHE", tmp_path)
    want = datasets.digits(0)
    for _ in range(2):  # the first call writes the cache, the second reads it
        got = data.digits(0)
        for f in fields(want):
            np.testing.assert_array_equal(getattr(got, f.name), getattr(want, f.name), err_msg=f.name)
            assert getattr(got, f.name).dtype == getattr(want, f.name).dtype, f.name
    assert len(list(tmp_path.glob("digits.*.npz"))) == 1
