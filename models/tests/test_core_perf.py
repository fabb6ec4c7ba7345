"""The core's cycle model against the array's schedule, the baseline and the 95% target."""

from __future__ import annotations

import numpy as np
import pytest

from models import core_perf
from models.array_model import stream_cycles
from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W, matmul_acc, random_codes
from models.host_layout import gemm_buffers, gemm_dma_bytes, gemm_dma_program, w_image, x_image, y_from_image
from models.isa_sim import HostMemory, MachineState, run
from models.programs import GemmLayout


@pytest.mark.parametrize("P", [2, 4, 8, 16])
def test_formula_for_m_at_least_p(P: int) -> None:
    for M in (P, P + 1, 3 * P, 256):
        for K, N in ((P, P), (2 * P, 3 * P), (8 * P, 8 * P)):
            t = core_perf.gemm_tiles(K, N, P)
            assert core_perf.gemm_cycles(M, K, N, P) == t * M + 3 * P + 4
            assert core_perf.gemm_cycles(M, K, N, P) == stream_cycles(t, M, P) + core_perf.CORE_OVERHEAD
            assert core_perf.gemm_stall_cycles(M, K, N, P) == P - 2


@pytest.mark.parametrize("P", [2, 4, 8])
def test_small_m_is_bounded_by_the_weight_load(P: int) -> None:
    for M in range(1, P):
        t = core_perf.gemm_tiles(3 * P, 2 * P, P)
        assert core_perf.gemm_cycles(M, 3 * P, 2 * P, P) == (t - 1) * P + M + 3 * P + 4
        assert core_perf.gemm_stall_cycles(M, 3 * P, 2 * P, P) == P - 2 + (t - 1) * (P - max(M, 2))


def test_single_cold_tile() -> None:
    for P in (2, 4, 8):
        # The array's 4P (its latency is 2P with the three-stage MAC) plus the core's fixed overhead.
        assert core_perf.gemm_cycles(P, P, P, P) == 4 * P + core_perf.CORE_OVERHEAD


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


# ---- End to end (data in host memory): the DMA model and the overlapped program ----------------------

@pytest.mark.parametrize("bus_bytes", [4, 8, 16])
def test_bursts_split_at_max_burst_and_4k(bus_bytes: int) -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        addr = int(rng.integers(0, 1 << 16)) * bus_bytes
        nbytes = int(rng.integers(1, 20_000))
        bursts = core_perf.dma_bursts(addr, nbytes, bus_bytes)
        assert sum(bursts) == core_perf.dma_beats(nbytes, bus_bytes) == -(-nbytes // bus_bytes)
        a = addr
        for b in bursts:
            assert 1 <= b <= core_perf.MAX_BURST
            assert a // 4096 == (a + b * bus_bytes - 1) // 4096, "burst crosses 4 KiB"
            a += b * bus_bytes
    # a burst that would cross is split exactly at the boundary
    assert core_perf.dma_bursts(4096 - 3 * 8, 16 * 8, 8) == [3, 13]


def test_dma_cycles_are_beats_plus_latency() -> None:
    assert core_perf.dma_cycles(64, 8, out=False) == 8 + core_perf.DMA_IN_LATENCY
    assert core_perf.dma_cycles(65, 8, out=True) == 9 + core_perf.DMA_OUT_LATENCY


def _overlap_run(M: int, K: int, N: int, P: int) -> None:
    """The overlapped program computes exactly matmul_acc on the ISA simulator (with its DMAs)."""
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    lay = GemmLayout(M, K, N, P)
    buf = gemm_buffers(lay, 0x1000)
    host = HostMemory.zeros(buf.end + 64)
    x, w = random_codes(rng, (M, K)), random_codes(rng, (K, N))
    host.write_words(buf.base + buf.x_off, x_image(x, lay), DATA_W)
    host.write_words(buf.base + buf.w_off, w_image(w, lay), DATA_W)
    run(assemble(core_perf.gemm_dma_overlap_program(buf)), MachineState.new(P), host=host)
    y = y_from_image(host.read_words(buf.base + buf.y_off, lay.nt * M, P, ACC_W), lay)
    assert np.array_equal(y, matmul_acc(x, w))


@pytest.mark.parametrize("P", [2, 4, 8])
def test_overlap_program_is_correct(P: int) -> None:
    for M, K, N in ((1, 1, 1), (P, P, P), (8, 2 * P + 1, P + 2), (3 * P, 3 * P, 2 * P), (3, P, 1)):
        _overlap_run(M, K, N, P)
    with pytest.raises(ValueError, match="not aligned"):
        core_perf.gemm_dma_overlap_program(gemm_buffers(GemmLayout(3, 2 * P, P, P), 0), bus_bytes=64)


@pytest.mark.parametrize("P", [4, 8])
def test_e2e_model_structure(P: int) -> None:
    for M, K, N in ((P, P, P), (64, 4 * P, 4 * P), (100, 3 * P + 1, 2 * P + 3), (256, 8 * P, 8 * P)):
        lay = GemmLayout(M, K, N, P)
        buf = gemm_buffers(lay, 0x10000)
        words = len(assemble(gemm_dma_program(buf)))
        m = core_perf.e2e_model(buf, "serial", words, 8)
        assert m.dma_bytes == gemm_dma_bytes(lay, words)
        assert m.gemm_part == core_perf.gemm_cycles(M, K, N, P) + 1
        # serial: fetch, the DMAs and the GEMM one after another, plus the fixed edges
        fixed = (core_perf.FETCH_TO_CORE + core_perf.RUN_START + core_perf.RUN_TAIL
                 + core_perf.DMA_GAP * (len(m.windows) - 3))
        assert m.cycles == sum(m.windows) + m.gemm_part + fixed
        assert m.dma_stall == core_perf.DMA_IN_STALL * (len(m.windows) - 1) + core_perf.DMA_OUT_STALL
        ov_words = len(assemble(core_perf.gemm_dma_overlap_program(buf)))
        ov = core_perf.e2e_model(buf, "overlap", ov_words, 8)
        assert ov.dma_bytes == gemm_dma_bytes(lay, ov_words)
        if lay.kt > 1:
            assert ov.cycles < m.cycles, (M, K, N, ov.cycles, m.cycles)


def test_e2e_model_dma_bound_blocks() -> None:
    # P=8, one N tile: X block k+1 (2M beats) outlasts block k's compute (M + 3P + 2 edges)
    P, M = 8, 64
    lay = GemmLayout(M, 4 * P, P, P)
    buf = gemm_buffers(lay, 0x10000)
    m = core_perf.e2e_model(buf, "overlap", 20, 8)
    d = core_perf.dma_cycles(M * 2 * P, 8, out=False)
    assert d + core_perf.DMA_GAP > core_perf.gemm_cycles(M, P, P, P)
    # two DMA-bound block periods, then the last X block delays the last block's MATMUL
    last = core_perf.gemm_cycles(M, 2 * P, P, P) + (d - (P - 2 + max(M, P)))
    assert m.gemm_part == core_perf.DMA_GAP + 2 * (d + core_perf.DMA_GAP) + last
