"""The core's cycle model against the array's schedule, the baseline and the 95% target."""

from __future__ import annotations

import pytest

from models import core_perf
from models.array_model import stream_cycles


@pytest.mark.parametrize("P", [2, 4, 8, 16])
def test_formula_for_m_at_least_p(P: int) -> None:
    for M in (P, P + 1, 3 * P, 256):
        for K, N in ((P, P), (2 * P, 3 * P), (8 * P, 8 * P)):
            t = core_perf.gemm_tiles(K, N, P)
            assert core_perf.gemm_cycles(M, K, N, P) == t * M + 3 * P + 2
            assert core_perf.gemm_cycles(M, K, N, P) == stream_cycles(t, M, P) + core_perf.CORE_OVERHEAD
            assert core_perf.gemm_stall_cycles(M, K, N, P) == P - 2


@pytest.mark.parametrize("P", [2, 4, 8])
def test_small_m_is_bounded_by_the_weight_load(P: int) -> None:
    for M in range(1, P):
        t = core_perf.gemm_tiles(3 * P, 2 * P, P)
        assert core_perf.gemm_cycles(M, 3 * P, 2 * P, P) == (t - 1) * P + M + 3 * P + 2
        assert core_perf.gemm_stall_cycles(M, 3 * P, 2 * P, P) == P - 2 + (t - 1) * (P - max(M, 2))


def test_single_cold_tile() -> None:
    for P in (2, 4, 8):
        # The array's 4P - 2 plus the core's fixed overhead.
        assert core_perf.gemm_cycles(P, P, P, P) == 4 * P - 2 + core_perf.CORE_OVERHEAD


def test_padding_counts_whole_tiles() -> None:
    assert core_perf.gemm_tiles(5, 9, 4) == 2 * 3
    assert core_perf.gemm_rows(7, 5, 9, 4) == 6 * 7


@pytest.mark.parametrize("P", [2, 4, 8, 16])
def test_large_gemm_reaches_95_percent(P: int) -> None:
    M, K, N = 256, 8 * P, 8 * P
    eff = core_perf.mac_efficiency(M, K, N, P)
    assert eff >= 0.95, f"P={P}: {eff:.3f}"
    # Double buffering beats the baseline whenever there is more than one tile.
    assert core_perf.gemm_cycles(M, K, N, P) < core_perf.baseline_cycles(M, K, N, P)


def test_rejects_empty_shapes() -> None:
    with pytest.raises(ValueError):
        core_perf.gemm_cycles(0, 4, 4, 4)
    with pytest.raises(ValueError):
        core_perf.gemm_cycles(4, 4, 4, 1)
