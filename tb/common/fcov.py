"""Functional coverage: the cover model of the specification, the passive monitors that sample it, and the
merged report (cocotb-coverage).

Coverage is collected only when SYSTOLE_FCOV names a folder (`make coverage` sets it); then every
simulation writes its hits to <folder>/<toplevel>.<sim>.<pid>.yml when cocotb shuts down, and `report()`
merges every file into one table. Without it nothing here runs, so `make test` pays nothing.

Bins are named by meaning ("below_p", "max", "first"), never by a configuration's numbers, so runs of
different parameters and of both simulators merge into one model. A bin that cannot be reached by design is
left out of the model with a comment saying why, never waived silently.

Where the samples come from:
* ISA and range rules: a monitor on the control unit (tpu_ctrl) inside tpu_core or tpu_top, every cycle:
  the word in decode, whether it issues, the error it raises and which units are busy when it does.
* AXI4-Lite: a monitor on the s_axil_* ports (tpu_csr, tpu_top): every handshake.
* AXI4 DMA: a monitor on the m_axi_* ports (tpu_dma, tpu_top): every handshake.
* The three monitors sample once per cycle at the falling edge once the time step has settled
  (ReadOnly): then every input and output holds what the next rising edge sees, whether the testbench
  drives at the rising edge (cocotbext-axi) or just after the falling edge (TbBase's rule, ErrorAxiSlave).
  Sampling at the falling edge before it settles paired the previous edge's inputs with the new outputs
  and missed or misplaced handshakes (tb/dma/test_cover_dma.py::monitor_counts checks the counts).
* GEMM shapes and VPU corners: the testbenches call sample_gemm() / sample_vpu() with the stimulus they
  drive (the VPU corners are classified with the numpy model, stage by stage).
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import numpy as np
import yaml
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb_coverage.coverage import CoverPoint, coverage_db

from models import csr, isa
from models import vpu as V
from models.fixed_point import DATA_W, FRAC_W, round_shift
from models.hw import const

ENV = "SYSTOLE_FCOV"
ROOT = "systole"


def enabled() -> bool:
    return bool(os.environ.get(ENV))


# ---- ISA -----------------------------------------------------------------------------------------
OPS = sorted(isa.OPS.values(), key=lambda s: s.code)
FLAG_BITS = range(const("InstrFlagsW"))
# Every opcode with no flag and with each of the 8 flag bits: a bit an opcode does not define makes the word
# illegal (ErrIllegal), which is a behaviour to cover like any other.
OP_FLAG_BINS = [f"{s.name}.none" for s in OPS] + [f"{s.name}.f{b}" for s in OPS for b in FLAG_BITS]
VEC_PATH_BINS = [f"path{p:02d}.{src}" for p in range(1 << V.PATH_BITS) for src in ("acc", "ub")]
LOOP_BODY_BINS = ["one", "max"]

ERR_NAMES = {code: name for code, name in isa.ERROR_NAMES.items() if code != isa.ERR_NONE}
DMA_ERRS = {isa.ERR_DMA_ADDR, isa.ERR_DMA_WINDOW, isa.ERR_DMA_SLV, isa.ERR_DMA_DEC, isa.ERR_DMA_PROTO,
            isa.ERR_DMA_TIMEOUT}
# States in which a run can stop with an error. Decode errors can be found while the array streams or a
# DMA runs (LDW/MATMUL issue past an outstanding DMA), or with every unit idle. A program DMA's own error
# needs that DMA in flight, so "idle" is impossible for it; the program fetch (tpu_top) can fail with a DMA
# error or with ErrLen (PROG_LEN 0), and nothing else. CTRL.ABORT ends a fetch or a run in any state.
ERR_STATE_BINS = (
    [f"{ERR_NAMES[c]}.{st}" for c in sorted(ERR_NAMES) if c not in DMA_ERRS | {isa.ERR_ABORT}
     for st in ("idle", "matmul", "dma")]
    + [f"{ERR_NAMES[c]}.{st}" for c in sorted(DMA_ERRS) for st in ("dma", "matmul", "fetch")]
    + [f"{ERR_NAMES[isa.ERR_LEN]}.fetch"]
    + [f"{ERR_NAMES[isa.ERR_ABORT]}.{st}" for st in ("idle", "matmul", "dma", "fetch")]
)
# tpu_top's sequencer states (rtl/tpu_top.sv): the fetch, a run, and the abort drain.
TOP_FETCH, TOP_RUN, TOP_ABORT = 1, 2, 4

# ---- Range rules (docs/isa.md: overlap errors and interlocks) -------------------------------------------
RELATIONS = ["disjoint", "adjacent_below", "adjacent_above", "overlap1_below", "overlap1_above",
             "nested", "identical"]
# COPY and VEC compare two ranges of the same length, so one can only nest in the other by being identical:
# "nested" exists only for the DMA interlock (an LDW or MATMUL range against the outstanding DMA's range).
SAME_LENGTH_PAIRS = ("copy", "vec_src", "vec_aux")
RANGE_BINS = ([f"{pair}.{rel}" for pair in SAME_LENGTH_PAIRS for rel in RELATIONS if rel != "nested"]
              + [f"dma_interlock.{rel}" for rel in RELATIONS])
RANGE_EDGE_BINS = [f"{mem}.{edge}" for mem in ("UB", "WM", "ACC") for edge in ("first_word", "last_word")]


def relation(a: tuple[int, int], b: tuple[int, int]) -> str | None:
    """How range a = (start, length) sits against range b. None for an overlap of more than one word that
    is neither nesting nor identity (covered by the other bins' neighbours, not a bin of its own)."""
    a0, a1, b0, b1 = a[0], a[0] + a[1], b[0], b[0] + b[1]
    if (a0, a1) == (b0, b1):
        return "identical"
    if a1 == b0:
        return "adjacent_below"
    if b1 == a0:
        return "adjacent_above"
    if a1 < b0 or b1 < a0:
        return "disjoint"
    if (a0 >= b0 and a1 <= b1) or (b0 >= a0 and b1 <= a1):
        return "nested"
    if a0 < b0 and a1 == b0 + 1:
        return "overlap1_below"
    if b0 < a0 and b1 == a0 + 1:
        return "overlap1_above"
    return None


# ---- GEMM shapes -----------------------------------------------------------------------------------
SHAPE_CLASSES = ["below_p", "equal_p", "multiple_p", "other_above_p", "max"]
GEMM_BINS = [f"{dim}.{cls}" for dim in "MKN" for cls in SHAPE_CLASSES]


def shape_class(n: int, p: int) -> str:
    if n < p:
        return "below_p"
    if n == p:
        return "equal_p"
    return "multiple_p" if n % p == 0 else "other_above_p"


# ---- AXI4-Lite ---------------------------------------------------------------------------------------
def _axil_bins() -> list[str]:
    bins = []
    for reg in csr.registers().values():
        bins.append(f"{reg.name}.read.OKAY")
        # A write's answer is fixed by the register's access type: OKAY for a writable one, SLVERR else.
        writable = reg.access in (csr.RW, csr.WO, csr.W1C)
        bins.append(f"{reg.name}.write.{'OKAY' if writable else 'SLVERR'}")
    return bins + ["unmapped.read.DECERR", "unmapped.write.DECERR"]


RESP_NAMES = {0: "OKAY", 1: "EXOKAY", 2: "SLVERR", 3: "DECERR"}
AXIL_REG_BINS = _axil_bins()
AXIL_STRB_BINS = ["all", "partial", "none"]
AXIL_ORDER_BINS = ["aw_first", "w_first", "same_cycle"]
AXIL_CONCURRENT_BINS = ["read_and_write_in_flight"]

# ---- AXI4 DMA ----------------------------------------------------------------------------------------
AXI_BURST_BINS = ["read.len1", "read.max", "write.len1", "write.max", "read.split_4k", "write.split_4k"]
# Read responses are per beat: first, middle and last beat of a burst (a one-beat burst is first and last).
# Write responses are per burst (B): first, middle and last burst of one transfer.
AXI_RESP_BINS = [f"{d}.{pos}.{r}" for d in ("read", "write") for pos in ("first", "middle", "last")
                 for r in ("OKAY", "SLVERR", "DECERR")]
# B is never back-pressured: the DMA holds BREADY high for the whole write transfer (tpu_dma), so there is
# no "b" bin.
AXI_STALL_BINS = ["aw", "w", "ar", "r"]
AXI_OUTSTANDING_BINS = [f"{d}.{n}" for d in ("read", "write") for n in ("one", "max")]

# ---- VPU ---------------------------------------------------------------------------------------------
# Stage 6 (BGRAD) wraps modulo 2^AccW by design (docs/vpu.md): it has no saturation bin.
VPU_BINS = (["requant.sat_pos", "requant.sat_neg", "requant.tie", "bias.sat_pos", "bias.sat_neg",
             "leaky.tie", "loss.sat_pos", "loss.sat_neg", "loss.tie"]
            + [f"act.{a}.{s}" for a in ("identity", "relu", "leaky") for s in ("neg", "pos")]
            + [f"deriv.{a}.{s}" for a in ("relu", "leaky") for s in ("active", "inactive")])


def _multi(value: set[str], bin_: str) -> bool:
    return bin_ in value


def _sampler(name: str, bins: list[str]):
    """A cover point whose sample is a set of bin names (one sample may hit several bins: inj=False);
    returns the function that samples it."""
    point = CoverPoint(f"{ROOT}.{name}", xf=lambda hits: hits, bins=bins, rel=_multi, inj=False)
    return point(lambda hits: None)


_s_op_flag = _sampler("isa.opcode_x_flag", OP_FLAG_BINS)
_s_vec = _sampler("isa.vec_pathways", VEC_PATH_BINS)
_s_loop = _sampler("isa.loop_body", LOOP_BODY_BINS)
_s_err = _sampler("isa.error_x_state", ERR_STATE_BINS)
_s_range = _sampler("ranges.relation", RANGE_BINS)
_s_edges = _sampler("ranges.memory_edges", RANGE_EDGE_BINS)
_s_gemm = _sampler("gemm.shape", GEMM_BINS)
_s_axil_reg = _sampler("axil.register_x_access", AXIL_REG_BINS)
_s_axil_strb = _sampler("axil.strobes", AXIL_STRB_BINS)
_s_axil_order = _sampler("axil.aw_w_order", AXIL_ORDER_BINS)
_s_axil_conc = _sampler("axil.concurrency", AXIL_CONCURRENT_BINS)
_s_axi_burst = _sampler("dma.bursts", AXI_BURST_BINS)
_s_axi_resp = _sampler("dma.responses", AXI_RESP_BINS)
_s_axi_stall = _sampler("dma.backpressure", AXI_STALL_BINS)
_s_axi_out = _sampler("dma.outstanding", AXI_OUTSTANDING_BINS)
_s_vpu = _sampler("vpu.corners", VPU_BINS)


# ---- Sampling calls used by testbenches ---------------------------------------------------------------
def sample_gemm(m: int, k: int, n: int, p: int, ub: int, wm: int, acc: int) -> None:
    """One GEMM [m x k] . [k x n] on a p x p array whose UB, WMEM and ACC hold ub, wm and acc words (the
    layout of models.programs.GemmLayout: X takes kt*m UB words, W kt*nt*p WMEM words, Y nt*m ACC words).
    "max" is the largest value of that dimension the memories allow with the other two fixed."""
    if not enabled():
        return
    kt, nt = -(-k // p), -(-n // p)
    hits = {f"M.{shape_class(m, p)}", f"K.{shape_class(k, p)}", f"N.{shape_class(n, p)}"}
    if m == min(ub // kt, acc // nt, isa.OPS["MATMUL"].field("m").max):
        hits.add("M.max")
    if k == min(ub // m, wm // (nt * p)) * p:
        hits.add("K.max")
    if n == min(acc // m, wm // (kt * p)) * p:
        hits.add("N.max")
    _s_gemm(hits)


def _ties(x: np.ndarray, shift: int) -> bool:
    """Some element of x sits exactly half-way between two codes after a right shift by `shift`."""
    if shift <= 0:
        return False
    x = np.asarray(x, dtype=np.int64)
    return bool(np.any((x & ((1 << shift) - 1)) == (1 << (shift - 1))))


def _sat(pre: np.ndarray, bits: int) -> set[str]:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return ({"sat_pos"} if np.any(pre > hi) else set()) | ({"sat_neg"} if np.any(pre < lo) else set())


def sample_vpu(rows: np.ndarray, cfg: V.VpuConfig, bias=None, aux=None) -> None:
    """Classify one VPU operation's stimulus stage by stage with the model (which corners it drives)."""
    if not enabled():
        return
    hits: set[str] = set()
    rows = np.asarray(rows, dtype=np.int64)
    pre = round_shift(rows, cfg.shift)
    hits |= {f"requant.{s}" for s in _sat(pre, DATA_W)}
    if _ties(rows, cfg.shift):
        hits.add("requant.tie")
    d = V.requant(rows, cfg.shift)
    if cfg.bias_en:
        hits |= {f"bias.{s}" for s in _sat(d + np.asarray(bias, dtype=np.int64), DATA_W)}
        d = V.bias_add(d, bias)
    act = {V.ACT_RELU: "relu", V.ACT_LEAKY: "leaky"}.get(cfg.act, "identity")
    if cfg.act_en:
        hits |= {f"act.{act}.neg"} if np.any(d < 0) else set()
        hits |= {f"act.{act}.pos"} if np.any(d > 0) else set()
        if cfg.act == V.ACT_LEAKY and _ties(d[d < 0] * cfg.slope, FRAC_W):
            hits.add("leaky.tie")
        d = V.activate(d, cfg.act, cfg.slope)
    h = d
    if cfg.loss_en:
        prod = (d - np.asarray(aux, dtype=np.int64)) * cfg.loss_scale
        hits |= {f"loss.{s}" for s in _sat(round_shift(prod, cfg.loss_shift), DATA_W)}
        if _ties(prod, cfg.loss_shift):
            hits.add("loss.tie")
        d = V.loss_grad(d, aux, cfg.loss_scale, cfg.loss_shift)
    if cfg.deriv_en and act != "identity":
        g = np.asarray(h if cfg.loss_en else aux, dtype=np.int64)
        hits |= {f"deriv.{act}.active"} if np.any(g > 0) else set()
        hits |= {f"deriv.{act}.inactive"} if np.any(g <= 0) else set()
    _s_vpu(hits)


# ---- Passive monitors ----------------------------------------------------------------------------------
def _int(handle) -> int | None:
    """A handle's value as an unsigned int, or None while it holds X/Z (the X checks report those)."""
    v = handle.value
    return int(v) if v.is_resolvable else None


def _field(word: int, f) -> int:
    return (word >> f.lsb) & ((1 << f.width) - 1)


class IsaMonitor:
    """Samples the control unit once per cycle, at the falling edge, when every value is settled."""

    def __init__(self, ctrl, munit, top, depths: dict[str, int]) -> None:
        self.ctrl, self.munit, self.top, self.depths = ctrl, munit, top, depths
        self.imem = depths["ImemDepth"]

    def _state(self) -> str:
        if _int(self.munit.idle_o) == 0:
            return "matmul"
        return "dma" if _int(self.ctrl.dma_q) == 1 else "idle"

    def _word(self, word: int, pc: int) -> None:
        op = word & 0xFF
        spec = isa.BY_CODE.get(op)
        if spec is None:
            return
        flags = _field(word, isa.FLAGS_FIELD)
        _s_op_flag({f"{spec.name}.f{b}" for b in FLAG_BITS if flags >> b & 1} or {f"{spec.name}.none"})
        a = _field(word, isa.OPS["VEC"].field("src"))
        b = _field(word, isa.OPS["VEC"].field("dst"))
        c = _field(word, isa.OPS["VEC"].field("m"))
        d = _field(word, isa.OPS["VEC"].field("aux"))
        ranges: set[str] = set()
        if spec.name == "VEC":
            _s_vec({f"path{flags & 0x1F:02d}.{'ub' if flags >> 5 & 1 else 'acc'}"})
            if flags >> 5 & 1:
                ranges.add(f"vec_src.{relation((b, c), (a, c))}")
            if flags & (V.PATH_LOSS | V.PATH_DERIV):
                ranges.add(f"vec_aux.{relation((b, c), (d, c))}")
        elif spec.name == "COPY" and (flags >> 1 & 1) == (flags >> 2 & 1):
            ranges.add(f"copy.{relation((b, c), (a, c))}")
        elif spec.name == "LOOP":
            if b == 1:
                _s_loop({"one"})
            if pc + b == self.imem - 1:
                _s_loop({"max"})
        elif spec.name in ("LDW", "MATMUL") and _int(self.ctrl.dma_q) == 1:
            sel, lo, n = _int(self.ctrl.dma_sel_q), _int(self.ctrl.dma_lo_q), _int(self.ctrl.dma_n_q)
            mine = {"LDW": [(const("MemSelWm"), (a, self.depths["P"]))],
                    "MATMUL": [(const("MemSelUb"), (a, c)), (const("MemSelAcc"), (b, c))]}[spec.name]
            for msel, rng in mine:
                if msel == sel and None not in (lo, n):
                    ranges.add(f"dma_interlock.{relation(rng, (lo, n))}")
        _s_range({r for r in ranges if not r.endswith("None")})
        self._edges(spec.name, flags, a, b, c, d)

    def _edges(self, name: str, flags: int, a: int, b: int, c: int, d: int) -> None:
        ub, wm, acc = self.depths["UbDepth"], self.depths["WmDepth"], self.depths["AccDepth"]
        spans: list[tuple[str, int, int, int]] = []
        if name == "MATMUL":
            spans = [("UB", a, c, ub), ("ACC", b, c, acc)]
        elif name == "LDW":
            spans = [("WM", a, self.depths["P"], wm)]
        elif name == "COPY":
            src = ("WM", wm) if flags >> 1 & 1 else ("UB", ub)
            dst = ("WM", wm) if flags >> 2 & 1 else ("UB", ub)
            spans = [(src[0], a, c, src[1]), (dst[0], b, c, dst[1])]
        elif name == "VEC":
            src = ("UB", ub) if flags >> 5 & 1 else ("ACC", acc)
            spans = [(src[0], a, c, src[1]), ("UB", b, c, ub)]
        hits = set()
        for mem, start, length, depth in spans:
            if length and start == 0:
                hits.add(f"{mem}.first_word")
            if length and start + length == depth:
                hits.add(f"{mem}.last_word")
        _s_edges(hits)

    async def run(self) -> None:
        ctrl, last_pc, prev_state, prev_run, prev_top = self.ctrl, None, "idle", False, None
        prev_st = prev_code = None
        fetch_state = getattr(self.top, "state_q", None) if self.top is not None else None
        while True:
            await FallingEdge(ctrl.clk_i)
            await ReadOnly()
            st = _int(ctrl.state_q)
            running = st == 1  # StRun
            code = _int(ctrl.err_q)
            if prev_run and st == 2:  # StRun -> StStop: the error (if any) was raised in the last cycle
                if code in ERR_NAMES:
                    _s_err({f"{ERR_NAMES[code]}.{prev_state}"})
            elif st == 2 and prev_st == 2 and code != prev_code and code in ERR_NAMES:
                # A DMA that fails after the run stopped (a HALT or a decode error while it was in flight):
                # StStop takes the DMA's code.
                _s_err({f"{ERR_NAMES[code]}.{prev_state}"})
            prev_st, prev_code = st, code
            if fetch_state is not None:
                top_st = _int(fetch_state)
                if _int(self.top.csr_done) == 1 and top_st == TOP_FETCH:
                    code = _int(self.top.csr_err)
                    if code in ERR_NAMES:
                        _s_err({f"{ERR_NAMES[code]}.fetch"})
                if top_st == TOP_ABORT and prev_top in (TOP_FETCH, TOP_RUN):
                    _s_err({f"{ERR_NAMES[isa.ERR_ABORT]}.{'fetch' if prev_top == TOP_FETCH else prev_state}"})
                prev_top = top_st
            if running:
                pc = _int(ctrl.pc_q)
                word = _int(ctrl.ins)
                # A word waiting to issue is sampled once, when it first reaches decode.
                if word is not None and pc is not None and pc != last_pc:
                    self._word(word, pc)
                last_pc = pc if _int(ctrl.fire) == 0 else None
            else:
                last_pc = None
            prev_state, prev_run = self._state(), running


class AxilMonitor:
    """Samples the s_axil_* handshakes of a CSR slave."""

    def __init__(self, dut, offsets: dict[int, csr.Reg]) -> None:
        self.dut, self.offsets = dut, offsets

    def _reg(self, addr: int) -> str:
        reg = self.offsets.get(addr & ~3)
        return reg.name if reg is not None else "unmapped"

    async def run(self) -> None:
        d = self.dut
        aw, w, reads = deque(), deque(), deque()
        writes_open = 0
        while True:
            await FallingEdge(d.clk_i)
            await ReadOnly()
            if _int(d.rst_ni) == 0:
                aw.clear(), w.clear(), reads.clear()
                writes_open = 0
                continue
            aw_hs = _int(d.s_axil_awvalid) == 1 and _int(d.s_axil_awready) == 1
            w_hs = _int(d.s_axil_wvalid) == 1 and _int(d.s_axil_wready) == 1
            if aw_hs and w_hs and not aw and not w:
                _s_axil_order({"same_cycle"})
            elif aw_hs and not w and not w_hs:
                _s_axil_order({"aw_first"})
            elif w_hs and not aw and not aw_hs:
                _s_axil_order({"w_first"})
            if aw_hs:
                aw.append(_int(d.s_axil_awaddr))
                writes_open += 1
            if w_hs:
                strb = _int(d.s_axil_wstrb)
                w.append(strb)
                _s_axil_strb({"all" if strb == 0xF else "none" if strb == 0 else "partial"})
            if _int(d.s_axil_bvalid) == 1 and _int(d.s_axil_bready) == 1 and aw:
                resp = RESP_NAMES.get(_int(d.s_axil_bresp), "?")
                _s_axil_reg({f"{self._reg(aw.popleft())}.write.{resp}"})
                if w:
                    w.popleft()
                writes_open -= 1
            if _int(d.s_axil_arvalid) == 1 and _int(d.s_axil_arready) == 1:
                reads.append(_int(d.s_axil_araddr))
            if _int(d.s_axil_rvalid) == 1 and _int(d.s_axil_rready) == 1 and reads:
                resp = RESP_NAMES.get(_int(d.s_axil_rresp), "?")
                _s_axil_reg({f"{self._reg(reads.popleft())}.read.{resp}"})
            if reads and writes_open > 0:
                _s_axil_conc({"read_and_write_in_flight"})


class AxiMonitor:
    """Samples the m_axi_* handshakes of the DMA master; `dma` is the tpu_dma instance (its busy_o marks
    where one transfer ends and the next begins)."""

    def __init__(self, dut, dma, max_burst: int, max_outstanding: int, bus_bytes: int) -> None:
        self.dut, self.dma = dut, dma
        self.max_burst, self.max_out, self.bus_bytes = max_burst, max_outstanding, bus_bytes

    def _burst(self, kind: str, addr: int, beats: int, ends: dict[str, int | None]) -> set[str]:
        hits = set()
        if beats == 1:
            hits.add(f"{kind}.len1")
        if beats == self.max_burst:
            hits.add(f"{kind}.max")
        # A split: the previous burst of this transfer stopped short at a 4 KiB boundary, this one goes on.
        if ends[kind] is not None and ends[kind] == addr:
            hits.add(f"{kind}.split_4k")
        end = addr + beats * self.bus_bytes
        ends[kind] = end if beats < self.max_burst and end % 4096 == 0 else None
        return hits

    async def run(self) -> None:
        d = self.dut
        reads: deque[list[int]] = deque()  # [beats, beats seen] per read burst in flight
        writes = b_seen = 0
        ends: dict[str, int | None] = {"read": None, "write": None}
        while True:
            await FallingEdge(d.clk_i)
            await ReadOnly()
            if _int(d.rst_ni) == 0 or _int(self.dma.busy_o) == 0:
                reads.clear()
                writes = b_seen = 0
                ends = {"read": None, "write": None}
                continue
            _s_axi_stall({ch for ch, v, r in (("aw", d.m_axi_awvalid, d.m_axi_awready),
                                             ("w", d.m_axi_wvalid, d.m_axi_wready),
                                             ("ar", d.m_axi_arvalid, d.m_axi_arready),
                                             ("r", d.m_axi_rvalid, d.m_axi_rready))
                          if _int(v) == 1 and _int(r) == 0})
            if _int(d.m_axi_arvalid) == 1 and _int(d.m_axi_arready) == 1:
                beats = _int(d.m_axi_arlen) + 1
                _s_axi_burst(self._burst("read", _int(d.m_axi_araddr), beats, ends))
                reads.append([beats, 0])
            if _int(d.m_axi_awvalid) == 1 and _int(d.m_axi_awready) == 1:
                _s_axi_burst(self._burst("write", _int(d.m_axi_awaddr), _int(d.m_axi_awlen) + 1, ends))
                writes += 1
            out = {f"read.{n}" for n, k in (("one", 1), ("max", self.max_out)) if len(reads) == k}
            out |= {f"write.{n}" for n, k in (("one", 1), ("max", self.max_out)) if writes == k}
            _s_axi_out(out)
            if _int(d.m_axi_rvalid) == 1 and _int(d.m_axi_rready) == 1 and reads:
                beats, seen = reads[0]
                resp = RESP_NAMES.get(_int(d.m_axi_rresp), "?")
                hits = {f"read.{'first' if seen == 0 else 'last' if seen == beats - 1 else 'middle'}.{resp}"}
                if seen == beats - 1:
                    hits.add(f"read.last.{resp}")
                _s_axi_resp(hits)
                reads[0][1] += 1
                if reads[0][1] == beats:
                    reads.popleft()
            if _int(d.m_axi_bvalid) == 1 and _int(d.m_axi_bready) == 1 and writes:
                writes -= 1
                resp = RESP_NAMES.get(_int(d.m_axi_bresp), "?")
                # The last burst: nothing else outstanding and no beat of the transfer left to present.
                last = writes == 0 and _int(self.dma.ax_left_q) == 0 and _int(d.m_axi_awvalid) == 0
                hits = {f"write.{'first' if b_seen == 0 else 'last' if last else 'middle'}.{resp}"}
                if last:
                    hits.add(f"write.last.{resp}")
                _s_axi_resp(hits)
                b_seen += 1


def _param(dut, name: str, default: int) -> int:
    h = getattr(dut, name, None)
    return int(h.value) if h is not None else default


def attach(dut) -> None:
    """Start every monitor whose interface `dut` has (no-op unless SYSTOLE_FCOV is set)."""
    if not enabled():
        return
    import cocotb  # noqa: PLC0415

    _register_export(dut)
    if hasattr(dut, "s_axil_awvalid"):
        cocotb.start_soon(AxilMonitor(dut, csr.by_offset()).run())
    if hasattr(dut, "m_axi_awvalid"):
        dma = getattr(dut, "u_dma", dut)
        cocotb.start_soon(AxiMonitor(dut, dma, _param(dut, "MaxBurst", 16), _param(dut, "MaxOutstanding", 4),
                                     len(dut.m_axi_wstrb)).run())
    # `is None`, not `or`: a cocotb handle has no truth value (the old `or` failed every tpu_top test).
    core = getattr(dut, "u_core", None)
    if core is None and hasattr(dut, "u_ctrl"):
        core = dut
    if core is not None and hasattr(core, "u_ctrl"):
        depths = {n: _param(core, n, const(n)) for n in ("ImemDepth", "UbDepth", "WmDepth", "AccDepth")}
        depths["P"] = _param(core, "P", const("ArraySize"))
        top = dut if core is not dut else None
        cocotb.start_soon(IsaMonitor(core.u_ctrl, core.u_munit, top, depths).run())


_EXPORTED: list[str] = []


def _register_export(dut) -> None:
    """Write this simulation's hits once, when cocotb shuts down (after the last test of the module)."""
    if _EXPORTED:
        return
    import cocotb  # noqa: PLC0415
    import cocotb._shutdown  # noqa: PLC0415  (the hook cocotb's own user-code coverage uses)

    folder = Path(os.environ[ENV])
    folder.mkdir(parents=True, exist_ok=True)
    sim = str(cocotb.SIM_NAME).split()[0].lower()
    path = folder / f"{dut._name}.{sim}.{os.getpid()}.yml"
    _EXPORTED.append(str(path))
    cocotb._shutdown.register(lambda: coverage_db.export_to_yaml(str(path)))


# ---- Report ----------------------------------------------------------------------------------------------
def merge(files: list[Path]) -> dict[str, dict[str, int]]:
    """Hits per bin of every cover point (systole.*), summed over the exported files."""
    merged: dict[str, dict[str, int]] = {}
    for f in files:
        data = yaml.safe_load(Path(f).read_text()) or {}
        for name, item in data.items():
            bins = item.get("bins:_hits")
            if bins is None or not name.startswith(ROOT + "."):
                continue
            into = merged.setdefault(name[len(ROOT) + 1:], {})
            for b, n in bins.items():
                into[str(b)] = into.get(str(b), 0) + int(n)
    return merged


def model() -> dict[str, list[str]]:
    """Every cover point of the model with its bins (what 100% means)."""
    return {name[len(ROOT) + 1:]: [str(b) for b in item.detailed_coverage]
            for name, item in coverage_db.items() if name.count(".") == 2}


def report(files: list[Path], out_dir: Path) -> dict:
    """Merge `files`, write functional.txt and functional.json to out_dir; returns the JSON summary."""
    hits = merge(files)
    points = {}
    total = hit = 0
    for name, bins in sorted(model().items()):
        seen = hits.get(name, {})
        missed = [b for b in bins if seen.get(b, 0) == 0]
        points[name] = {"bins": len(bins), "hit": len(bins) - len(missed), "missed": missed}
        total += len(bins)
        hit += len(bins) - len(missed)
    summary = {"functional_percent": round(100.0 * hit / total, 2) if total else 0.0, "bins": total,
               "hit": hit, "runs": len(files), "points": points}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "functional.json").write_text(__import__("json").dumps(summary, indent=2) + "\n")
    lines = [f"{'cover point':32} {'bins':>5} {'hit':>5} {'%':>7}"]
    for name, p in points.items():
        lines.append(f"{name:32} {p['bins']:5} {p['hit']:5} {100.0 * p['hit'] / p['bins']:6.1f}%")
    lines.append(f"{'total':32} {total:5} {hit:5} {summary['functional_percent']:6.1f}%")
    lines.append("")
    for name, p in points.items():
        if p["missed"]:
            lines.append(f"missed in {name}: {', '.join(p['missed'])}")
    (out_dir / "functional.txt").write_text("\n".join(lines) + "\n")
    return summary
