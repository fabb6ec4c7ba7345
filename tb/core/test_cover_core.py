"""tpu_core corners the random programs reach rarely (coverage closure, docs/verification.md), on
test_core.py's testbench and configurations (P = 2 and 4), every run compared with the ISA simulator.

* gemm_max    GEMMs whose M, K or N is the largest the memories allow with the other two at P (and all
              three at their joint maximum for M): Y bit exact against matmul_acc, memories against the ISA
              sim, cycles / rows / MACs / stalls against models.core_perf (never hard-coded).
* counter_carries  the four 64-bit performance counters placed one below the carry into each bit k
              (2^k - 1, k = 1..64: a state 2^k cycles of counting would reach) in the first cycle of a GEMM
              run: at done each reads the placed value plus models.core_perf's count, modulo 2^64.
* vec_paths   VEC with every pathway combination from ACC and from UB, against the ISA sim.
* range_relations  COPY / VEC destinations in every relation to their source and aux ranges (disjoint,
                   adjacent, one word into them on either side, identical).
* loop_edges  LOOP bodies of one instruction and of the maximum (the body ends on the last IMEM word, the
              HALT after it would be past IMEM: the run ends as the ISA sim says), and one word too long
              (ErrLoop).
"""

from __future__ import annotations

import cocotb
import pytest

from models import core_perf
from models.asm import assemble
from models.fixed_point import random_codes
from models.isa import ERR_LOOP, ERR_NONE, ERR_OVERLAP, OPS, VEC_PATH_FLAGS
from models.programs import gemm_program, place_gemm
from tb.common import runner
from tb.common.core_env import CoreEnv
from tb.common.tools import rtl_sources
from tb.core.test_core import SOURCES, _gemm, depths


def max_shapes(env: CoreEnv) -> list[tuple[int, int, int]]:
    """(M, K, N) with one dimension at its largest for the other two fixed at P (fcov.sample_gemm's rule)."""
    P, ub, wm, acc = env.P, env.ub_depth, env.wm_depth, env.acc_depth
    m_max = min(ub, acc, OPS["MATMUL"].field("m").max)  # K = N = P: one tile each
    k_max = min(ub // P, wm // P) * P                   # M = N = P
    n_max = min(acc // P, wm // P) * P                  # M = K = P
    return [(m_max, P, P), (P, k_max, P), (P, P, n_max)]


@cocotb.test()
async def gemm_max(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    for M, K, N in max_shapes(env):
        await _gemm(env, M, K, N)


@cocotb.test()
async def counter_carries(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    P = env.P
    shapes = [(1, 2 * P, 2 * P), (P - 1, 2 * P, P), (2, 2 * P, 2 * P)]
    # A shape with weight-load stalls, so all four counters count (P = 2 has none: P - 2 = 0).
    shape = next((s for s in shapes if core_perf.gemm_stall_cycles(*s, P) > 0), None)
    if shape is None:
        env.log.info("P = %d: no GEMM stalls on weights; the carries run at larger P", P)
        return
    M, K, N = shape
    text, lay = gemm_program(M, K, N, P)
    words = assemble(text)
    st = env.random_state()
    place_gemm(st, random_codes(env.rng, (M, K)), random_codes(env.rng, (K, N)), lay)
    await env.run_and_check(st, words, f"GEMM {M}x{K}x{N}")
    cycles, rows = core_perf.gemm_cycles(M, K, N, P), core_perf.gemm_rows(M, K, N, P)
    stalls = core_perf.gemm_stall_cycles(M, K, N, P)
    mask = (1 << 64) - 1
    for k in range(1, 65):
        base = (1 << k) - 1
        await env.start()  # returns in the run's first cycle: the counters were cleared at the start edge
        for name in ("cycles_q", "rows_q", "wstall_q"):
            getattr(dut, name).value = base
        status = await env.wait_done()
        got = (status.cycles, status.rows, status.macs, status.wstall)
        exp = ((base + cycles) & mask, (base + rows) & mask, (base + rows) * P * P & mask,
               (base + stalls) & mask)
        assert got == exp, f"counters {got} placed at 2^{k} - 1, expected {exp}"


@cocotb.test()
async def loop_edges(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    depth = env.imem_depth
    programs = {
        "body of one": "LOOP 3, 1\nCOPY UB, 0, UB, 4, 2\nHALT",
        # LOOP at L = 2 whose body ends on the last IMEM word: ImemDepth - 1 - L words.
        "body to the last word": "\n".join(["NOP", "NOP", f"LOOP 2, {depth - 3}"] + ["NOP"] * (depth - 4)
                                           + ["HALT"]),
        "body past IMEM": "\n".join(["NOP", f"LOOP 2, {depth - 1}", "HALT"]),
    }
    outcomes = {}
    for what, text in programs.items():
        words = assemble(text)
        assert len(words) <= depth, what
        status, _ = await env.run_and_check(env.random_state(), words, what)
        outcomes[what] = status.error
    # The ISA sim decided each outcome; these say the programs test what their names say.
    assert outcomes == {"body of one": ERR_NONE, "body to the last word": ERR_NONE,
                        "body past IMEM": ERR_LOOP}, outcomes


@cocotb.test()
async def vec_paths(dut) -> None:
    """VEC with each of the 32 pathway combinations, from ACC and from UB: memories, error and PC equal to
    the ISA sim's (ranges chosen apart, so each runs; BGRAD accumulates into ACC 20)."""
    env = CoreEnv(dut)
    await env.reset()
    st = env.random_state()
    await env.load(st, [])
    for path in range(1 << len(VEC_PATH_FLAGS)):
        for src in ("ACC", "UB"):
            flags = [f for k, f in enumerate(VEC_PATH_FLAGS) if path >> k & 1]
            text = "\n".join(["SETV act=leaky, shift=4, slope=32, loss_scale=3, loss_shift=2", "SETBG 20",
                              ", ".join([f"VEC {src}, 0, 8, 3", *flags, "aux=16"]), "HALT"])
            status, st = await env.run_and_check(st, assemble(text), f"VEC path {path:05b} from {src}",
                                                 load_data=path == 0 and src == "ACC")
            assert status.error == ERR_NONE, f"VEC path {path:05b} from {src}: error {status.error}"


# Destination starts for a range of 3 words against one starting at word 8, per relation of the destination
# to it (tb/common/fcov.py::relation): the overlapping ones stop with ErrOverlap (docs/isa.md §5), the rest
# run (identical: in place).
RELATION_DST = {"disjoint": 20, "adjacent_below": 5, "adjacent_above": 11, "overlap1_below": 6,
                "overlap1_above": 10, "identical": 8}


@cocotb.test()
async def range_relations(dut) -> None:
    """COPY's destination against its source, VEC's against its UB source and against its aux range, in
    every relation (disjoint, adjacent on either side, one word into it on either side, identical): the
    error the documented rule gives and every memory equal to the ISA sim's."""
    env = CoreEnv(dut)
    await env.reset()
    st = env.random_state()
    await env.load(st, [])
    for rel, dst in RELATION_DST.items():
        code = ERR_OVERLAP if rel.startswith("overlap") else ERR_NONE
        for text in (f"COPY UB, 8, UB, {dst}, 3", f"VEC UB, 8, {dst}, 3",
                     f"VEC ACC, 0, {dst}, 3, LOSS, aux=8"):
            status, st = await env.run_and_check(st, assemble(text + "\nHALT"), f"{rel}: {text}",
                                                 load_data=False)
            assert status.error == code, f"{rel}: {text}: error {status.error}, expected {code}"


@pytest.mark.parametrize("P", [2, 4])
def test_cover_core(sim: str, P: int) -> None:
    runner.run(sim, "tpu_core", "tb.core.test_cover_core", rtl_sources(*SOURCES), {"P": P, **depths(P)})
