"""Instruction-level simulator of the Systole core: the architectural result of a program, bit for bit.

It executes one instruction at a time in program order. The hardware overlaps LDW with MATMUL and pipelines
back-to-back MATMULs, but its interlocks (docs/isa.md, "Execution and overlap") make every program give the
same memories, registers and status as this sequential model.

    state = MachineState.new(P=4)
    result = run(words, state)                 # raises IsaError(code, pc) on an error
    state, code, pc = run_status(words, state)  # never raises for core errors: compare with the RTL status

`state` is updated in place (like the hardware's memories); pass `state.copy()` to keep the original.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.fixed_point import ACC_W, DATA_W, matmul_acc, wrap
from models.hw import const
from models.isa import (
    ACC_DEPTH,
    ERR_ADDR,
    ERR_DMA_ADDR,
    ERR_DMA_DEC,
    ERR_DMA_SLV,
    ERR_DMA_WINDOW,
    ERR_ILLEGAL,
    ERR_LEN,
    ERR_LOOP,
    ERR_NONE,
    ERR_OVERLAP,
    ERR_PC,
    ERROR_NAMES,
    IMEM_DEPTH,
    OPS,
    UB_DEPTH,
    WM_DEPTH,
    IllegalInstruction,
    Instr,
    decode,
)

ARRAY_SIZE = const("ArraySize")
MEM_SEL_UB = const("MemSelUb")
MEM_SEL_WM = const("MemSelWm")
MEM_SEL_ACC = const("MemSelAcc")
AXI_SLVERR, AXI_DECERR = 2, 3


@dataclass
class HostMemory:
    """Host memory as the DMA sees it: bytes at AXI addresses 0 .. len(data)-1, plus the bus facts.

    The DMA layout (docs/csr.md, "Host memory layout"): on-chip words packed tightly, little endian, each
    element a two's-complement DataW (UB, WMEM) or AccW (ACC) code. Any byte at or past len(data) answers
    DECERR, and a byte inside an `errors` range (start, end exclusive, AXI response 2 or 3) answers that
    error. A transfer's host address must be a multiple of `bus_bytes` and end within 2**addr_w. `window`
    is the host-configured DMA window (DMA_WIN_BASE, DMA_WIN_LIMIT exclusive; None: the whole space): a
    program DMA whose bytes are not all inside it ends with ErrDmaWindow and moves nothing.
    """

    data: bytearray
    bus_bytes: int = 8
    addr_w: int = 32
    errors: list[tuple[int, int, int]] = field(default_factory=list)
    window: tuple[int, int] | None = None

    def outside(self, addr: int, n: int) -> bool:
        """True if bytes addr .. addr+n-1 are not all inside the DMA window."""
        return self.window is not None and not (self.window[0] <= addr and addr + n <= self.window[1])

    @classmethod
    def zeros(cls, size: int, **kwargs) -> HostMemory:
        return cls(bytearray(size), **kwargs)

    def response(self, addr: int, n: int) -> int:
        """AXI response of the bytes addr .. addr+n-1 (0 OKAY, 2 SLVERR, 3 DECERR): the lowest hit wins."""
        if addr + n > len(self.data):
            bad = [(len(self.data), addr + n, AXI_DECERR)]
        else:
            bad = []
        hits = [(max(lo, addr), resp) for lo, hi, resp in [*self.errors, *bad] if lo < addr + n and addr < hi]
        return min(hits)[1] if hits else 0

    def write_words(self, addr: int, rows: np.ndarray, width: int) -> None:
        self.data[addr:addr + rows.size * width // 8] = pack_rows(rows, width)

    def read_words(self, addr: int, n: int, P: int, width: int) -> np.ndarray:
        return unpack_rows(bytes(self.data[addr:addr + n * P * width // 8]), P, width)


def pack_rows(rows: np.ndarray, width: int) -> bytes:
    """[n, P] signed codes -> the DMA's host bytes (little endian, `width`-bit elements)."""
    dtype = {16: "<i2", 32: "<i4", 64: "<i8", 8: "<i1"}[width]
    return np.asarray(rows, dtype=np.int64).astype(dtype).tobytes()


def unpack_rows(data: bytes, P: int, width: int) -> np.ndarray:
    """The inverse of pack_rows: host bytes -> [n, P] int64 codes."""
    dtype = {16: "<i2", 32: "<i4", 64: "<i8", 8: "<i1"}[width]
    return np.frombuffer(data, dtype=dtype).astype(np.int64).reshape(-1, P)


class IsaError(Exception):
    """The core stopped with error `code` (tpu_pkg Err*) at instruction address `pc`."""

    def __init__(self, code: int, pc: int, message: str) -> None:
        super().__init__(f"{ERROR_NAMES.get(code, code)} at pc {pc}: {message}")
        self.code = code
        self.pc = pc
        self.message = message


@dataclass
class MachineState:
    """Everything a program can change. Memories are int64 arrays [depth, P] of raw codes."""

    P: int
    ub: np.ndarray
    wm: np.ndarray
    acc: np.ndarray
    active: np.ndarray  # [P, P] tile the array multiplies by: out[j] = sum_i x[i] * active[i, j]
    shadow: np.ndarray  # [P, P] tile the last LDW loaded (SWAP copies it to active)
    bias: np.ndarray  # [P] VPU bias register (DataW codes)
    act: int = 0  # SETV registers
    shift: int = 0
    slope: int = 0
    loss_scale: int = 0
    loss_shift: int = 0
    bgrad_addr: int = 0  # SETBG register
    host_base: int = 0  # SETH register: 64-bit host byte address the DMA offsets are added to
    pc: int = 0
    halted: bool = False
    error: int = ERR_NONE
    loop_active: bool = False  # LOOP registers: body is [loop_start, loop_end], loop_left passes to go
    loop_start: int = 0
    loop_end: int = 0
    loop_left: int = 0
    retired: int = 0  # instructions executed
    macs: int = 0  # multiply-accumulates done by MATMULs (M * P * P each)

    @classmethod
    def new(
        cls,
        P: int = ARRAY_SIZE,
        ub_depth: int = UB_DEPTH,
        wm_depth: int = WM_DEPTH,
        acc_depth: int = ACC_DEPTH,
    ) -> MachineState:
        """The reset state: every memory and register zero."""
        z = np.zeros
        return cls(
            P=P,
            ub=z((ub_depth, P), np.int64),
            wm=z((wm_depth, P), np.int64),
            acc=z((acc_depth, P), np.int64),
            active=z((P, P), np.int64),
            shadow=z((P, P), np.int64),
            bias=z(P, np.int64),
        )

    def copy(self) -> MachineState:
        return copy.deepcopy(self)


@dataclass
class RunResult:
    state: MachineState
    error: int = ERR_NONE
    pc: int = 0
    message: str = ""
    trace: list[tuple[int, Instr]] = field(default_factory=list)


VpuFn = Callable[..., tuple[np.ndarray, np.ndarray]]


def _default_vpu() -> tuple[VpuFn, type]:
    from models import vpu  # imported late: the VPU model is its own module

    return vpu.vpu, vpu.VpuConfig


def _check_range(start: int, length: int, depth: int, what: str) -> None:
    if start + length > depth:
        raise _Fault(ERR_ADDR, f"{what} {start}..{start + length - 1} outside 0..{depth - 1}")


def _check_len(length: int, limit: int, what: str) -> None:
    if length == 0 or length > limit:
        raise _Fault(ERR_LEN, f"{what}={length} not in 1..{limit}")


def _check_overlap(dst: int, src: int, length_d: int, length_s: int, what: str) -> None:
    if dst != src and dst < src + length_s and src < dst + length_d:
        raise _Fault(ERR_OVERLAP, f"destination {dst}..{dst + length_d - 1} overlaps {what} "
                                  f"{src}..{src + length_s - 1} at a different start")


class _Fault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _transpose_blocks(rows: np.ndarray, P: int) -> np.ndarray:
    n = rows.shape[0] // P
    return rows.reshape(n, P, P).transpose(0, 2, 1).reshape(n * P, P).copy()


def _dma(st: MachineState, ins: Instr, host: HostMemory | None) -> None:
    a = ins.args
    mem = {MEM_SEL_UB: st.ub, MEM_SEL_WM: st.wm, MEM_SEL_ACC: st.acc}[a["mem"]]
    width = ACC_W if a["mem"] == MEM_SEL_ACC else DATA_W
    n = a["len"]
    _check_len(n, mem.shape[0], "len")
    _check_range(a["addr"], n, mem.shape[0], "on-chip")
    if host is None:
        raise _Fault(ERR_DMA_ADDR, "DMA without a host memory")
    addr, nbytes = st.host_base + a["hoff"], n * st.P * width // 8
    if addr % host.bus_bytes or addr + nbytes > 1 << host.addr_w:
        raise _Fault(ERR_DMA_ADDR, f"host address 0x{addr:x} (+{nbytes} bytes) misaligned to "
                                   f"{host.bus_bytes} bytes or outside the {host.addr_w}-bit address space")
    if host.outside(addr, nbytes):
        raise _Fault(ERR_DMA_WINDOW, f"host bytes 0x{addr:x}..+{nbytes} outside the DMA window {host.window}")
    resp = host.response(addr, nbytes)
    if resp:
        code = ERR_DMA_DEC if resp == AXI_DECERR else ERR_DMA_SLV
        raise _Fault(code, f"host bytes 0x{addr:x}..0x{addr + nbytes - 1:x} answer {ERROR_NAMES[code]}")
    dst = slice(a["addr"], a["addr"] + n)
    if ins.has("OUT"):
        host.write_words(addr, mem[dst], width)
    else:
        mem[dst] = host.read_words(addr, n, st.P, width)


def _step(st: MachineState, ins: Instr, imem_depth: int, vpu_fn: VpuFn | None, cfg_cls: type | None,
          host: HostMemory | None = None) -> None:
    """Execute one decoded instruction (everything checked before anything is written)."""
    P, op, a = st.P, ins.op, ins.args
    if op in ("NOP", "SYNC"):
        return
    if op == "SETH":
        mask = (1 << 32) - 1
        st.host_base = (st.host_base & mask) | a["addr"] << 32 if ins.has("HI") else a["addr"]
        return
    if op == "DMA":
        _dma(st, ins, host)
        return
    if op == "HALT":
        st.halted = True
        return
    if op == "LOOP":
        if st.loop_active:
            raise _Fault(ERR_LOOP, "LOOP inside a LOOP body (nesting is not allowed)")
        if a["count"] == 0 or a["body"] == 0:
            raise _Fault(ERR_LOOP, f"LOOP count={a['count']} body={a['body']}: both must be >= 1")
        if st.pc + a["body"] >= imem_depth:
            raise _Fault(ERR_LOOP, f"LOOP body {st.pc + 1}..{st.pc + a['body']} runs past IMEM")
        st.loop_active, st.loop_start = True, st.pc + 1
        st.loop_end, st.loop_left = st.pc + a["body"], a["count"]
        return
    if op == "LDW":
        _check_range(a["wm"], P, st.wm.shape[0], "WMEM")
        tile = st.wm[a["wm"]:a["wm"] + P]
        st.shadow = (tile.T if ins.has("T") else tile).copy()
        return
    if op == "MATMUL":
        m = a["m"]
        _check_len(m, min(st.ub.shape[0], st.acc.shape[0]), "M")
        _check_range(a["ub"], m, st.ub.shape[0], "UB")
        _check_range(a["acc"], m, st.acc.shape[0], "ACC")
        if ins.has("SWAP"):
            st.active = st.shadow.copy()  # a copy, as the PE does: the shadow keeps the tile
        rows = st.ub[a["ub"]:a["ub"] + m]
        dst = slice(a["acc"], a["acc"] + m)
        st.acc[dst] = matmul_acc(rows, st.active, st.acc[dst] if ins.has("ACC") else None, ACC_W)
        st.macs += m * P * P
        return
    if op == "SETV":
        st.act, st.shift, st.loss_shift = a["act"], a["shift"], a["loss_shift"]
        spec = OPS["SETV"]
        # Slope and loss scale are DataW codes held in 16-bit fields: their low DataW bits, signed.
        st.slope = int(wrap(spec.field("slope").to_signed(a["slope"]), DATA_W))
        st.loss_scale = int(wrap(spec.field("loss_scale").to_signed(a["loss_scale"]), DATA_W))
        return
    if op == "LDB":
        _check_range(a["ub"], 1, st.ub.shape[0], "UB")
        st.bias = st.ub[a["ub"]].copy()
        return
    if op == "SETBG":
        st.bgrad_addr = a["acc"]
        return
    if op == "COPY":
        src_mem = st.wm if ins.has("SRC_WM") else st.ub
        dst_mem = st.wm if ins.has("DST_WM") else st.ub
        n = a["len"]
        _check_len(n, min(src_mem.shape[0], dst_mem.shape[0]), "len")
        if ins.has("T") and n % P:
            raise _Fault(ERR_LEN, f"transposed COPY len={n} is not a multiple of P={P}")
        _check_range(a["src"], n, src_mem.shape[0], "WMEM" if ins.has("SRC_WM") else "UB")
        _check_range(a["dst"], n, dst_mem.shape[0], "WMEM" if ins.has("DST_WM") else "UB")
        if src_mem is dst_mem:
            _check_overlap(a["dst"], a["src"], n, n, "the source")
        rows = src_mem[a["src"]:a["src"] + n].copy()
        dst_mem[a["dst"]:a["dst"] + n] = _transpose_blocks(rows, P) if ins.has("T") else rows
        return
    if op == "VEC":
        _vec(st, ins, vpu_fn, cfg_cls)
        return
    raise AssertionError(f"no semantics for {op}")  # every opcode of the table is handled above


def _vec(st: MachineState, ins: Instr, vpu_fn: VpuFn | None, cfg_cls: type | None) -> None:
    a, m = ins.args, ins.args["m"]
    src_ub = ins.has("SRC_UB")
    src_mem = st.ub if src_ub else st.acc
    uses_aux = ins.has("LOSS") or ins.has("DERIV")
    ub_depth = st.ub.shape[0]
    _check_len(m, min(src_mem.shape[0], ub_depth), "M")
    _check_range(a["src"], m, src_mem.shape[0], "UB" if src_ub else "ACC")
    _check_range(a["dst"], m, ub_depth, "UB")
    if uses_aux:
        _check_range(a["aux"], m, ub_depth, "UB aux")
    if ins.has("BGRAD"):
        _check_range(st.bgrad_addr, 1, st.acc.shape[0], "ACC bias-gradient word")
    if src_ub:
        _check_overlap(a["dst"], a["src"], m, m, "the source")
    if uses_aux:
        _check_overlap(a["dst"], a["aux"], m, m, "the aux rows")
    if vpu_fn is None or cfg_cls is None:
        vpu_fn, cfg_cls = _default_vpu()
    cfg = cfg_cls(
        bias_en=ins.has("BIAS"),
        act_en=ins.has("ACT"),
        loss_en=ins.has("LOSS"),
        deriv_en=ins.has("DERIV"),
        bgrad_en=ins.has("BGRAD"),
        act=st.act,
        shift=st.shift,
        slope=st.slope,
        loss_scale=st.loss_scale,
        loss_shift=st.loss_shift,
    )
    rows = src_mem[a["src"]:a["src"] + m].copy()
    bias = st.bias.copy() if ins.has("BIAS") else None
    aux = st.ub[a["aux"]:a["aux"] + m].copy() if uses_aux else None
    out, sums = vpu_fn(rows, cfg, bias, aux)
    st.ub[a["dst"]:a["dst"] + m] = np.asarray(out, dtype=np.int64)
    if ins.has("BGRAD"):
        st.acc[st.bgrad_addr] = wrap(np.asarray(sums, dtype=np.int64), ACC_W)


def run(
    program: Sequence[int],
    state: MachineState | None = None,
    P: int | None = None,
    *,
    imem_depth: int = IMEM_DEPTH,
    max_steps: int | None = None,
    vpu_fn: VpuFn | None = None,
    vpu_config: type | None = None,
    trace: bool = False,
    host: HostMemory | None = None,
) -> RunResult:
    """Run `program` from pc 0 until HALT. Raises IsaError on a core error.

    `state` defaults to the reset state of a P x P core; if both are given P must match. `host` is the
    host memory DMA instructions read and write (updated in place). IMEM holds the
    program followed by zeros (NOP) up to `imem_depth`. `max_steps` bounds the instructions executed (a
    Python-side guard, not an architectural error; raises RuntimeError). `vpu_fn`/`vpu_config` replace
    models.vpu.vpu/VpuConfig (tests only).
    """
    result = _run(program, state, P, imem_depth, max_steps, vpu_fn, vpu_config, trace, host)
    if result.error != ERR_NONE:
        raise IsaError(result.error, result.pc, result.message)
    return result


def run_result(program: Sequence[int], state: MachineState | None = None, P: int | None = None, *,
               imem_depth: int = IMEM_DEPTH, trace: bool = False, host: HostMemory | None = None,
               max_steps: int | None = None) -> RunResult:
    """Like `run` but never raises for a core error: the RunResult (error, pc, and the trace if asked)."""
    return _run(program, state, P, imem_depth, max_steps, None, None, trace, host)


def run_status(
    program: Sequence[int],
    state: MachineState | None = None,
    P: int | None = None,
    **kwargs,
) -> tuple[MachineState, int, int]:
    """Like `run` but never raises for a core error: returns (state, error code, pc), as the RTL reports.

    pc is the address of the instruction that failed (ErrPc: the last address of IMEM), or of the HALT.
    """
    r = _run(program, state, P, kwargs.pop("imem_depth", IMEM_DEPTH), kwargs.pop("max_steps", None),
             kwargs.pop("vpu_fn", None), kwargs.pop("vpu_config", None), False, kwargs.pop("host", None))
    if kwargs:
        raise TypeError(f"unexpected arguments {sorted(kwargs)}")
    return r.state, r.error, r.pc


def _run(program, state, P, imem_depth, max_steps, vpu_fn, vpu_config, trace, host=None) -> RunResult:
    if state is None:
        state = MachineState.new(P if P is not None else ARRAY_SIZE)
    elif P is not None and P != state.P:
        raise ValueError(f"P={P} but the state was made for P={state.P}")
    words = [int(w) for w in program]
    if len(words) > imem_depth:
        raise ValueError(f"program of {len(words)} words does not fit IMEM ({imem_depth} words)")
    imem = words + [0] * (imem_depth - len(words))
    st = state
    st.pc, st.halted, st.error = 0, False, ERR_NONE
    st.loop_active = False
    result = RunResult(st)
    steps = 0
    try:
        while True:
            if max_steps is not None and steps >= max_steps:
                raise RuntimeError(f"program did not halt within {max_steps} instructions")
            word = imem[st.pc]
            try:
                ins = decode(word)
            except IllegalInstruction as e:
                raise _Fault(ERR_ILLEGAL, e.reason) from None
            if trace:
                result.trace.append((st.pc, ins))
            _step(st, ins, imem_depth, vpu_fn, vpu_config, host)
            steps += 1
            st.retired += 1
            if st.halted:
                break
            if st.loop_active and st.pc == st.loop_end:
                if st.loop_left > 1:
                    st.loop_left -= 1
                    st.pc = st.loop_start
                    continue
                st.loop_active = False
            if st.pc + 1 >= imem_depth:
                raise _Fault(ERR_PC, f"execution ran past the last IMEM address {imem_depth - 1}")
            st.pc += 1
    except _Fault as f:
        st.error = f.code
        result.error, result.message = f.code, str(f)
    result.pc = st.pc
    return result
