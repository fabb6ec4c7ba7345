"""ISA tables and encoding: every opcode and field round-trips, illegal words are rejected."""

from __future__ import annotations

import numpy as np
import pytest

from models.hw import constants
from models.isa import (
    ACT_MAX,
    BY_CODE,
    ERROR_NAMES,
    FLAGS_FIELD,
    INSTR_W,
    OP_FIELD,
    OPS,
    IllegalInstruction,
    Instr,
    decode,
    encode,
)

SEED = 20240611


def random_instr(rng: np.random.Generator, op: str) -> Instr:
    """A random legal instruction of `op`: every field over its whole encodable range, random flags."""
    spec = OPS[op]
    args = {}
    for f in spec.fields:
        hi = ACT_MAX if (op == "SETV" and f.name == "act") else f.max
        args[f.name] = int(rng.choice([0, hi, int(rng.integers(0, hi + 1))]))
        if op == "DMA" and f.name == "mem":  # memory select 0 (IMEM) is illegal
            args[f.name] = int(rng.integers(1, hi + 1))
    flags = frozenset(n for n in spec.flags if rng.integers(2))
    return Instr(op, args, flags)


def test_tables_come_from_tpu_pkg():
    pkg = constants()
    ops = {k: v for k, v in pkg.items() if k.startswith("Op")}
    assert sorted(ops.values()) == sorted(s.code for s in OPS.values())
    assert all(OPS[name[2:].upper()].code == code for name, code in ops.items())
    errs = {v for k, v in pkg.items() if k.startswith("Err")}
    assert errs == set(ERROR_NAMES)
    assert INSTR_W == 64 and OP_FIELD.lsb == pkg["InstrOpLsb"] and FLAGS_FIELD.width == pkg["InstrFlagsW"]


@pytest.mark.parametrize("op", sorted(OPS))
def test_encode_decode_round_trip(op):
    rng = np.random.default_rng([SEED, OPS[op].code])
    print(f"seed {SEED}")
    for _ in range(300):
        ins = random_instr(rng, op)
        word = encode(ins)
        assert 0 <= word < 1 << INSTR_W
        assert OP_FIELD.get(word) == OPS[op].code
        back = decode(word)
        assert back.op == op and back.flags == ins.flags
        assert all(back[f.name] == ins.args.get(f.name, 0) for f in OPS[op].fields)
        assert encode(back) == word


def test_field_values_land_in_their_bits():
    ins = Instr("MATMUL", {"ub": 0xABC, "acc": 0x123, "m": 0x456}, frozenset({"SWAP"}))
    word = encode(ins)
    f = OPS["MATMUL"]
    assert (word >> f.field("ub").lsb) & 0xFFF == 0xABC
    assert (word >> f.field("acc").lsb) & 0xFFF == 0x123
    assert (word >> f.field("m").lsb) & 0xFFF == 0x456
    assert (word >> FLAGS_FIELD.lsb) & 0xFF == 1 << f.flags["SWAP"]


def test_unknown_opcodes_are_illegal():
    for code in range(1 << OP_FIELD.width):
        if code not in BY_CODE:
            with pytest.raises(IllegalInstruction, match="unknown opcode"):
                decode(code << OP_FIELD.lsb)


@pytest.mark.parametrize("op", sorted(OPS))
def test_any_unused_bit_is_illegal(op):
    spec = OPS[op]
    base = encode(Instr(op, {"mem": 1} if op == "DMA" else {}))
    stray_bits = [b for b in range(INSTR_W) if not (spec.legal_mask >> b) & 1]
    assert stray_bits or op == "VEC"  # only VEC uses every field
    for b in stray_bits:
        with pytest.raises(IllegalInstruction):
            decode(base | (1 << b))


def test_setv_reserved_activation_is_illegal():
    act = OPS["SETV"].field("act")
    for code in range(ACT_MAX + 1, act.max + 1):
        with pytest.raises(IllegalInstruction, match="act"):
            decode(encode(Instr("SETV")) | (code << act.lsb))
        with pytest.raises(ValueError):
            encode(Instr("SETV", {"act": code}))


def test_encode_rejects_values_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        encode(Instr("MATMUL", {"m": 1 << 12}))
    with pytest.raises(ValueError, match="no flag"):
        encode(Instr("LDW", {}, frozenset({"SWAP"})))
    with pytest.raises(KeyError):
        encode(Instr("LDW", {"acc": 1}))
    with pytest.raises(ValueError, match="unknown mnemonic"):
        encode(Instr("FOO"))


def test_docs_name_every_opcode_and_error_code_with_its_value():
    """docs/isa.md is written by hand: every Op*/Err* localparam must appear there with its number."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "isa.md").read_text()
    for name, code in constants().items():
        if name.startswith("Op"):
            pattern = rf"\b{code} `{name}`|`{name}` \({code}\)"
        elif name.startswith("Err") and name != "ErrW":
            pattern = rf"\| {code} \| `{name}` \|"
        else:
            continue
        assert re.search(pattern, doc), f"docs/isa.md does not list {name} = {code}"
    first_illegal = max(s.code for s in OPS.values()) + 1
    assert f"Opcodes {first_illegal}–255 are illegal" in doc, f"docs/isa.md: opcodes from {first_illegal}"
