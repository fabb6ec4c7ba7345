"""What a simulator's FST trace shows, cycle by cycle: the data the pictures of scripts/viz.py draw.

Read with pywellen (a maintained FST/VCD reader), so the pictures come from the simulation itself,
never from a model. Names are looked up robustly, because the two simulators write them differently:

* Verilator puts the toplevel under `TOP.`; Icarus does not. `Trace.var("g_row[1].g_col[2].u_pe.x_q")`
  finds the one variable whose dotted name ends with the given suffix (after the toplevel), whatever the
  prefix.
* A packed array port (`logic [P-1:0][W-1:0] x_data_i`) is one vector in Icarus's FST and one variable per
  element in Verilator's (`x_data_i.x_data_i[3]`); `Trace.vector()` reads either as a list of elements.

Timing: a register's value after the rising edge at time t is `value_at(t)` (the FST holds the value
after every change at a time stamp); the value an input had when the edge sampled it is the value at
t - 1 (testbenches drive after the falling edge). X/Z reads as an error.

Array pictures: `array_states()` turns the trace of tpu_array into one `models.array_model.State` per
edge, read from every PE's registers (`<name>_q`, or `<name>`, for each name of PE_REGISTERS) and the
outputs, and `array_inputs()` the port values each edge sampled. A pipelined PE (more registers) still
reads as long as PE_REGISTERS and the RTL names follow that convention.
Unit timeline: `unit_lanes()` reads tpu_top's run state, DMA, execution units and stall signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pywellen

from models.array_model import PE_REGISTERS, Inputs, State
from tb.common.tb_base import CLOCK_PERIOD_NS


class TraceError(ValueError):
    """A signal is missing, ambiguous or unknown (X/Z) in the trace."""


def signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) & 1 else v


class Trace:
    """One FST (or VCD) file: name lookup by suffix, sampling at times in the trace's unit."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise TraceError(f"no trace at {self.path}")
        self.wave = pywellen.Waveform(str(self.path))
        ts = self.wave.timescale
        unit = str(ts.unit).split(".")[-1].lower()
        exp = {"fs": -15, "ps": -12, "ns": -9, "us": -6, "ms": -3, "s": 0}[unit]
        self.unit_s = ts.factor * 10.0**exp
        self._vars: dict[str, pywellen.Var] = {}
        for v in self.wave.all_vars():
            name = v.full_name
            if name.startswith("$"):
                continue  # Verilator's $rootio copies of the toplevel ports
            if name.startswith("TOP."):
                name = name[4:]
            self._vars.setdefault(name, v)
        self._signals: dict[str, object] = {}

    def ns(self, t_ns: float) -> int:
        """A time in ns as a time stamp of the trace."""
        return round(t_ns * 1e-9 / self.unit_s)

    def names(self) -> list[str]:
        return list(self._vars)

    def find(self, suffix: str) -> str | None:
        """The full name of the one variable named `suffix` or ending in `.suffix` (None: no such one)."""
        if suffix in self._vars:
            return suffix
        hits = [n for n in self._vars if n.endswith("." + suffix)]
        if len(hits) > 1:
            # The shortest path wins (tpu_top.u_core.x before tpu_top.u_core.u_sub.x) only if it is unique.
            depth = min(n.count(".") for n in hits)
            hits = [n for n in hits if n.count(".") == depth]
        if len(hits) > 1:
            raise TraceError(f"{self.path.name}: {suffix!r} is ambiguous: {hits[:4]}")
        return hits[0] if hits else None

    def var(self, suffix: str) -> pywellen.Var:
        name = self.find(suffix)
        if name is None:
            raise TraceError(f"{self.path.name}: no signal {suffix!r} in the trace")
        return self._vars[name]

    def width(self, suffix: str) -> int:
        return int(self.var(suffix).bitwidth)

    def _signal(self, name: str):
        if name not in self._signals:
            self._signals[name] = self._vars[name].signal
        return self._signals[name]

    def sample(self, suffix: str, times: Sequence[int]) -> list[int]:
        """The unsigned value of a variable at each time stamp."""
        name = self.find(suffix)
        if name is None:
            raise TraceError(f"{self.path.name}: no signal {suffix!r} in the trace")
        sig = self._signal(name)
        out = []
        for t in times:
            v = sig.value_at(int(t))
            if not isinstance(v, int):
                raise TraceError(f"{self.path.name}: {name} is {v!r} (unknown) at time {t}")
            out.append(v)
        return out

    def vector(self, suffix: str, n: int, times: Sequence[int]) -> list[list[int]]:
        """A packed array of n elements (element j at the low end first) at each time, unsigned."""
        name = self.find(suffix)
        if name is not None and self.width(suffix) % n == 0 and not self._has_elements(name):
            w = self.width(suffix) // n
            mask = (1 << w) - 1
            return [[(v >> (j * w)) & mask for j in range(n)] for v in self.sample(suffix, times)]
        elems = [self._element(suffix, j) for j in range(n)]
        if any(e is None for e in elems):
            raise TraceError(f"{self.path.name}: no packed array {suffix!r} of {n} elements in the trace")
        cols = [self.sample(e, times) for e in elems]
        return [[cols[j][k] for j in range(n)] for k in range(len(times))]

    def _element(self, suffix: str, j: int) -> str | None:
        """Element j of a packed array that the trace splits (Verilator: `x.[j]`, or `x.x[j]`)."""
        leaf = suffix.rsplit(".", 1)[-1]
        for cand in (f"{suffix}.[{j}]", f"{suffix}.{leaf}[{j}]", f"{suffix}[{j}]"):
            if self.find(cand) is not None:
                return self.find(cand)
        return None

    def _has_elements(self, name: str) -> bool:
        return any(k.startswith(name + ".") or k.startswith(name + "[") for k in self._vars)

    def rising_edges(self, clk: str, period: int, start: int = 0, end: int | None = None) -> list[int]:
        """Time stamps of the rising edges of `clk` (period `period` time units) in [start, end), up to
        the end of the trace or the first missing edge."""
        sig = self._signal(self.find(clk) or self.var(clk).full_name)
        t = start + 1
        while t < start + 2 * period and not (sig.value_at(t) == 1 and sig.value_at(t - 1) == 0):
            t += 1
        edges: list[int] = []
        while (
            (end is None or t < end)
            and sig.value_at(t) == 1
            and sig.value_at(t - 1) == 0
            and sig.value_at(t + period // 2) == 0
        ):
            edges.append(t)
            t += period
        return edges


# ---- tpu_array: the PE grid per edge -----------------------------------------------------------

PE_PATH = "g_row[{i}].g_col[{j}].u_pe"


def _pe_name(tr: Trace, i: int, j: int, reg: str, top: str) -> str:
    for cand in (f"{reg}_q", reg):
        full = f"{top}.{PE_PATH.format(i=i, j=j)}.{cand}"
        if tr.find(full) is not None:
            return full
    raise TraceError(f"{tr.path.name}: PE[{i}][{j}] has no register {reg}_q (or {reg}) in the trace")


def array_p(tr: Trace, top: str = "tpu_array") -> int:
    """P of a traced tpu_array: the number of PE rows in the trace."""
    p = 0
    while tr.find(f"{top}.{PE_PATH.format(i=p, j=0)}.x_valid_i") is not None:
        p += 1
    if p == 0:
        raise TraceError(f"{tr.path.name}: no tpu_array PEs in the trace")
    return p


ARRAY = "tpu_array"  # the toplevel of the array traces


def array_inputs(tr: Trace, edges: Sequence[int], p: int, top: str = ARRAY) -> list[Inputs]:
    """The array's port values sampled by each edge (just before it)."""
    before = [t - 1 for t in edges]
    bits = {n: tr.sample(f"{top}.{n}", before) for n in ("w_valid_i", "w_last_i", "x_valid_i", "x_switch_i")}
    width = _elem_width(tr, f"{top}.w_data_i", p)
    w = tr.vector(f"{top}.w_data_i", p, before)
    x = tr.vector(f"{top}.x_data_i", p, before)
    return [
        Inputs(
            bits["w_valid_i"][k],
            bits["w_last_i"][k],
            [signed(v, width) for v in w[k]],
            bits["x_valid_i"][k],
            bits["x_switch_i"][k],
            [signed(v, width) for v in x[k]],
        )
        for k in range(len(edges))
    ]


def _elem_width(tr: Trace, suffix: str, p: int) -> int:
    name = tr.find(suffix)
    if name is not None and not tr._has_elements(name):
        return tr.width(suffix) // p
    e = tr._element(suffix, 0)
    if e is None:
        raise TraceError(f"{tr.path.name}: no {suffix} in the trace")
    return tr.width(e)


def array_states(tr: Trace, edges: Sequence[int], p: int, top: str = ARRAY) -> list[State]:
    """Every PE register and the outputs after each edge, as the model's State (signed codes)."""
    regs = {}
    for reg in PE_REGISTERS:
        grid = np.zeros((len(edges), p, p), dtype=np.int64)
        for i in range(p):
            for j in range(p):
                name = _pe_name(tr, i, j, reg, top)
                w = tr.width(name)
                vals = tr.sample(name, edges)
                grid[:, i, j] = [signed(v, w) if w > 1 else v for v in vals]
        regs[reg] = grid
    acc_w = _elem_width(tr, f"{top}.y_data_o", p)
    y = tr.vector(f"{top}.y_data_o", p, edges)
    yv = tr.sample(f"{top}.y_valid_o", edges)
    return [
        State(
            **{r: regs[r][k] for r in PE_REGISTERS},
            y_valid=yv[k],
            y_data=np.array([signed(v, acc_w) for v in y[k]], dtype=np.int64),
        )
        for k in range(len(edges))
    ]


def state_mismatch(got: State, want: State, p: int, acc_w: int, data_w: int) -> str:
    """'' when the trace's state equals the model's (registers compared at their RTL width), else the first
    difference."""
    for reg in PE_REGISTERS:
        g, w = np.asarray(got.pe(reg)), np.asarray(want.pe(reg))
        width = acc_w if reg == "psum" else data_w
        mask = (1 << width) - 1
        bad = np.argwhere((g & mask) != (w & mask))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            return f"PE[{i}][{j}].{reg}: trace {int(g[i, j])}, model {int(w[i, j])}"
    if got.y_valid != want.y_valid:
        return f"y_valid_o: trace {got.y_valid}, model {want.y_valid}"
    if want.y_valid and not np.array_equal(
        np.asarray(got.y_data) & ((1 << acc_w) - 1), np.asarray(want.y_data) & ((1 << acc_w) - 1)
    ):
        return f"y_data_o: trace {list(got.y_data)}, model {list(want.y_data)}"
    return ""


# ---- double buffering: what each PE does at each edge -----------------------------------------

DBUF_EVENTS = ("shift", "commit", "swap", "compute")


def dbuf_events(states: Sequence[State], p: int) -> dict[str, np.ndarray]:
    """{event: bool array [edge, i, j]} from a sequence of states starting right after a reset.

    shift: a weight of the next tile moved into the PE's transit register; commit: the shadow register
    was written; swap: the switch passed (shadow -> active); compute: the PE multiplied an input. With
    distinct non-zero weights (tb/viz/viz_array.py) every shift and commit changes its register.
    """
    prev = State(*(np.zeros((p, p), np.int64) for _ in PE_REGISTERS))
    out = {e: np.zeros((len(states), p, p), dtype=bool) for e in DBUF_EVENTS}
    for k, s in enumerate(states):
        out["shift"][k] = np.asarray(s.transit) != np.asarray(prev.transit)
        out["commit"][k] = np.asarray(s.shadow) != np.asarray(prev.shadow)
        out["swap"][k] = np.asarray(s.switch).astype(bool)
        out["compute"][k] = np.asarray(s.valid).astype(bool)
        prev = s
    return out


# ---- tpu_top: the unit timeline ----------------------------------------------------------------


@dataclass
class Lanes:
    """Per-edge activity of tpu_top's units over one run (bool arrays, one entry per edge)."""

    edges: list[int]  # time stamps
    lanes: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # what the trace adds up to, counter by counter


# The lanes are levels sampled just before each edge: what a unit did in the cycle that edge ends (what a
# counter incrementing on the level adds). The execution units' busy lanes are the idle flags tpu_ctrl
# issues by (docs/core.md).
TOP_STATE = {"idle": 0, "fetch": 1, "run": 2}  # tpu_top.sv's TIdle / TFetch / TRun


def unit_lanes(tr: Trace, start_ns: float, end_ns: float, p: int) -> Lanes:
    """The first run of tpu_top (CTRL.START to done) after `start_ns`, edge by edge, and its totals.

    Each lane holds, per edge, the level its signals had in the cycle that edge ended (sampled just
    before the edge), so a lane's count is what a counter incrementing on that level adds up to.
    """
    clk = "tpu_top.clk_i"
    edges = tr.rising_edges(clk, tr.ns(CLOCK_PERIOD_NS), tr.ns(start_ns), tr.ns(end_ns))
    before = [t - 1 for t in edges]
    state = np.array(tr.sample("tpu_top.state_q", before))
    run = state != TOP_STATE["idle"]
    if not run.any():
        raise TraceError(f"{tr.path.name}: tpu_top never leaves idle between {start_ns} and {end_ns} ns")
    first = int(np.argmax(run))
    last = first + int(np.argmax(~run[first:])) if (~run[first:]).any() else len(run)
    sl = slice(first, last)
    ed, bf = edges[sl], before[sl]

    def lvl(name: str) -> np.ndarray:
        return np.array(tr.sample(name, bf), dtype=np.int64)

    st = state[sl]
    dma_busy = lvl("u_dma.busy_o").astype(bool)
    dma_dir = lvl("u_dma.dir_q")
    lanes = {
        "program fetch": st == TOP_STATE["fetch"],
        "DMA in": (st == TOP_STATE["run"]) & dma_busy & (dma_dir == 0),
        "DMA out": (st == TOP_STATE["run"]) & dma_busy & (dma_dir == 1),
        "LDW": ~lvl("u_core.wu_idle").astype(bool),
        "MATMUL": ~lvl("u_core.mu_idle").astype(bool),
        "VEC": ~lvl("u_core.vu_idle").astype(bool),
        "COPY": ~lvl("u_core.cu_idle").astype(bool),
        "weight stall": lvl("u_core.u_ctrl.wstall_o").astype(bool) & lvl("u_core.busy_o").astype(bool),
        "DMA stall": lvl("u_dma.perf_stall_o").astype(bool),
    }
    rows = lvl("u_core.u_array.x_valid_i").astype(bool)
    r_beats = lvl("m_axi_rvalid") & lvl("m_axi_rready")
    w_hs = (lvl("m_axi_wvalid") & lvl("m_axi_wready")).astype(bool)
    strb = np.array([bin(v).count("1") for v in tr.sample("m_axi_wstrb", bf)])
    counts = {
        "CYCLES": int(len(ed)),
        "ARRAY_BUSY": int(rows.sum()),
        "MACS": int(rows.sum()) * p * p,
        "WSTALL": int(lanes["weight stall"].sum()),
        "DMA_BYTES": int(r_beats.sum()) * tr.width("tpu_top.m_axi_wstrb") + int(strb[w_hs].sum()),
        "DMA_STALL": int(lanes["DMA stall"].sum()),
    }
    return Lanes(list(ed), {k: np.asarray(v, dtype=bool) for k, v in lanes.items()}, counts)
