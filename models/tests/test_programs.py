"""Generated programs run on the ISA simulator equal plain numpy references, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from models import vpu
from models.asm import assemble
from models.fixed_point import matmul_acc, random_codes
from models.isa import ACT_CODES, decode
from models.isa_sim import MachineState, run
from models.programs import (
    DenseLayout,
    GemmLayout,
    dense_forward_program,
    extract_dense,
    extract_gemm,
    gemm_program,
    place_bias,
    place_gemm,
)

SEED = 1234


@pytest.mark.parametrize(
    "M, K, N, P",
    [(1, 1, 1, 2), (5, 7, 3, 2), (9, 4, 4, 4), (4, 13, 9, 4), (17, 8, 24, 8), (256, 64, 64, 8)],
)
def test_gemm_program_matches_matmul_acc(M, K, N, P):
    rng = np.random.default_rng([SEED, M, K, N, P])
    print(f"seed {[SEED, M, K, N, P]}")
    x, w = random_codes(rng, (M, K)), random_codes(rng, (K, N))
    text, lay = gemm_program(M, K, N, P)
    st = MachineState.new(P)
    st.acc[:] = random_codes(rng, st.acc.shape, 32)  # stale accumulators must be overwritten
    place_gemm(st, x, w, lay)
    words = assemble(text)
    run(words, st)
    np.testing.assert_array_equal(extract_gemm(st, lay), matmul_acc(x, w))
    assert st.macs == M * lay.kt * lay.nt * P * P


def test_gemm_program_overlaps_every_weight_load():
    text, lay = gemm_program(16, 12, 12, 4, GemmLayout(16, 12, 12, 4, x_ub=100, w_wm=8, y_acc=50))
    ops = [decode(w) for w in assemble(text)]
    assert [i.op for i in ops] == ["LDW"] + ["MATMUL", "LDW"] * 8 + ["MATMUL", "HALT"]
    mats = [i for i in ops if i.op == "MATMUL"]
    assert all(m.has("SWAP") for m in mats)
    assert [m.has("ACC") for m in mats] == [False, True, True] * 3
    assert {m["ub"] for m in mats} == {100, 116, 132} and {m["acc"] for m in mats} == {50, 66, 82}


def test_gemm_with_offsets_and_huge_wrapping_sums():
    M, K, N, P = 6, 40, 5, 4
    lay = GemmLayout(M, K, N, P, x_ub=333, w_wm=100, y_acc=1000)
    x = np.full((M, K), -(1 << 15), np.int64)  # products of 2^30 wrap the 32-bit sums
    w = np.full((K, N), -(1 << 15), np.int64)
    st = MachineState.new(P)
    place_gemm(st, x, w, lay)
    run(assemble(gemm_program(M, K, N, P, lay)[0]), st)
    np.testing.assert_array_equal(extract_gemm(st, lay), matmul_acc(x, w))
    assert not st.ub[:333].any() and not st.wm[:100].any()


def test_layout_checks():
    with pytest.raises(ValueError, match="does not fit|depth"):
        gemm_program(4000, 64, 64, 8)
    with pytest.raises(ValueError, match="layout is for"):
        gemm_program(4, 4, 4, 4, GemmLayout(4, 4, 8, 4))
    with pytest.raises(ValueError, match="empty"):
        gemm_program(0, 4, 4, 4)
    with pytest.raises(ValueError, match="overlap"):
        DenseLayout(GemmLayout(4, 4, 4, 4), bias_ub=2, h_ub=100).check()


@pytest.mark.parametrize("act", ["identity", "relu", "leaky"])
def test_dense_forward_program_matches_vpu(act):
    rng = np.random.default_rng([SEED, len(act)])
    M, K, N, P = 7, 10, 6, 4
    x, w = random_codes(rng, (M, K), 11), random_codes(rng, (K, N), 11)
    b = random_codes(rng, N)
    text, lay = dense_forward_program(M, K, N, P, act=act, shift=9, slope=-40)
    st = MachineState.new(P)
    place_gemm(st, x, w, lay.gemm)
    place_bias(st, b, lay)
    run(assemble(text), st)
    cfg = vpu.VpuConfig(
        bias_en=True, act_en=True, act=ACT_CODES[act], shift=9, slope=-40, loss_scale=0, loss_shift=0
    )
    want, _ = vpu.vpu(matmul_acc(x, w), cfg, b, None)
    np.testing.assert_array_equal(extract_dense(st, lay), want)
