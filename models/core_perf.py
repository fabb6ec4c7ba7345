"""Analytical cycle model of the Systole core (docs/core.md, "Cycle model").

The numbers here are exact: the core's performance counters must equal them for the programs of
`models.programs.gemm_program` (tb/core asserts it). Derivation, with s the edge that samples start_i:

* the first LDW issues at s+1 (the IMEM read of pc 0 happens at s itself) and reads WMEM at s+2 .. s+P+1;
  the array samples each row one edge after its read, so the first weight shift is at edge s+3;
* from then on the array runs its fastest legal schedule (docs/architecture.md):
  `stream_cycles(T, M, P) = (T-1)*max(M, P) + M + 3P - 2` edges up to the one that registers the last
  result row on y;
* one edge later the last ACC write happens, and the done edge follows one edge after that.

So `gemm_cycles = 2 + stream_cycles + 2`: fetch/issue and the WMEM read before the first shift, the ACC
write-back and the HALT/done edge after the last result. For M >= P that is `T*M + 3P + 2`.
"""

from __future__ import annotations

from models.array_model import stream_cycles

# Edges of the core that are not array edges: issue + WMEM read before, ACC write + done after.
CORE_OVERHEAD = 4


def _tiles(n: int, p: int) -> int:
    return -(-n // p)


def _check(M: int, K: int, N: int, P: int) -> None:
    if min(M, K, N) < 1 or P < 2:
        raise ValueError(f"GEMM {M}x{K}x{N} on P={P}: dimensions must be >= 1 and P >= 2")


def gemm_tiles(K: int, N: int, P: int) -> int:
    """Weight tiles of a K x N matrix on a P x P array: ceil(K/P) * ceil(N/P)."""
    return _tiles(K, P) * _tiles(N, P)


def gemm_cycles(M: int, K: int, N: int, P: int) -> int:
    """Exact cycles (start to done, the core's perf_cycles_o) of `gemm_program(M, K, N, P)`."""
    _check(M, K, N, P)
    return stream_cycles(gemm_tiles(K, N, P), M, P) + CORE_OVERHEAD


def gemm_stall_cycles(M: int, K: int, N: int, P: int) -> int:
    """Exact weight-load stall cycles (perf_wstall_o) of `gemm_program(M, K, N, P)`.

    The first MATMUL waits for the first LDW (P - 2 cycles). A later MATMUL with SWAP waits only when
    M < P: the array is free after M rows but the next tile needs P edges to shift in; it is decoded
    two edges after the previous MATMUL issued (the LDW in between issues first), so it waits
    P - max(M, 2) cycles.
    """
    _check(M, K, N, P)
    t = gemm_tiles(K, N, P)
    return (P - 2) + (t - 1) * max(0, P - max(M, 2))


def gemm_rows(M: int, K: int, N: int, P: int) -> int:
    """Rows entering the array (perf_rows_o, the array-busy cycles): M per tile."""
    _check(M, K, N, P)
    return gemm_tiles(K, N, P) * M


def baseline_cycles(M: int, K: int, N: int, P: int) -> int:
    """Without double buffering (SCALE-Sim weight stationary): tiles * (2P + P + M - 2)."""
    _check(M, K, N, P)
    return gemm_tiles(K, N, P) * (3 * P + M - 2)


def ideal_cycles(M: int, K: int, N: int, P: int) -> float:
    """The compute floor M*K*N / P^2 (every PE busy every cycle, no padding)."""
    _check(M, K, N, P)
    return M * K * N / (P * P)


def mac_efficiency(M: int, K: int, N: int, P: int) -> float:
    """Fraction of the ideal MAC rate reached: ideal_cycles / gemm_cycles."""
    return ideal_cycles(M, K, N, P) / gemm_cycles(M, K, N, P)
