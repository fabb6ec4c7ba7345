"""Cycle model of rtl/tpu_array.sv: what every PE register and the outputs hold after every clock edge.

The model consumes exactly the stimulus the RTL ports see, one `Inputs` per rising edge (edge 0 is
the first), and mirrors the RTL structure register for register:

* input staircase: port row element i reaches PE[i][0] after i delay stages (shifting every edge);
* weight staircase: port column j (valid, last, data[j]) reaches column j after j delay stages;
* PE[i][j]: x/valid/switch from the left, psum and transit weight from above (docs/architecture.md);
  a three-stage MAC: the row arriving at an edge is registered with its weight (x, active), the next
  edge registers their product (prod, pvalid), the one after adds it to the psum from above (the PE
  above registered that row's psum at the same edge as this product);
* de-skew: the bottom psum of column j is delayed P-1-j more stages; y_valid_o is PE[P-1][P-1]'s valid
  two edges later.

Timing that follows (and that the RTL tests assert): a row sampled at edge e reaches PE[i][j] at edge
e+i+j, is multiplied there at e+i+j+1, summed at e+i+j+2 and registered on the outputs at edge
e + latency(P) = e+2P. This module is the single source of that latency for every other model and
script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.fixed_point import ACC_W, DATA_W, matmul_acc, wrap

PE_REGISTERS = ("x", "valid", "switch", "transit", "shadow", "active", "psum")
# The product register (prod_q) is not in PE_REGISTERS: it has no reset in the RTL (a DSP output
# register, rtl/tpu_pe.sv), so it holds an old product (or X) after reset until the next row, which the
# model's zero cannot match. Its value reaches psum on the next edge, where it is checked. Its valid
# (pvalid, prod_valid_q) is modelled too, outside PE_REGISTERS like prod.


def latency(p: int) -> int:
    """Edges from the edge that samples an input row to the edge that registers its result row:
    2P-2 through the staircase, the mesh and the de-skew, plus the PE's product and sum stages."""
    return 2 * p


@dataclass
class Inputs:
    """The array's input ports during one edge (unskewed rows, length-P int sequences)."""

    w_valid: int = 0
    w_last: int = 0
    w_data: Sequence[int] | None = None
    x_valid: int = 0
    x_switch: int = 0
    x_data: Sequence[int] | None = None
    rst: int = 0  # reset asserted during this edge (an extension for tests: not an array port)


@dataclass
class State:
    """Every register after one edge. PE arrays are indexed [row i][column j]."""

    x: np.ndarray
    valid: np.ndarray
    switch: np.ndarray
    transit: np.ndarray
    shadow: np.ndarray
    active: np.ndarray
    psum: np.ndarray
    prod: np.ndarray | None = None  # the product registers (not reset in the RTL; see PE_REGISTERS)
    pvalid: np.ndarray | None = None  # prod holds the product of the row the PE saw one edge earlier
    y_valid: int = 0
    y_data: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def pe(self, name: str) -> np.ndarray:
        return getattr(self, name)


def _zeros_state(p: int) -> State:
    z = np.zeros((p, p), dtype=np.int64)
    return State(*(z.copy() for _ in PE_REGISTERS), prod=z.copy(), pvalid=z.copy(), y_valid=0,
                 y_data=np.zeros(p, dtype=np.int64))


class ArrayModel:
    """Steps the array one edge at a time; `state` is the state after the last edge."""

    def __init__(self, p: int, data_w: int = DATA_W, acc_w: int = ACC_W) -> None:
        self.p, self.data_w, self.acc_w = p, data_w, acc_w
        self.reset()

    def reset(self) -> None:
        """Asynchronous reset: every register, delay stages included, goes to zero."""
        p = self.p
        self.state = _zeros_state(p)
        # Port history, newest first: hist[k] is what the ports held k+1 edges ago (zeros after reset).
        self._w_hist = [(0, 0, np.zeros(p, dtype=np.int64)) for _ in range(p)]
        self._x_hist = [(0, 0, np.zeros(p, dtype=np.int64)) for _ in range(p)]
        self._bottom_hist = [np.zeros(p, dtype=np.int64) for _ in range(p)]

    def _row(self, data: Sequence[int] | None) -> np.ndarray:
        if data is None:
            return np.zeros(self.p, dtype=np.int64)
        row = wrap(np.asarray(data, dtype=np.int64), self.data_w)
        if row.shape != (self.p,):
            raise ValueError(f"expected {self.p} elements, got shape {row.shape}")
        return row

    def step(self, inp: Inputs) -> State:
        """Apply one rising edge with `inp` on the ports; return the state after it."""
        if inp.rst:
            self.reset()
            return self.state
        p, s = self.p, self.state
        w_now = (int(inp.w_valid), int(inp.w_last), self._row(inp.w_data))
        x_now = (int(inp.x_valid), int(inp.x_switch), self._row(inp.x_data))
        w_seen = [w_now, *self._w_hist]  # w_seen[d]: the ports d edges ago
        x_seen = [x_now, *self._x_hist]

        # What arrives at each PE this edge (the left / top neighbours' registers, or the staircases).
        x_in, v_in, sw_in = np.zeros((p, p), np.int64), np.zeros((p, p), np.int64), np.zeros((p, p), np.int64)
        for i in range(p):
            v, sw, row = x_seen[i]
            v_in[i, 0], sw_in[i, 0], x_in[i, 0] = v, sw, row[i]
        x_in[:, 1:], v_in[:, 1:], sw_in[:, 1:] = s.x[:, :-1], s.valid[:, :-1], s.switch[:, :-1]
        psum_in = np.zeros((p, p), np.int64)
        psum_in[1:, :] = s.psum[:-1, :]
        shift, commit, w_in = np.zeros(p, np.int64), np.zeros(p, np.int64), np.zeros((p, p), np.int64)
        for j in range(p):
            v, last, row = w_seen[j]
            shift[j], commit[j], w_in[0, j] = v, v & last, row[j]
        w_in[1:, :] = s.transit[:-1, :]

        swap = (v_in & sw_in).astype(bool)
        valid = v_in.astype(bool)
        w_use = np.where(swap, s.shadow, s.active)
        new = State(
            x=np.where(valid, x_in, s.x),
            valid=v_in.copy(),
            switch=(v_in & sw_in),
            transit=np.where(shift[None, :].astype(bool), w_in, s.transit),
            shadow=np.where(commit[None, :].astype(bool), w_in, s.shadow),
            active=np.where(valid, w_use, s.active),
            # This edge adds the product registered at the previous edge (of the row the PE saw before).
            psum=np.where(s.pvalid.astype(bool), wrap(psum_in + s.prod, self.acc_w), s.psum),
            prod=np.where(s.valid.astype(bool), s.x * s.active, s.prod),
            pvalid=s.valid.copy(),
        )
        bottom = [new.psum[p - 1].copy(), *self._bottom_hist]  # bottom[d]: bottom row d edges ago
        new.y_data = np.array([bottom[p - 1 - j][j] for j in range(p)], dtype=np.int64)
        new.y_valid = int(s.pvalid[p - 1, p - 1])  # that row's sum is the one registered at this edge

        self._w_hist = w_seen[:p]
        self._x_hist = x_seen[:p]
        self._bottom_hist = bottom[:p]
        self.state = new
        return new


def simulate(stimulus: Sequence[Inputs], p: int, data_w: int = DATA_W, acc_w: int = ACC_W) -> list[State]:
    """The state after every edge of `stimulus`, starting from reset."""
    model = ArrayModel(p, data_w, acc_w)
    return [model.step(inp) for inp in stimulus]


def outputs(states: Sequence[State]) -> list[tuple[int, np.ndarray]]:
    """(edge, y_data) for every edge after which y_valid is set."""
    return [(n, s.y_data) for n, s in enumerate(states) if s.y_valid]


def stream_cycles(t: int, m: int, p: int) -> int:
    """Edges from the first weight shift up to and including the edge that registers the last result
    row, for T tiles of M rows each on a P x P array, fastest legal schedule, no idle cycles."""
    if t < 1 or m < 1 or p < 1:
        raise ValueError("T, M and P must be positive")
    # The first row is sampled at edge P (after P weight rows); the last one (T-1)*max(M, P) + M - 1 later.
    return (t - 1) * max(m, p) + m + p + latency(p)


IdleSpec = int | Sequence[int] | Callable[[int], int] | None


def _gap(idle: IdleSpec, k: int) -> int:
    if idle is None:
        return 0
    if isinstance(idle, int):
        return idle
    if callable(idle):
        return int(idle(k))
    return int(idle[k])


def schedule_tiles(
    weight_tiles: Sequence[np.ndarray], x_tiles: Sequence[np.ndarray], idle: IdleSpec = None
) -> list[Inputs]:
    """The fastest legal stimulus that computes x_tiles[t] @ weight_tiles[t] for every tile t.

    weight_tiles[t] is P x P, x_tiles[t] is M_t x P (M_t >= 1). Tile 0's weights shift at edges 0..P-1;
    tile t+1's weights shift from the edge of tile t's first input row (rule a), and tile t+1's first
    row comes one edge after its last weight row at the earliest (rule b). `idle` inserts idle edges
    after input row k (counted over all tiles, the last row excepted): an int for every row, a sequence
    or a function of k. The stimulus is padded with idle edges up to and including the edge that
    registers the last result row, so for idle=None its length is stream_cycles(T, M, P).
    """
    if len(weight_tiles) != len(x_tiles) or not weight_tiles:
        raise ValueError("need one weight tile per input tile, and at least one")
    p = np.asarray(weight_tiles[0]).shape[0]
    events: dict[int, Inputs] = {}

    def at(edge: int) -> Inputs:
        return events.setdefault(edge, Inputs())

    w_start = 0
    prev_row_edge = None
    k = 0
    total_rows = sum(len(x) for x in x_tiles)
    for w, x in zip(weight_tiles, x_tiles, strict=True):
        w, x = np.asarray(w, dtype=np.int64), np.asarray(x, dtype=np.int64)
        if w.shape != (p, p) or x.ndim != 2 or x.shape[1] != p or len(x) == 0:
            raise ValueError(f"tile shapes {w.shape} and {x.shape} do not fit P={p}")
        for r in range(p):  # W[P-1] first, W[0] last
            e = at(w_start + r)
            e.w_valid, e.w_last, e.w_data = 1, int(r == p - 1), w[p - 1 - r].tolist()
        last_w = w_start + p - 1
        start = last_w + 1 if prev_row_edge is None else max(last_w + 1, prev_row_edge)
        for r, row in enumerate(x):
            edge = start if r == 0 else prev_row_edge
            e = at(edge)
            e.x_valid, e.x_switch, e.x_data = 1, int(r == 0), row.tolist()
            if r == 0:
                w_start = edge  # rule (a): the next tile may start shifting now
            k += 1
            prev_row_edge = edge + 1 + (_gap(idle, k - 1) if k < total_rows else 0)
        # prev_row_edge is now the earliest edge for the next input row
    last_row_edge = prev_row_edge - 1
    length = last_row_edge + latency(p) + 1
    return [events.get(n, Inputs()) for n in range(length)]


def expected_rows(weight_tiles: Sequence[np.ndarray], x_tiles: Sequence[np.ndarray]) -> np.ndarray:
    """All result rows in order: x_tiles[t] @ weight_tiles[t] with exact products, wrapping sums."""
    return np.concatenate([matmul_acc(x, w) for w, x in zip(weight_tiles, x_tiles, strict=True)])
