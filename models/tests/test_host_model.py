"""The host-interface reference model (models/host_model.py) against the rules of docs/csr.md and host.md."""

from __future__ import annotations

import numpy as np

from models import csr
from models.asm import assemble
from models.host_model import ERR, HostModel, SparseBytes, bursts
from models.hw import const
from models.isa_sim import HostMemory

DEPTHS = {"IMEM": 64, "UB": 64, "WM": 32, "ACC": 32}
CTRL = {n: csr.bit("CTRL", n) for n in csr.FIELDS["CTRL"]}


def model(size: int = 1 << 16) -> HostModel:
    m = HostModel(4, DEPTHS, 8, HostMemory(bytearray(size)))
    for name, value in (("DMA_WIN_LIMIT_LO", 0xFFFFFFFF), ("DMA_WIN_LIMIT_HI", 0xFFFFFFFF)):
        m.write(csr.offset(name), value)
    return m


def field(m: HostModel, name: str) -> int:
    return csr.field(m.read(csr.offset("STATUS"))[0], "STATUS", name)


def load(m: HostModel, words: list[int], base: int = 0) -> None:
    m.host.data[base:base + 8 * len(words)] = b"".join(w.to_bytes(8, "little") for w in words)
    m.write(csr.offset("PROG_BASE_LO"), base & 0xFFFFFFFF)
    m.write(csr.offset("PROG_BASE_HI"), base >> 32)
    m.write(csr.offset("PROG_LEN"), len(words))


def test_bursts_split_at_max_burst_and_4k():
    assert bursts(0, 8, 8, 16) == [(0, 1)]
    assert bursts(0, 8 * 20, 8, 16) == [(0, 16), (128, 4)]
    assert bursts(0xFF8, 24, 8, 16) == [(0xFF8, 1), (0x1000, 2)]
    assert bursts(0, 12, 8, 16) == [(0, 2)]  # a partial last beat is still a beat


def test_run_outcome_and_irq():
    m = model()
    m.write(csr.offset("IRQ_ENABLE"), csr.bit("IRQ", "DONE"))
    load(m, assemble("NOP\nHALT"))
    m.write(csr.offset("CTRL"), CTRL["START"])
    assert field(m, "BUSY") and field(m, "DMA_BUSY") and m.irq() == 0
    p = m.complete()
    assert (p.code, p.pc, p.bursts) == (0, 1, [("R", 0, 2)])
    assert field(m, "DONE") and not field(m, "BUSY") and m.irq() == 1
    assert m.read(csr.offset("DMA_BYTES_LO"))[0] == 16 and m.read(csr.offset("DMA_BYTES_HI"))[0] == 0
    m.write(csr.offset("IRQ_STATUS"), 0xFF)
    assert m.irq() == 0


def test_start_and_dma_start_together_reject_the_dma():
    m = model()
    load(m, assemble("HALT"))
    m.write(csr.offset("CTRL"), CTRL["START"] | CTRL["DMA_START"])
    assert m.read(csr.offset("REJECTS"))[0] == 1 << 16
    assert m.irq_st & csr.bit("IRQ", "REJECT") and not m.pending.host


def test_start_while_busy_and_cnt_clear_wins():
    m = model()
    load(m, assemble("HALT"))
    m.write(csr.offset("CTRL"), CTRL["START"])
    m.write(csr.offset("CTRL"), CTRL["START"])
    m.write(csr.offset("CTRL"), CTRL["DMA_START"])
    assert m.read(csr.offset("REJECTS"))[0] == 1 << 16 | 1
    m.write(csr.offset("CTRL"), CTRL["START"] | CTRL["CNT_CLEAR"])
    assert m.read(csr.offset("REJECTS"))[0] == 0


def test_rejects_saturate():
    m = model()
    load(m, assemble("HALT"))
    m.write(csr.offset("CTRL"), CTRL["START"])
    for _ in range(0x10005):
        m.write(csr.offset("CTRL"), CTRL["START"])
    assert m.read(csr.offset("REJECTS"))[0] == 0xFFFF


def test_abort_with_start_rejects_and_abort_of_a_run():
    m = model()
    load(m, assemble("HALT"))
    m.write(csr.offset("CTRL"), CTRL["START"] | CTRL["ABORT"])
    assert not m.busy and m.read(csr.offset("REJECTS"))[0] == 1
    m.write(csr.offset("CTRL"), CTRL["START"])
    m.write(csr.offset("CTRL"), CTRL["ABORT"])
    p = m.complete()
    assert (p.code, p.pc) == (ERR["ErrAbort"], None) and field(m, "ERR_CODE") == ERR["ErrAbort"]


def test_window_refuses_fetch_and_program_dma_without_bus():
    m = model()
    load(m, assemble("SETH 0x800\nDMA IN, UB, 0, 1, 0\nHALT"))
    m.write(csr.offset("DMA_WIN_LIMIT_HI"), 0)
    m.write(csr.offset("DMA_WIN_LIMIT_LO"), 0x808)  # fetch inside, the DMA's 8 bytes at the edge
    m.write(csr.offset("CTRL"), CTRL["START"])
    assert m.complete().code == 0
    m.write(csr.offset("DMA_WIN_LIMIT_LO"), 0x807)  # one byte short: the DMA is refused
    m.write(csr.offset("CTRL"), CTRL["START"])
    p = m.complete()
    assert (p.code, p.pc) == (ERR["ErrDmaWindow"], 1) and p.bursts == [("R", 0, 3)]
    m.write(csr.offset("DMA_WIN_BASE_LO"), 8)  # the fetch itself is outside
    m.write(csr.offset("CTRL"), CTRL["START"])
    p = m.complete()
    assert (p.code, p.pc, p.bursts, p.bytes) == (ERR["ErrDmaWindow"], 0, [], 0)


def test_dma_before_an_illegal_word_or_errpc_moves_its_bytes():
    """The last instruction traced before ErrIllegal (never traced) or ErrPc (after a completed
    instruction) did its work: its DMA's bytes and bursts count (tb/top/test_cover_top.py found this)."""
    m = model()
    dma = "SETH 0x800\nDMA IN, UB, 0, 2, 0"
    for text, code in ((f"{dma}\n.word 0x8000000000000000", ERR["ErrIllegal"]),
                       ("\n".join(["NOP"] * (DEPTHS["IMEM"] - 2) + dma.split("\n")), ERR["ErrPc"])):
        load(m, assemble(text))
        m.write(csr.offset("CTRL"), CTRL["START"])
        p = m.complete()
        nwords = len(assemble(text))
        assert p.code == code and p.bytes == nwords * 8 + 2 * 8, (text[-40:], p)
        assert p.bursts[-1] == ("R", 0x800, 2)


def test_window_reset_is_closed():
    m = HostModel(4, DEPTHS, 8, HostMemory(bytearray(64)))
    load(m, assemble("HALT"))
    m.write(csr.offset("CTRL"), CTRL["START"])
    assert m.complete().code == ERR["ErrDmaWindow"]


def test_fetch_errors():
    m = model()
    load(m, [])
    m.write(csr.offset("CTRL"), CTRL["START"])
    assert m.complete().code == ERR["ErrLen"]
    load(m, assemble("HALT"), base=1 << 32)
    m.write(csr.offset("CTRL"), CTRL["START"])
    assert m.complete().code == ERR["ErrDmaAddr"]


def test_seth_base_past_2_64_is_an_address_error():
    m = HostModel(4, DEPTHS, 8, HostMemory(SparseBytes(1 << 32)))
    m.write(csr.offset("DMA_WIN_LIMIT_LO"), 0xFFFFFFFF)
    m.write(csr.offset("DMA_WIN_LIMIT_HI"), 0xFFFFFFFF)
    load(m, assemble("SETH 0xFFFFFFF8\nSETH 0xFFFFFFFF, HI\nDMA IN, UB, 0, 1, 8\nHALT"))
    m.write(csr.offset("CTRL"), CTRL["START"])
    p = m.complete()
    assert (p.code, p.pc) == (ERR["ErrDmaAddr"], 2)


def test_host_dma_round_trip_at_the_top_of_the_space():
    m = HostModel(4, DEPTHS, 8, HostMemory(SparseBytes(1 << 32)))
    top = (1 << 32) - 8
    m.host.data[top:top + 8] = bytes(range(1, 9))
    for name, v in (("DMA_HOST_LO", top), ("DMA_MEM_ADDR", 5), ("DMA_LEN", 1),
                    ("DMA_CFG", const("MemSelUb") << 4)):
        m.write(csr.offset(name), v)
    m.write(csr.offset("CTRL"), CTRL["DMA_START"])
    p = m.complete()
    assert (p.code, p.bursts) == (0, [("R", top, 1)]) and field(m, "DMA_DONE")
    assert m.state.ub[5].astype(np.int64).tolist() == [0x0201, 0x0403, 0x0605, 0x0807]
    m.write(csr.offset("DMA_HOST_LO"), top + 8 - (1 << 32))  # 0
    m.write(csr.offset("DMA_HOST_HI"), 1)                    # 2^32: too wide for AddrW = 32
    m.write(csr.offset("CTRL"), CTRL["DMA_START"])
    assert m.complete().code == const("DmaErrRange")


def test_byte_strobes_and_snapshot():
    m = model()
    m.write(csr.offset("PROG_LEN"), 0x11223344)
    m.write(csr.offset("PROG_LEN"), 0xAABBCCDD, strb=0b0101)
    assert m.read(csr.offset("PROG_LEN"))[0] == 0x11BB33DD
    m.write(csr.offset("DMA_CFG"), 0x31, strb=0b0010)
    assert m.read(csr.offset("DMA_CFG"))[0] == 0
    m.cnt["MACS"] = 5 << 32 | 7
    assert m.read(csr.offset("MACS_HI"))[0] == 0  # no LO read yet: the reset snapshot
    assert m.read(csr.offset("MACS_LO"))[0] == 7 and m.read(csr.offset("MACS_HI"))[0] == 5
    assert m.read(0x3C) == (0, csr.DECERR) and m.write(csr.offset("STATUS"), 1) == csr.SLVERR
