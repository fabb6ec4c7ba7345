"""The array cycle model against matmul_acc (results), the cycle formula and the timing contract."""

import numpy as np
import pytest

from models.array_model import (
    ArrayModel,
    Inputs,
    expected_rows,
    latency,
    outputs,
    schedule_tiles,
    simulate,
    stream_cycles,
)
from models.fixed_point import DATA_W, matmul_acc, random_codes

SEED = 20261121
LO, HI = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1


def tiles(rng, t, m, p):
    return [random_codes(rng, (p, p)) for _ in range(t)], [random_codes(rng, (m, p)) for _ in range(t)]


def run(w, x, idle=None):
    p = w[0].shape[0]
    stim = schedule_tiles(w, x, idle)
    out = outputs(simulate(stim, p))
    return stim, out


@pytest.mark.parametrize("p", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("m", [1, 2, 5, 8, 11])
def test_results_and_cycles(p, m):
    rng = np.random.default_rng(SEED + 100 * p + m)
    t = 3
    w, x = tiles(rng, t, m, p)
    stim, out = run(w, x)
    got = np.array([y for _, y in out])
    assert np.array_equal(got, expected_rows(w, x))
    assert len(out) == t * m
    # The last result row is registered at the last edge of the padded schedule.
    assert out[-1][0] + 1 == len(stim) == stream_cycles(t, m, p)


def test_formula_special_cases():
    for p in (2, 4, 8, 16):
        assert stream_cycles(1, p, p) == 4 * p  # a single cold P x P x P tile
        for m in (p, p + 1, 3 * p):
            for t in (1, 2, 7):
                assert stream_cycles(t, m, p) == t * m + 3 * p  # no bubble between tiles
    assert stream_cycles(3, 2, 4) == 2 * 4 + 2 + 12  # M < P: tiles are P edges apart
    with pytest.raises(ValueError):
        stream_cycles(0, 1, 1)


@pytest.mark.parametrize("p", [2, 4])
def test_extremes_wrap(p):
    """Full-scale operands overflow AccW for P >= 2 when AccW = 2*DataW: the sums must wrap."""
    w = [np.full((p, p), LO), np.full((p, p), HI), np.full((p, p), LO)]
    x = [np.full((p, p), LO), np.full((p, p), LO), np.full((p, p), HI)]
    _, out = run(w, x)
    got = np.array([y for _, y in out])
    assert np.array_equal(got, expected_rows(w, x))
    assert got[0, 0] == matmul_acc(x[0][:1], w[0])[0, 0]


@pytest.mark.parametrize("p", [2, 4])
def test_idle_cycles_add_their_count(p):
    rng = np.random.default_rng(SEED + p)
    t, m = 3, p + 2
    w, x = tiles(rng, t, m, p)
    gaps = rng.integers(0, 3, size=t * m)
    stim, out = run(w, x, idle=gaps.tolist())
    assert np.array_equal(np.array([y for _, y in out]), expected_rows(w, x))
    added = int(gaps[: t * m - 1].sum())  # no gap after the last row
    assert len(stim) == out[-1][0] + 1 == stream_cycles(t, m, p) + added
    _, out_fn = run(w, x, idle=lambda k: k % 2)
    assert np.array_equal(np.array([y for _, y in out_fn]), expected_rows(w, x))


def test_staircase_timing():
    """A row sampled at edge e: in PE[i][j] at e+i+j, product at e+i+j+1, psum at e+i+j+2, y at e+2P."""
    p = 4
    rng = np.random.default_rng(SEED)
    w, x = tiles(rng, 2, 5, p)
    stim = schedule_tiles(w, x)
    states = simulate(stim, p)
    sampled = [n for n, s in enumerate(stim) if s.x_valid]
    for n, s in enumerate(states):
        for i in range(p):
            for j in range(p):
                assert s.valid[i, j] == int(n - i - j in sampled)
                assert s.pvalid[i, j] == int(n - i - j - 1 in sampled)
        assert s.y_valid == int(n - 2 * p in sampled)
    assert latency(p) == 2 * p


def test_commit_and_switch_on_the_same_edge():
    """The fastest schedule makes the bottom row commit tile t+1 on the edge it switches to tile t."""
    p = 3
    rng = np.random.default_rng(SEED)
    w, x = tiles(rng, 2, p, p)
    stim = schedule_tiles(w, x)
    model = ArrayModel(p)
    both = False
    for n, inp in enumerate(stim):
        before = model.state
        after = model.step(inp)
        for j in range(p):
            col_w = stim[n - j] if n >= j else Inputs()
            commit = col_w.w_valid and col_w.w_last
            swap = after.switch[p - 1, j]
            if commit and swap:
                both = True
                assert after.active[p - 1, j] == before.shadow[p - 1, j]  # the old shadow
                assert after.shadow[p - 1, j] == w[1][p - 1, j]  # the new tile
    assert both


def test_rule_a_violation_corrupts_results():
    """Shifting the next tile one edge early overwrites a shadow weight before its switch: the model
    must show the damage (so the rule and its assertion are not decorative)."""
    p = 4
    rng = np.random.default_rng(SEED)
    w, x = tiles(rng, 2, p, p)
    stim = schedule_tiles(w, x)
    first_w1 = [n for n, s in enumerate(stim) if s.w_valid][p]
    early = list(stim)
    rows = [early[first_w1 + r] for r in range(p)]
    for r, src in enumerate(rows):
        moved = Inputs(
            **{**vars(early[first_w1 - 1 + r]), "w_valid": 1, "w_last": src.w_last, "w_data": src.w_data}
        )
        early[first_w1 - 1 + r] = moved
    last = early[first_w1 + p - 1]
    early[first_w1 + p - 1] = Inputs(**{**vars(last), "w_valid": 0, "w_last": 0, "w_data": None})
    out = outputs(simulate(early, p))
    assert not np.array_equal(np.array([y for _, y in out]), expected_rows(w, x))


def test_reset_clears_everything():
    p = 3
    rng = np.random.default_rng(SEED)
    w, x = tiles(rng, 1, 4, p)
    model = ArrayModel(p)
    for inp in schedule_tiles(w, x)[:8]:
        model.step(inp)
    assert model.state.psum.any() and model.state.shadow.any()
    after = model.step(Inputs(rst=1))
    for name in ("x", "valid", "switch", "transit", "shadow", "active", "psum"):
        assert not after.pe(name).any()
    assert not after.y_valid and not after.y_data.any()
    # Delay stages are cleared too: idle edges after the reset produce nothing.
    assert not any(model.step(Inputs()).valid.any() for _ in range(2 * p))


def test_schedule_rejects_bad_shapes():
    with pytest.raises(ValueError):
        schedule_tiles([np.zeros((2, 2), np.int64)], [np.zeros((3, 3), np.int64)])
    with pytest.raises(ValueError):
        schedule_tiles([], [])
