"""Assembler and disassembler: syntax, canonical round trips, error messages with line numbers."""

from __future__ import annotations

import numpy as np
import pytest

from models.asm import AsmError, assemble, assemble_program, disassemble, listing
from models.isa import OPS, decode, encode
from models.tests.test_isa import random_instr

SEED = 7


def test_every_instruction_form():
    text = """
    ; every mnemonic once
    .equ TILE, 0x10
    top:    LDW TILE, T          # transposed
            LDW TILE+4
            MATMUL 0, 4, 8, ACC, SWAP
            VEC ACC, 0, 100, 8, BIAS, ACT
            VEC UB, 1, 200, 3, LOSS, DERIV, BGRAD, aux=300
            SETV act=leaky, shift=9, slope=-26, loss_scale=0x0100, loss_shift=8
            LDB 7
            SETBG 2047
            COPY UB, 0, WM, 16, 8, T
            COPY WM, 8, UB, 0b101, 1
            LOOP 3, end - top - 1
    end:    NOP
            SYNC
            HALT
    """
    words = assemble(text)
    assert disassemble(words).splitlines() == [
        "LDW 16, T",
        "LDW 20",
        "MATMUL 0, 4, 8, ACC, SWAP",
        "VEC ACC, 0, 100, 8, BIAS, ACT",
        "VEC UB, 1, 200, 3, LOSS, DERIV, BGRAD, aux=300",
        "SETV act=leaky, shift=9, slope=-26, loss_scale=256, loss_shift=8",
        "LDB 7",
        "SETBG 2047",
        "COPY UB, 0, WM, 16, 8, T",
        "COPY WM, 8, UB, 5, 1",
        "LOOP 3, 10",
        "NOP",
        "SYNC",
        "HALT",
    ]
    ins = decode(words[4])
    assert ins.has("SRC_UB") and ins["aux"] == 300 and ins["m"] == 3
    copy = decode(words[9])
    assert copy.has("SRC_WM") and not copy.has("DST_WM")


def test_case_labels_and_forward_references():
    a = assemble("loop 2, body_len\n  matmul 0,0,1\nbody_len_end:\n.equ body_len, 1\nhalt")
    assert disassemble(a) == "LOOP 2, 1\nMATMUL 0, 0, 1\nHALT\n"
    prog = assemble_program("start: end: NOP\n\nHALT ; done\n")
    assert prog.symbols == {"start": 0, "end": 0} and prog.lines == [1, 3]


def test_random_programs_round_trip():
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    ops = sorted(OPS)
    words = [encode(random_instr(rng, ops[int(rng.integers(len(ops)))])) for _ in range(2000)]
    text = disassemble(words)
    assert ".word" in text  # zero lengths encode but do not assemble: they come out as raw words
    again = assemble(text)
    assert again == words
    assert disassemble(again) == text


def test_illegal_words_disassemble_to_word_directive():
    words = [0xFF, encode(decode(1)) | (1 << 63)]
    text = disassemble(words)
    assert text == ".word 0x00000000000000ff\n.word 0x8000000000000001\n"
    assert assemble(text) == words
    assert disassemble([encode(decode(0x05))]) == ".word 0x0000000000000005  ; MATMUL 0, 0, 0\n"
    assert "HALT" in listing([1]) and "0000000000000001" in listing([1])


@pytest.mark.parametrize(
    "source, message",
    [
        ("NOP\nNOP\n  nop\n\n\n\nMATMLU 1, 2, 3", "line 7: unknown mnemonic 'MATMLU'"),
        ("NOP\n\nMATMUL 0, 0, 0", "line 3: field M=0 out of range 1..4095"),
        ("MATMUL 0, 4096, 1", "line 1: field acc=4096 out of range 0..4095"),
        ("MATMUL 0, 4", "line 1: MATMUL needs 3 operands (ub, acc, M), got 2"),
        ("LDW 0, SWAP", "line 1: unexpected operand 'SWAP' for LDW"),
        ("LDW 0, T, T", "line 1: flag T given twice"),
        ("LDW foo", "line 1: undefined symbol 'foo'"),
        ("LDW 1 2", "line 1: cannot parse expression '1 2'"),
        ("LOOP 0, 1", "line 1: field count=0 out of range 1..4095"),
        ("VEC SRC, 0, 0, 1", "line 1: expected VEC source memory (ACC or UB), got 'SRC'"),
        ("VEC ACC, 0, 0, 1, aux=1, aux=2", "line 1: field aux given twice"),
        ("COPY UB, 0, XX, 0, 1", "line 1: expected memory (UB or WM), got 'XX'"),
        ("COPY UB, 0, WM, 0", "line 1: COPY needs: src_mem, src, dst_mem, dst, len"),
        ("SETV act=sigmoid", "line 1: undefined symbol 'sigmoid'"),
        ("SETV act=3", "line 1: field act=3 out of range 0..2"),
        ("SETV shift=32", "line 1: field shift=32 out of range 0..31"),
        ("SETV slope=-32769", "line 1: field slope=-32769 out of range -32768..65535"),
        ("SETV bias=1", "line 1: SETV has no field 'bias'"),
        ("x: NOP\nx: NOP", "line 2: symbol 'x' defined twice"),
        (".org 5", "line 1: unknown directive '.org'"),
        (".word 0x1ffffffffffffffff", "line 1: .word value 36893488147419103231 does not fit 64 bits"),
        ("MATMUL 0, , 1", "line 1: empty operand"),
    ],
)
def test_errors_name_the_line(source, message):
    with pytest.raises(AsmError) as info:
        assemble(source)
    assert str(info.value) == message
