"""tpu_core corners the random programs reach rarely (coverage closure, docs/verification.md), on
test_core.py's testbench and configuration (P = 2), every run compared with the ISA simulator.

* gemm_max    GEMMs whose M, K or N is the largest the memories allow with the other two at P (and all
              three at their joint maximum for M): Y bit exact against matmul_acc, memories against the ISA
              sim, cycles / rows / MACs / stalls against models.core_perf (never hard-coded).
* loop_edges  LOOP bodies of one instruction and of the maximum (the body ends on the last IMEM word, the
              HALT after it would be past IMEM: the run ends as the ISA sim says), and one word too long
              (ErrLoop).
"""

from __future__ import annotations

import cocotb
import pytest

from models.asm import assemble
from models.isa import ERR_LOOP, ERR_NONE, OPS
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


@pytest.mark.parametrize("P", [2])
def test_cover_core(sim: str, P: int) -> None:
    runner.run(sim, "tpu_core", "tb.core.test_cover_core", rtl_sources(*SOURCES), {"P": P, **depths(P)})
