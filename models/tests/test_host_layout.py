"""gemm_dma_program on the ISA simulator with a host-memory model: bit-exact Y, DMA errors, round trips."""

import numpy as np
import pytest

from models.asm import assemble, disassemble
from models.fixed_point import matmul_acc, random_codes
from models.host_layout import gemm_buffers, gemm_dma_program, w_image, x_image, y_from_image
from models.isa import ERR_DMA_ADDR, ERR_DMA_DEC, ERR_DMA_SLV, ERR_NONE
from models.isa_sim import HostMemory, MachineState, pack_rows, run_status, unpack_rows
from models.programs import GemmLayout


def _setup(M, K, N, P, rng, base=0x1000):
    lay = GemmLayout(M, K, N, P)
    buf = gemm_buffers(lay, base)
    host = HostMemory.zeros(buf.end + 256)
    x, w = random_codes(rng, (M, K)), random_codes(rng, (K, N))
    host.write_words(base + buf.x_off, x_image(x, lay), 16)
    host.write_words(base + buf.w_off, w_image(w, lay), 16)
    return lay, buf, host, x, w


@pytest.mark.parametrize("P", [2, 4, 8])
def test_gemm_dma_bit_exact(P):
    rng = np.random.default_rng(P)
    for M, K, N in [(1, 1, 1), (P, P, P), (3 * P + 1, 2 * P - 1, P + 3)]:
        lay, buf, host, x, w = _setup(M, K, N, P, rng)
        words = assemble(gemm_dma_program(buf))
        st, code, _ = run_status(words, MachineState.new(P), host=host)
        assert code == ERR_NONE
        y = y_from_image(host.read_words(buf.base + buf.y_off, lay.nt * M, P, 32), lay)
        assert np.array_equal(y, matmul_acc(x, w))


def test_dma_errors():
    rng = np.random.default_rng(1)
    lay, buf, host, _, _ = _setup(4, 4, 4, 4, rng)
    words = assemble(gemm_dma_program(buf))
    host.errors = [(buf.base + buf.w_off + 8, buf.base + buf.w_off + 9, 2)]
    _, code, pc = run_status(words, MachineState.new(4), host=host)
    assert (code, pc) == (ERR_DMA_SLV, 2)  # SETH, DMA X, DMA W
    host.errors = [(buf.base + buf.y_off, buf.base + buf.y_off + 1, 3)]
    assert run_status(words, MachineState.new(4), host=host)[1] == ERR_DMA_DEC
    host.errors = []
    st = MachineState.new(4)
    _, code, pc = run_status(assemble("SETH 4\nDMA IN, UB, 0, 1, 0\nHALT"), st, host=host)
    assert (code, pc) == (ERR_DMA_ADDR, 1)  # misaligned to the 8-byte bus
    _, code, _ = run_status(assemble("SETH 0xFFFFFFF8\nDMA IN, UB, 0, 2, 0\nHALT"), st, host=host)
    assert code == ERR_DMA_ADDR  # past the 32-bit address space
    big = HostMemory.zeros(64)
    assert run_status(assemble("SETH 0\nDMA OUT, ACC, 0, 5, 0\nHALT"), st, host=big)[1] == ERR_DMA_DEC


def test_seth_and_roundtrip():
    words = assemble("SETH 0x12345678\nSETH 0x9, HI\nDMA OUT, ACC, 5, 7, 0x40\nDMA IN, WM, 0, 1, 0\n")
    assert assemble(disassemble(words)) == words
    st = MachineState.new(4)
    run_status(words[:2] + assemble("HALT"), st)
    assert st.host_base == 0x9_12345678
    rows = np.array([[1, -2, 3, -32768], [32767, 0, -1, 5]])
    assert np.array_equal(unpack_rows(pack_rows(rows, 16), 4, 16), rows)
