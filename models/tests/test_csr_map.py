"""The CSR map: tpu_pkg.sv (offsets, bits), models/csr.py (names, access, reset) and docs/csr.md agree."""

from __future__ import annotations

import re

import pytest

from models import csr
from models.hw import PKG, constants

DOC = PKG.parents[1] / "docs" / "csr.md"
_ROW = re.compile(r"^\|\s*(0x[0-9A-Fa-f]+)\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|\s*(\S+)\s*\|(.*)\|\s*$")
_FIELD = re.compile(r"^\[(\d+)(?::(\d+))?\]\s+([A-Z][A-Z0-9_]*)$")


def doc_rows() -> dict[str, tuple[int, str, str, str]]:
    """The register table of docs/csr.md: name -> (offset, access, reset text, fields text)."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            off, name, access, reset, fields = m.groups()
            assert name not in rows, f"{name} documented twice"
            rows[name] = (int(off, 16), access, reset, fields.strip())
    return rows


def doc_fields(text: str) -> dict[str, tuple[int, int]]:
    """Named fields of a table cell, e.g. '[0] START, [15:8] ERR_CODE' -> {name: (lsb, width)}."""
    found = {}
    for part in (p.strip() for p in text.split(",")):
        m = _FIELD.match(part)
        if m:
            hi, lo, name = int(m.group(1)), m.group(2), m.group(3)
            lsb = int(lo) if lo is not None else hi
            found[name] = (lsb, hi - lsb + 1)
    return found


def test_offsets_unique_aligned_in_range():
    regs = csr.registers().values()
    offsets = [r.offset for r in regs]
    assert len(set(offsets)) == len(offsets)
    span = 1 << csr.const("CsrAddrW")
    assert all(o % 4 == 0 and 0 <= o < span for o in offsets)


def test_every_package_offset_is_in_the_model():
    offsets = {k for k in constants() if k.startswith("Csr")} - {"CsrAddrW", "CsrVersionValue"}
    assert offsets == {r.param for r in csr.registers().values()}


def test_doc_table_matches_model():
    rows = doc_rows()
    regs = csr.registers()
    assert set(rows) == set(regs), f"documented {sorted(set(rows) ^ set(regs))} differ"
    for name, reg in regs.items():
        off, access, reset, _ = rows[name]
        assert off == reg.offset, f"{name}: docs say {off:#x}, tpu_pkg.sv says {reg.offset:#x}"
        assert access == reg.access, f"{name}: access {access} vs {reg.access}"
        if reg.reset == csr.CONFIG:
            assert reset == "config", name
        else:
            assert int(reset, 16) == reg.reset, f"{name}: reset {reset} vs {reg.reset:#x}"


@pytest.mark.parametrize("reg", ["CTRL", "STATUS", "REJECTS", "IRQ_ENABLE", "IRQ_STATUS", "DMA_CFG",
                                 "CFG_ARRAY", "CFG_DMA"])
def test_doc_fields_match_package(reg):
    model = csr.FIELDS["IRQ" if reg.startswith("IRQ_") else reg]
    assert doc_fields(doc_rows()[reg][3]) == model


def test_fields_do_not_overlap():
    for reg, fields in csr.FIELDS.items():
        used = 0
        for lsb, width in fields.values():
            mask = ((1 << width) - 1) << lsb
            assert not used & mask and lsb + width <= 32, reg
            used |= mask


def test_irq_bits_count():
    assert len(csr.FIELDS["IRQ"]) == csr.const("IrqW")


def test_expected_response():
    assert csr.expected_response(csr.offset("STATUS"), write=True) == csr.SLVERR
    assert csr.expected_response(csr.offset("STATUS"), write=False) == csr.OKAY
    assert csr.expected_response(csr.offset("PROG_LEN"), write=True) == csr.OKAY
    assert csr.expected_response(0x3C, write=False) == csr.DECERR
    assert csr.expected_response(0xFC, write=True) == csr.DECERR


def test_field_helpers():
    status = 5 << csr.FIELDS["STATUS"]["DMA_ERR_CODE"][0] | csr.bit("STATUS", "DONE")
    assert csr.field(status, "STATUS", "DMA_ERR_CODE") == 5
    assert csr.field(status, "STATUS", "DONE") == 1
    assert csr.field(status, "STATUS", "BUSY") == 0
