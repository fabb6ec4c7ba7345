"""GEMM benchmark on tpu_core (run by scripts/bench.py, not by pytest).

For every shape in BENCH_SHAPES (JSON list of [M, K, N]) it runs `gemm_program` with the data on chip,
checks Y bit for bit against numpy, checks the cycle counter against the analytical model, and appends
one JSON line per shape to BENCH_OUT. A wrong result or a count that differs from the model fails the
bench: a benchmark that reports numbers from a broken run is worse than none.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from models import core_perf
from models.asm import assemble
from models.fixed_point import ACC_W, matmul_acc, random_codes
from models.programs import GemmLayout, gemm_program, place_gemm
from tb.common.core_env import MEM_ACC, CoreEnv, unpack


@cocotb.test()
async def gemm_shapes(dut):
    env = CoreEnv(dut)
    await env.reset()
    P = env.P
    shapes = json.loads(os.environ["BENCH_SHAPES"])
    with open(os.environ["BENCH_OUT"], "a") as out:
        for M, K, N in shapes:
            text, lay = gemm_program(M, K, N, P, GemmLayout(M, K, N, P))
            st = env.new_state()
            x = random_codes(env.rng, (M, K))
            w = random_codes(env.rng, (K, N))
            place_gemm(st, x, w, lay)
            await env.load(st, assemble(text))
            status = await env.run(timeout_cycles=10 * core_perf.gemm_cycles(M, K, N, P))
            assert status.error == 0, f"GEMM {M}x{K}x{N}: core stopped with error {status.error}"
            blocks = []
            for j in range(lay.nt):
                words = await env.read_mem(MEM_ACC, lay.y_addr(j), M)
                blocks.append(np.array([unpack(v, P, ACC_W) for v in words]))
            y = np.concatenate(blocks, axis=1)[:, :N]
            assert np.array_equal(y, matmul_acc(x, w)), f"GEMM {M}x{K}x{N}: wrong result"
            model = core_perf.gemm_cycles(M, K, N, P)
            assert status.cycles == model, f"GEMM {M}x{K}x{N}: {status.cycles} cycles, model says {model}"
            row = {
                "P": P, "M": M, "K": K, "N": N,
                "tiles": core_perf.gemm_tiles(K, N, P),
                "cycles": status.cycles,
                "model_cycles": model,
                "ideal_cycles": core_perf.ideal_cycles(M, K, N, P),
                "no_double_buffer_cycles": core_perf.baseline_cycles(M, K, N, P),
                "array_rows": status.rows,
                "macs": M * K * N,
                "weight_stall_cycles": status.wstall,
                "utilization": core_perf.ideal_cycles(M, K, N, P) / status.cycles,
            }
            out.write(json.dumps(row) + "\n")
            out.flush()
            dut._log.info("GEMM %dx%dx%d on P=%d: %d cycles (model %d)", M, K, N, P, status.cycles, model)
