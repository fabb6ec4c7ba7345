"""Program generators for the Systole ISA, and helpers that lay their operands out in memory.

`gemm_program(M, K, N, P)` computes Y = X . W (X: M x K, W: K x N) tiled over K and N, with every weight
load overlapping the MATMUL before it. Memory layout (GemmLayout; K and N padded with zeros to tiles):

* UB   x_ub + i*M + m        = X[m, i*P : i*P+P]                 (K tile i, row m)
* WMEM w_wm + (j*kt + i)*P + r = W[i*P + r, j*P : j*P+P]         (tile (i, j), tile row r)
* ACC  y_acc + j*M + m       = Y[m, j*P : j*P+P]                 (N tile j, row m; AccW wrapping)

`dense_forward_program` adds the layer epilogue H = act(requant(Y) + b) through the VPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.fixed_point import FRAC_W
from models.isa import ACC_DEPTH, ACT_CODES, OPS, UB_DEPTH, WM_DEPTH
from models.isa_sim import MachineState

_MAX_ROWS = OPS["MATMUL"].field("m").max


def _tiles(n: int, P: int) -> int:
    return -(-n // P)


@dataclass(frozen=True)
class GemmLayout:
    """Where a GEMM's operands live (base word addresses); see the module docstring."""

    M: int
    K: int
    N: int
    P: int
    x_ub: int = 0
    w_wm: int = 0
    y_acc: int = 0

    @property
    def kt(self) -> int:
        return _tiles(self.K, self.P)

    @property
    def nt(self) -> int:
        return _tiles(self.N, self.P)

    def x_addr(self, i: int) -> int:
        return self.x_ub + i * self.M

    def w_addr(self, i: int, j: int) -> int:
        return self.w_wm + (j * self.kt + i) * self.P

    def y_addr(self, j: int) -> int:
        return self.y_acc + j * self.M

    @property
    def ub_words(self) -> int:
        """One past the last UB word used."""
        return self.x_ub + self.kt * self.M

    def check(self, ub_depth: int = UB_DEPTH, wm_depth: int = WM_DEPTH, acc_depth: int = ACC_DEPTH) -> None:
        """Raise ValueError if the shape is empty or an operand does not fit its memory."""
        if min(self.M, self.K, self.N, self.P) < 1:
            raise ValueError(f"empty GEMM {self.M}x{self.K}x{self.N} (P={self.P})")
        if self.M > _MAX_ROWS:
            raise ValueError(f"M={self.M} exceeds the MATMUL row field (max {_MAX_ROWS})")
        for name, end, depth in (
            ("X in UB", self.ub_words, ub_depth),
            ("W in WMEM", self.w_wm + self.kt * self.nt * self.P, wm_depth),
            ("Y in ACC", self.y_acc + self.nt * self.M, acc_depth),
        ):
            if end > depth:
                raise ValueError(f"{name} needs words up to {end - 1}, memory depth is {depth}")


def _layout(M: int, K: int, N: int, P: int, layout: GemmLayout | None) -> GemmLayout:
    if layout is None:
        layout = GemmLayout(M, K, N, P)
    elif (layout.M, layout.K, layout.N, layout.P) != (M, K, N, P):
        have = f"{layout.M}x{layout.K}x{layout.N} P={layout.P}"
        raise ValueError(f"layout is for {have}, not {M}x{K}x{N} P={P}")
    layout.check()
    return layout


@dataclass(frozen=True)
class TileStep:
    """One weight tile of a double-buffered stream and the MATMUL that uses it."""

    ldw: str  # LDW operands, e.g. "12" or "12, T"
    matmul: str  # the MATMUL without SWAP, e.g. "MATMUL 0, 16, 8, ACC"
    name: str  # the tile in comments, e.g. "tile (k0, n1)"
    note: str  # the MATMUL's comment


def tile_stream(steps: list[TileStep]) -> list[tuple[str, str]]:
    """(instruction, comment) pairs that double-buffer the weights: the first LDW, then every MATMUL with
    SWAP followed by the LDW of the next tile, which shifts in while that MATMUL streams (docs/isa.md §4)."""
    out = [(f"LDW {steps[0].ldw}", steps[0].name)]
    for t, step in enumerate(steps):
        out.append((f"{step.matmul}, SWAP", step.note))
        if t + 1 < len(steps):
            out.append((f"LDW {steps[t + 1].ldw}", f"next {steps[t + 1].name}, overlaps"))
    return out


def gemm_body(lay: GemmLayout) -> list[str]:
    """The GEMM instructions (no HALT): each LDW is issued right after the MATMUL it overlaps."""
    steps = [
        TileStep(
            ldw=f"{lay.w_addr(i, j)}",
            matmul=f"MATMUL {lay.x_addr(i)}, {lay.y_addr(j)}, {lay.M}" + (", ACC" if i else ""),
            name=f"tile (k{i}, n{j})",
            note=f"Y[n{j}] {'+=' if i else '='} X[k{i}] . W[k{i},n{j}]",
        )
        for j in range(lay.nt)
        for i in range(lay.kt)
    ]
    return [f"{ins}   ; {note}" for ins, note in tile_stream(steps)]


def gemm_program(M: int, K: int, N: int, P: int, layout: GemmLayout | None = None) -> tuple[str, GemmLayout]:
    """Assembly text of Y = X . W tiled over K and N on a P x P array, and the layout it assumes."""
    lay = _layout(M, K, N, P, layout)
    head = [f"; GEMM Y[{M}x{N}] = X[{M}x{K}] . W[{K}x{N}], P={P}: {lay.kt} x {lay.nt} tiles"]
    return "\n".join([*head, *gemm_body(lay), "HALT"]) + "\n", lay


def place_gemm(state: MachineState, x: np.ndarray, w: np.ndarray, layout: GemmLayout) -> None:
    """Write X (M x K) and W (K x N) codes into the state's UB and WMEM, zero-padded to whole tiles."""
    lay, P = layout, layout.P
    x, w = np.asarray(x, dtype=np.int64), np.asarray(w, dtype=np.int64)
    if x.shape != (lay.M, lay.K) or w.shape != (lay.K, lay.N) or state.P != P:
        raise ValueError(f"X {x.shape} / W {w.shape} / P={state.P} do not match the layout {lay}")
    lay.check(state.ub.shape[0], state.wm.shape[0], state.acc.shape[0])
    xp = np.zeros((lay.M, lay.kt * P), np.int64)
    xp[:, : lay.K] = x
    wp = np.zeros((lay.kt * P, lay.nt * P), np.int64)
    wp[: lay.K, : lay.N] = w
    for i in range(lay.kt):
        state.ub[lay.x_addr(i):lay.x_addr(i) + lay.M] = xp[:, i * P:(i + 1) * P]
        for j in range(lay.nt):
            state.wm[lay.w_addr(i, j):lay.w_addr(i, j) + P] = wp[i * P:(i + 1) * P, j * P:(j + 1) * P]


def extract_gemm(state: MachineState, layout: GemmLayout) -> np.ndarray:
    """Y (M x N, AccW codes) read back from ACC, padding removed."""
    lay = layout
    blocks = [state.acc[lay.y_addr(j):lay.y_addr(j) + lay.M] for j in range(lay.nt)]
    return np.concatenate(blocks, axis=1)[:, : lay.N].copy()


@dataclass(frozen=True)
class DenseLayout:
    """A forward layer H = act(requant(X . W) + b): the GEMM layout plus bias and output in UB.

    UB bias_ub + j     = b[j*P : j*P+P]       UB h_ub + j*M + m = H[m, j*P : j*P+P]
    """

    gemm: GemmLayout
    bias_ub: int
    h_ub: int

    def check(self, ub_depth: int = UB_DEPTH) -> None:
        g = self.gemm
        ranges = [(g.x_ub, g.ub_words), (self.bias_ub, self.bias_ub + g.nt)]
        ranges.append((self.h_ub, self.h_ub + g.nt * g.M))
        for lo, hi in ranges:
            if hi > ub_depth:
                raise ValueError(f"UB words {lo}..{hi - 1} exceed the UB depth {ub_depth}")
        ranges.sort()
        for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False):
            if lo < hi:
                raise ValueError("X, bias and H overlap in UB")


def dense_forward_program(
    M: int,
    K: int,
    N: int,
    P: int,
    *,
    act: str = "relu",
    shift: int = FRAC_W,
    slope: int = 1 << (FRAC_W - 3),
    layout: DenseLayout | None = None,
) -> tuple[str, DenseLayout]:
    """Assembly text of one forward layer: the tiled GEMM, then per N tile LDB + VEC (bias, activation)."""
    if layout is None:
        g = GemmLayout(M, K, N, P)
        layout = DenseLayout(g, bias_ub=g.ub_words, h_ub=g.ub_words + g.nt)
    g = _layout(M, K, N, P, layout.gemm)
    layout.check()
    if act not in ACT_CODES:
        raise ValueError(f"act must be one of {sorted(ACT_CODES)}")
    lines = [f"; dense layer H[{M}x{N}] = {act}(requant(X[{M}x{K}] . W[{K}x{N}], {shift}) + b), P={P}"]
    lines += gemm_body(g)
    lines.append(f"SETV act={act}, shift={shift}, slope={slope}, loss_scale=0, loss_shift=0")
    for j in range(g.nt):
        lines.append(f"LDB {layout.bias_ub + j}   ; b[n{j}]")
        lines.append(f"VEC ACC, {g.y_addr(j)}, {layout.h_ub + j * M}, {M}, BIAS, ACT   ; H[:, n{j}]")
    lines.append("HALT")
    return "\n".join(lines) + "\n", layout


def place_bias(state: MachineState, b: np.ndarray, layout: DenseLayout) -> None:
    """Write the bias vector (N codes) into UB, zero-padded to whole tiles."""
    g, P = layout.gemm, layout.gemm.P
    bp = np.zeros(g.nt * P, np.int64)
    bp[: g.N] = np.asarray(b, dtype=np.int64)
    state.ub[layout.bias_ub:layout.bias_ub + g.nt] = bp.reshape(g.nt, P)


def extract_dense(state: MachineState, layout: DenseLayout) -> np.ndarray:
    """H (M x N DataW codes) read back from UB, padding removed."""
    g = layout.gemm
    blocks = [state.ub[layout.h_ub + j * g.M:layout.h_ub + (j + 1) * g.M] for j in range(g.nt)]
    return np.concatenate(blocks, axis=1)[:, : g.N].copy()
