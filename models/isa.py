"""The Systole ISA: opcode and field tables, encoding and decoding of 64-bit instructions (docs/isa.md).

Every number comes from rtl/tpu_pkg.sv through `models.hw.const`; nothing is duplicated here.
An instruction is an `Instr`: a mnemonic, the values of its fields (raw, unsigned, as encoded) and the
set of its flags. `encode` and `decode` are exact inverses on every legal word; `decode` raises
`IllegalInstruction` for a word the core would reject with ErrIllegal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.hw import const

INSTR_W = const("InstrW")
INSTR_MASK = (1 << INSTR_W) - 1

ERR_NONE = const("ErrNone")
ERR_ILLEGAL = const("ErrIllegal")
ERR_ADDR = const("ErrAddr")
ERR_LEN = const("ErrLen")
ERR_PC = const("ErrPc")
ERR_LOOP = const("ErrLoop")
ERR_OVERLAP = const("ErrOverlap")
ERR_DMA_ADDR = const("ErrDmaAddr")
ERR_DMA_SLV = const("ErrDmaSlv")
ERR_DMA_DEC = const("ErrDmaDec")
ERR_DMA_WINDOW = const("ErrDmaWindow")
ERR_DMA_PROTO = const("ErrDmaProto")
ERR_DMA_TIMEOUT = const("ErrDmaTimeout")
ERR_ABORT = const("ErrAbort")
ERROR_NAMES = {
    ERR_NONE: "ErrNone",
    ERR_ILLEGAL: "ErrIllegal",
    ERR_ADDR: "ErrAddr",
    ERR_LEN: "ErrLen",
    ERR_PC: "ErrPc",
    ERR_LOOP: "ErrLoop",
    ERR_OVERLAP: "ErrOverlap",
    ERR_DMA_ADDR: "ErrDmaAddr",
    ERR_DMA_SLV: "ErrDmaSlv",
    ERR_DMA_DEC: "ErrDmaDec",
    ERR_DMA_WINDOW: "ErrDmaWindow",
    ERR_DMA_PROTO: "ErrDmaProto",
    ERR_DMA_TIMEOUT: "ErrDmaTimeout",
    ERR_ABORT: "ErrAbort",
}

IMEM_DEPTH = const("ImemDepth")
UB_DEPTH = const("UbDepth")
WM_DEPTH = const("WmDepth")
ACC_DEPTH = const("AccDepth")

# SETV act codes are the VPU's activation kinds; codes above leaky are illegal.
ACT_CODES = {"identity": const("VpuActIdentity"), "relu": const("VpuActRelu"), "leaky": const("VpuActLeaky")}
ACT_NAMES = {code: name for name, code in ACT_CODES.items()}
ACT_MAX = max(ACT_CODES.values())

# DMA memory selects (the DMA's MemSel* codes; IMEM is not reachable from a program) and directions.
DMA_MEMS = {"UB": const("MemSelUb"), "WM": const("MemSelWm"), "ACC": const("MemSelAcc")}
DMA_MEM_NAMES = {code: name for name, code in DMA_MEMS.items()}


@dataclass(frozen=True)
class Field:
    """A bit field of an instruction word: `width` bits from `lsb`; `signed` only affects printing."""

    name: str
    lsb: int
    width: int
    signed: bool = False

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def max(self) -> int:
        return (1 << self.width) - 1

    def get(self, word: int) -> int:
        return (word >> self.lsb) & self.max

    def to_signed(self, raw: int) -> int:
        return raw - (1 << self.width) if self.signed and raw >> (self.width - 1) else raw


def _generic(name: str, letter: str) -> Field:
    return Field(name, const(f"Instr{letter}Lsb"), const(f"Instr{letter}W"))


OP_FIELD = Field("opcode", const("InstrOpLsb"), const("InstrOpW"))
FLAGS_FIELD = Field("flags", const("InstrFlagsLsb"), const("InstrFlagsW"))


@dataclass(frozen=True)
class OpSpec:
    """One opcode: its mnemonic, code, operand fields (in assembler order) and flags (name -> bit)."""

    name: str
    code: int
    fields: tuple[Field, ...] = ()
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def legal_mask(self) -> int:
        """Bits a legal word of this opcode may have set."""
        m = OP_FIELD.mask
        for f in self.fields:
            m |= f.mask
        for bit in self.flags.values():
            m |= 1 << (FLAGS_FIELD.lsb + bit)
        return m

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


_SETV_FIELDS = (
    Field("act", const("SetvActLsb"), const("SetvActW")),
    Field("shift", const("SetvShiftLsb"), const("SetvShiftW")),
    Field("slope", const("SetvSlopeLsb"), const("SetvSlopeW"), signed=True),
    Field("loss_scale", const("SetvLossScaleLsb"), const("SetvLossScaleW"), signed=True),
    Field("loss_shift", const("SetvLossShiftLsb"), const("SetvLossShiftW")),
)

VEC_PATH_FLAGS = ("BIAS", "ACT", "LOSS", "DERIV", "BGRAD")

OPS: dict[str, OpSpec] = {
    s.name: s
    for s in (
        OpSpec("NOP", const("OpNop")),
        OpSpec("HALT", const("OpHalt")),
        OpSpec("SYNC", const("OpSync")),
        OpSpec("LOOP", const("OpLoop"), (_generic("count", "A"), _generic("body", "B"))),
        OpSpec("LDW", const("OpLdw"), (_generic("wm", "A"),), {"T": const("LdwFlagT")}),
        OpSpec(
            "MATMUL",
            const("OpMatmul"),
            (_generic("ub", "A"), _generic("acc", "B"), _generic("m", "C")),
            {"ACC": const("MatmulFlagAcc"), "SWAP": const("MatmulFlagSwap")},
        ),
        OpSpec(
            "VEC",
            const("OpVec"),
            (_generic("src", "A"), _generic("dst", "B"), _generic("m", "C"), _generic("aux", "D")),
            {
                "BIAS": const("VpuPathBias"),
                "ACT": const("VpuPathAct"),
                "LOSS": const("VpuPathLoss"),
                "DERIV": const("VpuPathDeriv"),
                "BGRAD": const("VpuPathBgrad"),
                "SRC_UB": const("VecFlagSrcUb"),
            },
        ),
        OpSpec("SETV", const("OpSetv"), _SETV_FIELDS),
        OpSpec("LDB", const("OpLdb"), (_generic("ub", "A"),)),
        OpSpec("SETBG", const("OpSetbg"), (_generic("acc", "A"),)),
        OpSpec(
            "COPY",
            const("OpCopy"),
            (_generic("src", "A"), _generic("dst", "B"), _generic("len", "C")),
            {"T": const("CopyFlagT"), "SRC_WM": const("CopyFlagSrcWm"), "DST_WM": const("CopyFlagDstWm")},
        ),
        OpSpec("SETH", const("OpSeth"), (Field("addr", const("SethAddrLsb"), const("SethAddrW")),),
               {"HI": const("SethFlagHi")}),
        OpSpec(
            "DMA",
            const("OpDma"),
            (
                _generic("addr", "A"),
                _generic("len", "B"),
                Field("hoff", const("DmaHoffLsb"), const("DmaHoffW")),
                Field("mem", const("DmaMemLsb"), const("DmaMemW")),
            ),
            {"OUT": const("DmaFlagOut")},
        ),
    )
}
BY_CODE: dict[int, OpSpec] = {s.code: s for s in OPS.values()}


def _check_tables() -> None:
    if len(BY_CODE) != len(OPS):
        raise RuntimeError("two ISA opcodes share a code in tpu_pkg.sv")
    if const("VecPathW") != len(VEC_PATH_FLAGS):
        raise RuntimeError("VecPathW in tpu_pkg.sv does not match the VEC pathway flags")
    for spec in OPS.values():
        used = OP_FIELD.mask
        for bits in [f.mask for f in spec.fields] + [1 << (FLAGS_FIELD.lsb + b) for b in spec.flags.values()]:
            if used & bits or bits >> INSTR_W:
                raise RuntimeError(f"{spec.name}: overlapping or out-of-word fields in tpu_pkg.sv")
            used |= bits
        for b in spec.flags.values():
            if b >= FLAGS_FIELD.width:
                raise RuntimeError(f"{spec.name}: flag bit {b} outside the flags field")


_check_tables()


class IllegalInstruction(ValueError):
    """A word the core rejects with ErrIllegal (unknown opcode, non-zero unused bits, bad SETV act)."""

    def __init__(self, word: int, reason: str) -> None:
        super().__init__(f"illegal instruction 0x{word:016x}: {reason}")
        self.word = word
        self.reason = reason


@dataclass(frozen=True)
class Instr:
    """A decoded instruction: mnemonic, raw field values (missing fields are 0) and flags."""

    op: str
    args: dict[str, int] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()

    @property
    def spec(self) -> OpSpec:
        return OPS[self.op]

    def __getitem__(self, name: str) -> int:
        self.spec.field(name)  # KeyError for a field the opcode does not have
        return self.args.get(name, 0)

    def has(self, flag: str) -> bool:
        return flag in self.flags


def encode(instr: Instr) -> int:
    """Instr -> 64-bit word. Raises ValueError for unknown names or values that do not fit a field."""
    if instr.op not in OPS:
        raise ValueError(f"unknown mnemonic {instr.op!r}")
    spec = OPS[instr.op]
    word = spec.code << OP_FIELD.lsb
    for name, value in instr.args.items():
        f = spec.field(name)
        if f.signed and -(1 << (f.width - 1)) <= value < 0:
            value &= f.max
        if not 0 <= value <= f.max:
            raise ValueError(f"{spec.name}: field {name}={value} does not fit {f.width} bits")
        word |= value << f.lsb
    for flag in instr.flags:
        if flag not in spec.flags:
            raise ValueError(f"{spec.name} has no flag {flag!r}")
        word |= 1 << (FLAGS_FIELD.lsb + spec.flags[flag])
    if instr.op == "SETV" and instr.args.get("act", 0) > ACT_MAX:
        raise ValueError(f"SETV: act={instr.args['act']} is not an activation kind (0..{ACT_MAX})")
    if instr.op == "DMA" and instr.args.get("mem", 0) not in DMA_MEM_NAMES:
        raise ValueError(f"DMA: mem={instr.args.get('mem', 0)} is not UB, WM or ACC")
    return word


def decode(word: int) -> Instr:
    """64-bit word -> Instr. Raises IllegalInstruction exactly when the core would raise ErrIllegal."""
    if not 0 <= word <= INSTR_MASK:
        raise ValueError(f"0x{word:x} is not a {INSTR_W}-bit word")
    code = OP_FIELD.get(word)
    spec = BY_CODE.get(code)
    if spec is None:
        raise IllegalInstruction(word, f"unknown opcode {code}")
    stray = word & ~spec.legal_mask
    if stray:
        raise IllegalInstruction(word, f"{spec.name} with non-zero unused bits 0x{stray:016x}")
    args = {f.name: f.get(word) for f in spec.fields}
    flags = frozenset(n for n, b in spec.flags.items() if (word >> (FLAGS_FIELD.lsb + b)) & 1)
    if spec.name == "SETV" and args["act"] > ACT_MAX:
        raise IllegalInstruction(word, f"SETV act={args['act']} is not an activation kind")
    if spec.name == "DMA" and args["mem"] not in DMA_MEM_NAMES:
        raise IllegalInstruction(word, f"DMA mem={args['mem']} is not UB, WM or ACC")
    return Instr(spec.name, args, flags)
