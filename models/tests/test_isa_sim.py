"""Instruction-level simulator: each instruction against numpy, every error code, LOOP rules."""

from __future__ import annotations

import numpy as np
import pytest

from models import vpu
from models.asm import assemble
from models.fixed_point import FRAC_W, matmul_acc, random_codes, requantize, saturate, wrap
from models.isa import (
    ERR_ADDR,
    ERR_ILLEGAL,
    ERR_LEN,
    ERR_LOOP,
    ERR_NONE,
    ERR_OVERLAP,
    ERR_PC,
    IMEM_DEPTH,
    Instr,
    encode,
)
from models.isa_sim import IsaError, MachineState, run, run_status

SEED = 99
P = 4


def fresh(rng: np.random.Generator, p: int = P) -> MachineState:
    """A state with random UB/WMEM/ACC contents, small enough depths to test the edges cheaply."""
    st = MachineState.new(p, ub_depth=64, wm_depth=32, acc_depth=48)
    st.ub[:] = random_codes(rng, st.ub.shape)
    st.wm[:] = random_codes(rng, st.wm.shape)
    st.acc[:] = random_codes(rng, st.acc.shape, 32)
    return st


@pytest.fixture
def rng():
    print(f"seed {SEED}")
    return np.random.default_rng(SEED)


def test_ldw_matmul_swap_and_accumulate(rng):
    st = fresh(rng)
    ref = st.copy()
    run(assemble("LDW 4\nMATMUL 10, 3, 5, SWAP\nLDW 8, T\nMATMUL 20, 3, 5, ACC, SWAP\nHALT"), st)
    t0, t1 = ref.wm[4:8], ref.wm[8:12].T
    want = matmul_acc(ref.ub[20:25], t1, matmul_acc(ref.ub[10:15], t0))
    np.testing.assert_array_equal(st.acc[3:8], want)
    np.testing.assert_array_equal(st.acc[:3], ref.acc[:3])
    np.testing.assert_array_equal(st.acc[8:], ref.acc[8:])
    np.testing.assert_array_equal(st.active, t1)
    np.testing.assert_array_equal(st.shadow, t1)  # SWAP copies shadow -> active
    assert st.pc == 4 and st.error == ERR_NONE and st.retired == 5


def test_swap_without_load_reuses_the_last_loaded_tile(rng):
    st = fresh(rng)
    ref = st.copy()
    run(assemble("LDW 0\nMATMUL 0, 0, 2, SWAP\nLDW 4\nMATMUL 0, 2, 2\nMATMUL 0, 4, 2, SWAP\nHALT"), st)
    np.testing.assert_array_equal(st.acc[2:4], matmul_acc(ref.ub[0:2], ref.wm[0:4]))
    np.testing.assert_array_equal(st.acc[4:6], matmul_acc(ref.ub[0:2], ref.wm[4:8]))
    run(assemble("MATMUL 0, 6, 2, SWAP\nHALT"), st)  # no LDW since: the same tile again
    np.testing.assert_array_equal(st.acc[6:8], matmul_acc(ref.ub[0:2], ref.wm[4:8]))


def test_matmul_without_swap_uses_the_active_tile(rng):
    st = fresh(rng)
    ref = st.copy()
    run(assemble("LDW 0\nMATMUL 0, 0, 2, SWAP\nLDW 4\nMATMUL 5, 2, 3\nHALT"), st)
    np.testing.assert_array_equal(st.acc[2:5], matmul_acc(ref.ub[5:8], ref.wm[0:4]))


@pytest.mark.parametrize("src, dst, t", [("UB", "WM", False), ("UB", "UB", True), ("WM", "UB", True),
                                         ("WM", "WM", False)])
def test_copy(rng, src, dst, t):
    st = fresh(rng)
    ref = st.copy()
    mem = {"UB": "ub", "WM": "wm"}
    run(assemble(f"COPY {src}, 3, {dst}, 17, 12{', T' if t else ''}\nHALT"), st)
    rows = getattr(ref, mem[src])[3:15]
    if t:
        rows = np.concatenate([rows[b * P:(b + 1) * P].T for b in range(3)])
    np.testing.assert_array_equal(getattr(st, mem[dst])[17:29], rows)


def test_copy_in_place_transpose(rng):
    st = fresh(rng)
    ref = st.copy()
    run(assemble("COPY UB, 8, UB, 8, 8, T\nHALT"), st)
    np.testing.assert_array_equal(st.ub[8:12], ref.ub[8:12].T)
    np.testing.assert_array_equal(st.ub[12:16], ref.ub[12:16].T)


def small_codes(rng, shape):
    return random_codes(rng, shape, 12)


@pytest.mark.parametrize("path", ["BIAS, ACT", "ACT", "", "LOSS", "LOSS, DERIV, BGRAD", "DERIV, BGRAD"])
@pytest.mark.parametrize("src", ["ACC", "UB"])
def test_vec_equals_vpu(rng, path, src):
    st = fresh(rng)
    st.acc[:] = random_codes(rng, st.acc.shape, 24)
    ref = st.copy()
    flags = {f.strip() for f in path.split(",") if f.strip()}
    aux = ", aux=40" if {"LOSS", "DERIV"} & flags else ""
    text = f"""
        SETV act=leaky, shift=7, slope=-77, loss_scale=300, loss_shift=9
        LDB 50
        SETBG 45
        VEC {src}, 2, 20, 9{", " + path if path else ""}{aux}
        HALT
    """
    run(assemble(text), st)
    cfg = vpu.VpuConfig(
        bias_en="BIAS" in flags, act_en="ACT" in flags, loss_en="LOSS" in flags, deriv_en="DERIV" in flags,
        bgrad_en="BGRAD" in flags, act=2, shift=7, slope=-77, loss_scale=300, loss_shift=9,
    )
    rows = (ref.acc if src == "ACC" else ref.ub)[2:11]
    out, sums = vpu.vpu(rows, cfg, ref.ub[50], ref.ub[40:49] if aux else None)
    np.testing.assert_array_equal(st.ub[20:29], out)
    np.testing.assert_array_equal(st.acc[45], sums if "BGRAD" in flags else ref.acc[45])
    np.testing.assert_array_equal(st.bias, ref.ub[50])


def test_weight_update_recipe(rng):
    """W -= 2^-3 dW with one VEC: requant dW by FracW+3, then loss stage (d - W) * -1.0."""
    st = fresh(rng)
    st.acc[:] = random_codes(rng, st.acc.shape, 26)
    ref = st.copy()
    run(assemble(f"""
        SETV shift={FRAC_W + 3}, loss_scale={-(1 << FRAC_W)}, loss_shift={FRAC_W}
        VEC ACC, 0, 30, 4, LOSS, aux=30
        COPY UB, 30, WM, 12, 4
        HALT"""), st)
    want = saturate(ref.ub[30:34] - requantize(ref.acc[0:4], FRAC_W + 3), 16)
    np.testing.assert_array_equal(st.wm[12:16], want)


def test_training_gradient_dw_with_transposed_copy(rng):
    """dW = Hprev^T . dZ: dZ block becomes the stationary tile, Hprev^T rows are the inputs."""
    st = fresh(rng)
    ref = st.copy()
    run(assemble("""
        COPY UB, 0, WM, 0, 4        ; dZ (batch rows 0..3) -> weight tile
        COPY UB, 4, UB, 8, 4, T     ; Hprev^T: row k = feature k over the batch
        LDW 0
        MATMUL 8, 0, 4, SWAP
        HALT"""), st)
    np.testing.assert_array_equal(st.acc[0:4], matmul_acc(ref.ub[4:8].T, ref.ub[0:4]))


def test_loop_repeats_the_body(rng):
    st = fresh(rng)
    ref = st.copy()
    text = "LDW 0\nMATMUL 0, 0, 3, SWAP\nLOOP 5, 2\nNOP\nMATMUL 0, 0, 3, ACC\nHALT"
    r = run(assemble(text), st, trace=True)
    one = matmul_acc(ref.ub[0:3], ref.wm[0:4])
    np.testing.assert_array_equal(st.acc[0:3], wrap(6 * one, 32))
    assert [pc for pc, _ in r.trace] == [0, 1, 2] + [3, 4] * 5 + [5]
    assert not st.loop_active or st.halted


def test_loop_can_end_at_the_last_imem_word():
    words = [encode(Instr("NOP")), encode(Instr("LOOP", {"count": 3, "body": 6}))] + [0] * 6
    st, code, pc = run_status(words, MachineState.new(P), imem_depth=8)
    assert (code, pc, st.retired) == (ERR_PC, 7, 2 + 3 * 6)
    words[1] = encode(Instr("LOOP", {"count": 3, "body": 7}))
    st, code, pc = run_status(words, MachineState.new(P), imem_depth=8)
    assert (code, pc, st.retired) == (ERR_LOOP, 1, 1)


def raw(op: str, **args) -> int:
    flags = frozenset(k for k, v in args.items() if v is True)
    return encode(Instr(op, {k: v for k, v in args.items() if v is not True}, flags))


ERROR_CASES = [
    ("illegal opcode", [raw("NOP"), 0xFF], ERR_ILLEGAL, 1),
    ("stray bits", [raw("HALT") | 1 << 40], ERR_ILLEGAL, 0),
    ("SETV act 3", [raw("SETV") | 3 << 8], ERR_ILLEGAL, 0),
    ("MATMUL M=0", [raw("MATMUL", ub=0, acc=0, m=0)], ERR_LEN, 0),
    ("MATMUL M > depth", [raw("MATMUL", ub=0, acc=0, m=49)], ERR_LEN, 0),
    ("MATMUL UB end", [raw("MATMUL", ub=60, acc=0, m=5)], ERR_ADDR, 0),
    ("MATMUL ACC end", [raw("MATMUL", ub=0, acc=44, m=5)], ERR_ADDR, 0),
    ("MATMUL ACC last ok", [raw("MATMUL", ub=0, acc=44, m=4), raw("HALT")], ERR_NONE, 1),
    ("LDW end", [raw("LDW", wm=29)], ERR_ADDR, 0),
    ("LDW last ok", [raw("LDW", wm=28, T=True), raw("HALT")], ERR_NONE, 1),
    ("LDB end", [raw("LDB", ub=64)], ERR_ADDR, 0),
    ("COPY len 0", [raw("COPY", src=0, dst=9, len=0)], ERR_LEN, 0),
    ("COPY T len % P", [raw("COPY", src=0, dst=9, len=6, T=True)], ERR_LEN, 0),
    ("COPY len > depth", [raw("COPY", src=0, dst=0, len=33, SRC_WM=True)], ERR_LEN, 0),
    ("COPY dst end", [raw("COPY", src=0, dst=30, len=3, DST_WM=True)], ERR_ADDR, 0),
    ("COPY src end", [raw("COPY", src=30, dst=0, len=3, SRC_WM=True)], ERR_ADDR, 0),
    ("COPY overlap", [raw("COPY", src=0, dst=3, len=4)], ERR_OVERLAP, 0),
    ("COPY overlap below", [raw("COPY", src=3, dst=0, len=4, T=True)], ERR_OVERLAP, 0),
    ("COPY other memory", [raw("COPY", src=0, dst=0, len=4, DST_WM=True), raw("HALT")], ERR_NONE, 1),
    ("VEC M=0", [raw("VEC", src=0, dst=0, m=0)], ERR_LEN, 0),
    ("VEC src end", [raw("VEC", src=40, dst=0, m=9)], ERR_ADDR, 0),
    ("VEC dst end", [raw("VEC", src=0, dst=60, m=9)], ERR_ADDR, 0),
    ("VEC aux end", [raw("VEC", src=0, dst=0, m=9, aux=60, LOSS=True)], ERR_ADDR, 0),
    ("VEC aux unused", [raw("VEC", src=0, dst=0, m=9, aux=60), raw("HALT")], ERR_NONE, 1),
    ("VEC bgrad addr", [raw("SETBG", acc=48), raw("VEC", src=0, dst=0, m=1, BGRAD=True)], ERR_ADDR, 1),
    ("VEC UB overlap", [raw("VEC", src=0, dst=1, m=2, SRC_UB=True)], ERR_OVERLAP, 0),
    ("VEC aux overlap", [raw("VEC", src=0, dst=5, m=4, aux=7, DERIV=True)], ERR_OVERLAP, 0),
    ("VEC in place", [raw("VEC", src=3, dst=3, m=4, aux=3, DERIV=True, SRC_UB=True), raw("HALT")],
     ERR_NONE, 1),
    ("LOOP count 0", [raw("LOOP", count=0, body=1)], ERR_LOOP, 0),
    ("LOOP body 0", [raw("NOP"), raw("LOOP", count=1, body=0)], ERR_LOOP, 1),
    ("LOOP past IMEM", [raw("NOP")] * 3 + [raw("LOOP", count=2, body=IMEM_DEPTH - 3)], ERR_LOOP, 3),
    ("nested LOOP", [raw("LOOP", count=2, body=3), raw("NOP"), raw("LOOP", count=2, body=1)], ERR_LOOP, 2),
    ("LOOP then LOOP", [raw("LOOP", count=2, body=1), raw("NOP"), raw("LOOP", count=1, body=1),
                        raw("NOP"), raw("HALT")], ERR_NONE, 4),
    ("run off IMEM", [raw("NOP")], ERR_PC, IMEM_DEPTH - 1),
]


@pytest.mark.parametrize("name, words, code, pc", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors(rng, name, words, code, pc):
    st = fresh(rng)
    ref = st.copy()
    state, got_code, got_pc = run_status(words, st)
    assert (got_code, got_pc) == (code, pc), name
    assert state.error == code
    if code != ERR_NONE:
        with pytest.raises(IsaError) as info:
            run(words, ref.copy())
        assert (info.value.code, info.value.pc) == (code, pc)
        # The failing instruction wrote nothing (the instructions before it write no memory either).
        np.testing.assert_array_equal(state.ub, ref.ub)
        np.testing.assert_array_equal(state.acc, ref.acc)
        np.testing.assert_array_equal(state.wm, ref.wm)


def test_program_too_long_and_step_guard():
    with pytest.raises(ValueError, match="does not fit IMEM"):
        run([0] * (IMEM_DEPTH + 1))
    with pytest.raises(RuntimeError, match="did not halt"):
        run([0], max_steps=10)
    with pytest.raises(ValueError, match="P=8"):
        run([1], MachineState.new(4), P=8)
