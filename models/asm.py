"""Assembler and disassembler for the Systole ISA (syntax in docs/isa.md, encoding in models/isa.py).

    assemble(text) -> list of 64-bit words        disassemble(words) -> canonical text
    assemble_program(text) -> Program (words + source line of each word, for error messages)

`disassemble(assemble(text))` is the canonical form of `text`, and assembling the canonical form gives
the same words again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from models.isa import (
    ACT_CODES,
    ACT_MAX,
    ACT_NAMES,
    DMA_MEM_NAMES,
    DMA_MEMS,
    INSTR_MASK,
    INSTR_W,
    OPS,
    VEC_PATH_FLAGS,
    Instr,
    decode,
    encode,
)


class AsmError(ValueError):
    """An assembly error at a source line (1-based); str() is `line N: message`."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class Program:
    """Assembled words, the source line of each word, and the symbol table."""

    words: list[int]
    lines: list[int]
    symbols: dict[str, int] = field(default_factory=dict)

    def line_of(self, pc: int) -> int | None:
        """Source line of the instruction at `pc`, None past the program."""
        return self.lines[pc] if 0 <= pc < len(self.lines) else None


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_LABEL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:(.*)$")
_TERM = re.compile(r"\s*([+-]?)\s*(0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*|[A-Za-z_][A-Za-z0-9_.]*)\s*")
_MEMS = {"UB": False, "WM": True}  # COPY memory selector -> "is WMEM"
_VEC_SRC = {"ACC": False, "UB": True}  # VEC source selector -> SRC_UB
_DMA_DIR = {"IN": False, "OUT": True}  # DMA direction -> OUT flag
# Fields whose value is a count/length (1..max); every other generic field is an address (0..max).
_LENGTHS = {"m", "len", "count", "body"}
_DISPLAY = {"m": "M"}


def _strip_comment(line: str) -> str:
    for mark in (";", "#", "//"):
        i = line.find(mark)
        if i >= 0:
            line = line[:i]
    return line.strip()


def _eval(expr: str, symbols: Mapping[str, int], lineno: int) -> int:
    """Evaluate `term (+|- term)*`; a term is a decimal, 0x hex or 0b binary number or a symbol."""
    text = expr.strip()
    if not text:
        raise AsmError(lineno, "missing value")
    pos, total, first = 0, 0, True
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or (not first and not m.group(1)):
            raise AsmError(lineno, f"cannot parse expression {expr.strip()!r}")
        sign, tok = m.groups()
        if tok[0].isdigit():
            value = int(tok.replace("_", ""), 0)
        elif tok in symbols:
            value = symbols[tok]
        else:
            raise AsmError(lineno, f"undefined symbol {tok!r}")
        total += -value if sign == "-" else value
        pos, first = m.end(), False
    return total


def _split_operands(text: str) -> list[str]:
    return [t.strip() for t in text.split(",")] if text.strip() else []


def _field_range(op: str, name: str) -> tuple[int, int]:
    f = OPS[op].field(name)
    if op == "SETV":
        if name == "act":
            return 0, ACT_MAX
        if f.signed:
            return -(1 << (f.width - 1)), f.max
        return 0, f.max
    return (1 if name in _LENGTHS else 0), f.max


def _set(op: str, args: dict[str, int], name: str, value: int, lineno: int) -> None:
    lo, hi = _field_range(op, name)
    if not lo <= value <= hi:
        raise AsmError(lineno, f"field {_DISPLAY.get(name, name)}={value} out of range {lo}..{hi}")
    if name in args:
        raise AsmError(lineno, f"field {_DISPLAY.get(name, name)} given twice")
    args[name] = value


def _selector(token: str, table: Mapping[str, bool], what: str, lineno: int) -> bool:
    key = token.upper()
    if key not in table:
        raise AsmError(lineno, f"expected {what} ({' or '.join(table)}), got {token!r}")
    return table[key]


def _parse_instr(mnemonic: str, operands: list[str], symbols: Mapping[str, int], lineno: int) -> Instr:
    op = mnemonic.upper()
    if op not in OPS:
        raise AsmError(lineno, f"unknown mnemonic {mnemonic!r}")
    spec = OPS[op]
    args: dict[str, int] = {}
    flags: set[str] = set()
    ops = list(operands)
    if any(not t for t in ops):
        raise AsmError(lineno, "empty operand")
    if op == "VEC":
        if not ops:
            raise AsmError(lineno, "VEC needs a source memory (ACC or UB)")
        if _selector(ops.pop(0), _VEC_SRC, "VEC source memory", lineno):
            flags.add("SRC_UB")
        positional = ["src", "dst", "m"]
    elif op == "COPY":
        if len(ops) < 5:
            raise AsmError(lineno, "COPY needs: src_mem, src, dst_mem, dst, len")
        if _selector(ops[0], _MEMS, "memory", lineno):
            flags.add("SRC_WM")
        if _selector(ops[2], _MEMS, "memory", lineno):
            flags.add("DST_WM")
        ops = [ops[1], *ops[3:]]
        positional = ["src", "dst", "len"]
    elif op == "DMA":
        if len(ops) < 5:
            raise AsmError(lineno, "DMA needs: IN|OUT, UB|WM|ACC, chip address, length, host offset")
        if _selector(ops[0], _DMA_DIR, "DMA direction", lineno):
            flags.add("OUT")
        key = ops[1].upper()
        if key not in DMA_MEMS:
            raise AsmError(lineno, f"expected a DMA memory ({' or '.join(DMA_MEMS)}), got {ops[1]!r}")
        args["mem"] = DMA_MEMS[key]
        ops = ops[2:]
        positional = ["addr", "len", "hoff"]
    elif op == "SETV":
        positional = []
    else:
        positional = [f.name for f in spec.fields]
    if len(ops) < len(positional):
        names = ", ".join(_DISPLAY.get(n, n) for n in positional)
        raise AsmError(lineno, f"{op} needs {len(positional)} operands ({names}), got {len(ops)}")
    for name, tok in zip(positional, ops, strict=False):
        _set(op, args, name, _eval(tok, symbols, lineno), lineno)
    user_flags = {n for n in spec.flags if n not in ("SRC_UB", "OUT") and not n.endswith("_WM")}
    for tok in ops[len(positional):]:
        if "=" in tok:
            key, value = (s.strip() for s in tok.split("=", 1))
            key = key.lower()
            try:
                spec.field(key)
            except KeyError:
                raise AsmError(lineno, f"{op} has no field {key!r}") from None
            if key in positional:
                raise AsmError(lineno, f"field {key!r} is positional in {op}")
            if op == "SETV" and key == "act" and value.lower() in ACT_CODES:
                number = ACT_CODES[value.lower()]
            else:
                number = _eval(value, symbols, lineno)
            _set(op, args, key, number, lineno)
        elif tok.upper() in user_flags:
            if tok.upper() in flags:
                raise AsmError(lineno, f"flag {tok.upper()} given twice")
            flags.add(tok.upper())
        else:
            raise AsmError(lineno, f"unexpected operand {tok!r} for {op}")
    return Instr(op, args, frozenset(flags))


def assemble_program(text: str, symbols: Mapping[str, int] | None = None) -> Program:
    """Assemble `text` (two passes: labels may be used before they are defined)."""
    table: dict[str, int] = dict(symbols or {})
    items: list[tuple[int, str, str]] = []  # (line, mnemonic or directive, operand text)
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        while (m := _LABEL.match(line)) and not line.lower().startswith(".equ"):
            name = m.group(1)
            if name in table:
                raise AsmError(lineno, f"symbol {name!r} defined twice")
            table[name] = pc
            line = m.group(2).strip()
        if not line:
            continue
        head, _, rest = line.partition(" ")
        head_l = head.lower()
        if head_l == ".equ":
            parts = _split_operands(rest)
            if len(parts) != 2 or not _IDENT.match(parts[0]):
                raise AsmError(lineno, ".equ needs: name, value")
            if parts[0] in table:
                raise AsmError(lineno, f"symbol {parts[0]!r} defined twice")
            table[parts[0]] = _eval(parts[1], table, lineno)
            continue
        if head.startswith(".") and head_l != ".word":
            raise AsmError(lineno, f"unknown directive {head!r}")
        items.append((lineno, head, rest))
        pc += 1
    words, lines = [], []
    for lineno, head, rest in items:
        if head.lower() == ".word":
            parts = _split_operands(rest)
            if len(parts) != 1:
                raise AsmError(lineno, ".word needs one value")
            value = _eval(parts[0], table, lineno)
            if not 0 <= value <= INSTR_MASK:
                raise AsmError(lineno, f".word value {value} does not fit {INSTR_W} bits")
            words.append(value)
        else:
            words.append(encode(_parse_instr(head, _split_operands(rest), table, lineno)))
        lines.append(lineno)
    return Program(words, lines, table)


def assemble(text: str, symbols: Mapping[str, int] | None = None) -> list[int]:
    """Assemble `text` into 64-bit instruction words."""
    return assemble_program(text, symbols).words


def format_instr(instr: Instr) -> str:
    """Canonical text of one decoded instruction."""
    op, a = instr.op, instr.args
    if op in ("NOP", "HALT", "SYNC"):
        return op
    if op == "SETV":
        act = a["act"]
        act_s = ACT_NAMES.get(act, str(act))
        s = {f.name: f.to_signed(a[f.name]) for f in instr.spec.fields}
        return (
            f"SETV act={act_s}, shift={s['shift']}, slope={s['slope']}, "
            f"loss_scale={s['loss_scale']}, loss_shift={s['loss_shift']}"
        )
    if op == "VEC":
        parts = ["VEC", "UB" if instr.has("SRC_UB") else "ACC", str(a["src"]), str(a["dst"]), str(a["m"])]
        parts += [f for f in VEC_PATH_FLAGS if instr.has(f)]
        if a["aux"] or instr.has("LOSS") or instr.has("DERIV"):
            parts.append(f"aux={a['aux']}")
        return parts[0] + " " + ", ".join(parts[1:])
    if op == "COPY":
        parts = [
            "WM" if instr.has("SRC_WM") else "UB",
            str(a["src"]),
            "WM" if instr.has("DST_WM") else "UB",
            str(a["dst"]),
            str(a["len"]),
        ]
        if instr.has("T"):
            parts.append("T")
        return "COPY " + ", ".join(parts)
    if op == "DMA":
        mem = DMA_MEM_NAMES.get(a["mem"], str(a["mem"]))
        return f"DMA {'OUT' if instr.has('OUT') else 'IN'}, {mem}, {a['addr']}, {a['len']}, 0x{a['hoff']:x}"
    if op == "SETH":
        return f"SETH 0x{a['addr']:x}" + (", HI" if instr.has("HI") else "")
    parts = [str(a[f.name]) for f in instr.spec.fields]
    parts += [f for f in instr.spec.flags if instr.has(f)]  # table order: ACC before SWAP
    return f"{op} " + ", ".join(parts)


def disassemble_word(word: int) -> str:
    """Canonical text of one word. A word the core rejects (ErrIllegal), or one that decodes but has a value
    the assembler refuses (a zero length, which traps with ErrLen), becomes `.word 0x...` with a comment."""
    try:
        ins = decode(word)
    except ValueError:
        return f".word 0x{word:016x}"
    text = format_instr(ins)
    for f in ins.spec.fields:
        lo, hi = _field_range(ins.op, f.name)
        if not lo <= ins.args[f.name] <= hi:
            return f".word 0x{word:016x}  ; {text}"
    return text


def disassemble(words: Iterable[int]) -> str:
    """Canonical program text, one instruction per line."""
    return "".join(disassemble_word(w) + "\n" for w in words)


def listing(words: Iterable[int]) -> str:
    """Address, hex word and canonical text of every instruction (for docs and debugging)."""
    return "".join(f"{pc:4d}: {w:016x}  {disassemble_word(w)}\n" for pc, w in enumerate(words))
