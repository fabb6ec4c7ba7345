"""MLP compiler: layer sizes -> one Systole program (inference, or one whole SGD training step).

    mlp = compile_mlp([64, 32, 10], ["leaky", "identity"], batch=32, lr=0.1, P=4, mode="train")
    st = mlp.new_state()                  # memories with the constant rows (ones, zeros) in place
    mlp.place_params(st, params)          # Q8.24 masters into ACC + the Q8.8 copies the array reads
    mlp.place_batch(st, x, y)             # Q8.8 codes, [batch, n_in] and [batch, n_out]
    isa_sim.run(mlp.words, st)
    params = mlp.read_params(st); h = mlp.read_outputs(st)

Formats (docs/training.md, docs/number-format.md "Training formats"): activations, inputs, targets and the
array's weights and biases are Q8.8 (DataW/FracW); master weights and biases are Q8.24 AccW words in ACC;
gradients are pre-scaled by -lr and carry 2*FracW = 16 fraction bits in DataW codes. One training step:

1. forward, per layer: tiled GEMM Z = Hprev . Wq (ACC), then LDB + VEC BIAS, ACT (shift FracW) -> H (UB);
2. loss: VEC UB H_L, LOSS, DERIV, aux=Y (shift 0): dZ'_L = act'(H) * sat(rne((H - Y) * loss_scale, FracW)),
   loss_scale = round(-lr * 2/B * 2^16); padded batch rows of dZ'_L are overwritten with zeros (COPY);
3. backward, layers L..2: dH'_{l-1} = dZ'_l . Wq_l^T (LDW T), VEC shift FracW, DERIV aux=H_{l-1};
4. updates, layers L..1: dZ'_l -> WMEM (one COPY), Hprev^T blocks (COPY T) followed by a row of ones (1.0),
   then per (N tile, batch block) one MATMUL ..., ACC, SWAP into [W_master; b_master] (K_pad + 1 words);
5. refresh: VEC ACC masters, shift 2*FracW -> Q8.8 rows in UB (the bias rows are what LDB reads), then one
   COPY per N tile into the WMEM weight tiles; HALT.

The backward pass reads only the Q8.8 weights in WMEM, which change only in step 5: every gradient is taken
from the pre-step weights (plain SGD), whatever the order of the update MATMULs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.asm import assemble, disassemble_word
from models.fixed_point import ACC_W, DATA_W, FRAC_W, Fmt, to_float
from models.isa import ACC_DEPTH, ACT_CODES, IMEM_DEPTH, OPS, UB_DEPTH, WM_DEPTH
from models.isa_sim import MachineState
from models.programs import TileStep, tile_stream
from models.vpu import requant

MASTER_FRAC = 3 * FRAC_W  # Q8.24 master weights and biases (AccW bits)
GRAD_FRAC = 2 * FRAC_W  # -lr-scaled gradients dH', dZ' (DataW bits)
REFRESH_SHIFT = MASTER_FRAC - FRAC_W  # master -> Q8.8 array weight
LOSS_SHIFT = FRAC_W  # (H - Y) [FracW] * loss_scale [GradFrac] >> FracW -> GradFrac
BACK_SHIFT = FRAC_W  # dZ' [GradFrac] . W [FracW] >> FracW -> GradFrac
ONE = 1 << FRAC_W  # 1.0 in Q8.8: the row of ones that turns the update GEMM into the bias update
Q_MASTER = Fmt(ACC_W, MASTER_FRAC)
Q_GRAD = Fmt(DATA_W, GRAD_FRAC)
DEFAULT_SLOPE = 1 << (FRAC_W - 3)  # leaky-ReLU slope 0.125
MAX_M = OPS["MATMUL"].field("m").max

Params = list[tuple[np.ndarray, np.ndarray]]  # per layer (W [K, N], b [N]) as Q8.24 int64 codes


def _ceil(n: int, p: int) -> int:
    return -(-n // p)


def loss_scale_code(lr: float, batch: int) -> int:
    """round(-lr * 2/B * 2^GradFrac) (half to even): the DataW code the loss stage multiplies (H - Y) by."""
    code = int(np.rint(-lr * 2.0 / batch * (1 << GRAD_FRAC)))
    lo, hi = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
    if not lo <= code <= hi:
        raise ValueError(f"lr * 2/B = {lr * 2 / batch:g} does not fit a loss_scale code (|lr*2/B| < 0.5)")
    if code == 0:
        raise ValueError(f"lr * 2/B = {lr * 2 / batch:g} rounds to a zero loss_scale (below 2^-{GRAD_FRAC})")
    return code


def effective_lr(loss_scale: int, batch: int) -> float:
    """The learning rate the quantized loss_scale really applies: -loss_scale * B / 2 / 2^GradFrac."""
    return -loss_scale * batch / 2.0 / (1 << GRAD_FRAC)


@dataclass(frozen=True)
class MlpLayout:
    """Base word addresses of every tensor. Feature dims are padded to multiples of P, the batch to Bp.

    UB   x (= H_0), h[li] (li = 1..L), dz[li]: [block][row] with Bp rows per P-feature block (word
         base + blk*Bp + m = rows m, features blk*P .. blk*P+P-1); y: like h[L];
         ht[li]: per batch block bb, Kp rows of Hprev^T (row k = feature k over the P batch rows of bb)
         then one row of ONE: word ht + bb*(Kp+1) + k;
         wq[li]: Q8.8 copy of the masters, same arrangement as master[li] (the bias rows are LDB's words);
         zeros: P zero words (source of the batch-padding mask).
    WMEM w[li]: tile (kb, j) = Wq[kb*P + r, j*P .. j*P+P-1] at w + (j*kt + kb)*P + r (as models.programs);
         dzw: scratch, dZ'_l in the same [block][row] arrangement as in UB.
    ACC  master[li]: per N tile j, Kp words of W_master rows then one word of b_master:
         master + j*(Kp+1) + k (k < Kp: W[k, jP..jP+P-1]; k = Kp: b[jP..jP+P-1]), Q8.24;
         z: scratch for Z (forward) and dH' (backward), [block][row].
    """

    P: int
    batch: int
    bp: int
    sizes: tuple[int, ...]
    x_ub: int
    y_ub: int
    h_ub: tuple[int, ...]  # index l-1 for layer l
    dz_ub: tuple[int, ...]
    ht_ub: tuple[int, ...]
    wq_ub: tuple[int, ...]
    zeros_ub: int
    w_wm: tuple[int, ...]
    dzw_wm: int
    master_acc: tuple[int, ...]
    z_acc: int
    ub_words: int
    wm_words: int
    acc_words: int

    def padded(self, n: int) -> int:
        return _ceil(n, self.P) * self.P

    def kt(self, layer: int) -> int:
        """K tiles of layer `layer` (1-based)."""
        return _ceil(self.sizes[layer - 1], self.P)

    def nt(self, layer: int) -> int:
        return _ceil(self.sizes[layer], self.P)

    def kp(self, layer: int) -> int:
        return self.kt(layer) * self.P

    def w_addr(self, layer: int, kb: int, j: int) -> int:
        return self.w_wm[layer - 1] + (j * self.kt(layer) + kb) * self.P

    def master_addr(self, layer: int, j: int) -> int:
        return self.master_acc[layer - 1] + j * (self.kp(layer) + 1)

    def wq_addr(self, layer: int, j: int) -> int:
        return self.wq_ub[layer - 1] + j * (self.kp(layer) + 1)

    def ht_addr(self, layer: int, bb: int) -> int:
        return self.ht_ub[layer - 1] + bb * (self.kp(layer) + 1)

    def act_in(self, layer: int) -> int:
        """UB base of layer `layer`'s input activations (X for layer 1)."""
        return self.x_ub if layer == 1 else self.h_ub[layer - 2]

    def describe(self) -> str:
        """A readable table of the regions (memory, base, words)."""
        L = len(self.sizes) - 1
        bp, nt_max = self.bp, max(self.nt(li) for li in range(1, L + 1))
        rows = [("UB", "X (H_0)", self.x_ub, self.kt(1) * bp), ("UB", "Y", self.y_ub, self.nt(L) * bp)]
        for li in range(1, L + 1):
            rows += [
                ("UB", f"H_{li}", self.h_ub[li - 1], self.nt(li) * self.bp),
                ("UB", f"dZ'_{li}", self.dz_ub[li - 1], self.nt(li) * self.bp),
                ("UB", f"Hprev^T_{li} + ones", self.ht_ub[li - 1], (self.bp // self.P) * (self.kp(li) + 1)),
                ("UB", f"Wq_{li}, bq_{li}", self.wq_ub[li - 1], self.nt(li) * (self.kp(li) + 1)),
            ]
        rows.append(("UB", "zeros", self.zeros_ub, self.P))
        for li in range(1, L + 1):
            rows.append(("WM", f"W tiles {li}", self.w_wm[li - 1], self.kt(li) * self.nt(li) * self.P))
        rows.append(("WM", "dZ' scratch", self.dzw_wm, nt_max * bp))
        for li in range(1, L + 1):
            words = self.nt(li) * (self.kp(li) + 1)
            rows.append(("ACC", f"master W_{li}, b_{li}", self.master_acc[li - 1], words))
        rows.append(("ACC", "Z / dH' scratch", self.z_acc, nt_max * bp))
        rank = {"UB": 0, "WM": 1, "ACC": 2}
        rows.sort(key=lambda r: (rank[r[0]], r[2]))
        out = [f"{'mem':4} {'tensor':22} {'base':>6} {'words':>6}"]
        out += [f"{m:4} {n:22} {b:6d} {w:6d}" for m, n, b, w in rows]
        out.append(f"used: UB {self.ub_words}, WMEM {self.wm_words}, ACC {self.acc_words} words")
        return "\n".join(out)


def make_layout(sizes: list[int], batch: int, P: int) -> MlpLayout:
    """Allocate every tensor of the network (sizes = [n_in, n_1, ..., n_out]) for a batch on a P x P array."""
    L = len(sizes) - 1
    bp = _ceil(batch, P) * P
    kt = [_ceil(sizes[li - 1], P) for li in range(1, L + 1)]
    nt = [_ceil(sizes[li], P) for li in range(1, L + 1)]
    ub = 0

    def take(n: int) -> int:
        nonlocal ub
        base, ub = ub, ub + n
        return base

    x_ub = take(kt[0] * bp)
    y_ub = take(nt[-1] * bp)
    h_ub = tuple(take(nt[i] * bp) for i in range(L))
    dz_ub = tuple(take(nt[i] * bp) for i in range(L))
    ht_ub = tuple(take((bp // P) * (kt[i] * P + 1)) for i in range(L))
    wq_ub = tuple(take(nt[i] * (kt[i] * P + 1)) for i in range(L))
    zeros_ub = take(P)
    wm = 0
    w_wm = []
    for i in range(L):
        w_wm.append(wm)
        wm += kt[i] * nt[i] * P
    dzw_wm = wm
    wm += max(nt) * bp
    acc = 0
    master_acc = []
    for i in range(L):
        master_acc.append(acc)
        acc += nt[i] * (kt[i] * P + 1)
    z_acc = acc
    acc += max(nt) * bp
    return MlpLayout(P, batch, bp, tuple(sizes), x_ub, y_ub, h_ub, dz_ub, ht_ub, wq_ub, zeros_ub,
                     tuple(w_wm), dzw_wm, tuple(master_acc), z_acc, ub, wm, acc)


@dataclass
class CompiledMlp:
    """A compiled MLP program, its memory layout and the helpers to move tensors in and out."""

    sizes: list[int]
    acts: list[str]
    batch: int
    lr: float
    P: int
    mode: str
    slope: int
    loss_scale: int
    layout: MlpLayout
    asm: str
    words: list[int]
    comments: list[str]
    phases: dict[str, int] = field(default_factory=dict)  # instructions per phase, in program order
    steps: int = 1  # SGD steps per run (LOOP count)

    @property
    def lr_eff(self) -> float:
        """The learning rate actually applied (lr quantized through loss_scale)."""
        return effective_lr(self.loss_scale, self.batch) if self.mode == "train" else 0.0

    def listing(self) -> str:
        """Address, hex word, canonical instruction and what it does, one line per instruction."""
        out = []
        for pc, (w, note) in enumerate(zip(self.words, self.comments, strict=True)):
            text = disassemble_word(w)
            out.append(f"{pc:4d}: {w:016x}  {text:44s}" + (f" ; {note}" if note else ""))
        return "\n".join(out) + "\n"

    # ---- state helpers -------------------------------------------------------------------------------
    def new_state(self, ub_depth: int = UB_DEPTH, wm_depth: int = WM_DEPTH, acc_depth: int = ACC_DEPTH,
                  ) -> MachineState:
        """A reset machine with the program's constants in place (ones rows after every Hprev^T block)."""
        st = MachineState.new(self.P, ub_depth, wm_depth, acc_depth)
        self.place_constants(st)
        return st

    def place_constants(self, st: MachineState) -> None:
        """Write the rows of ONE the bias update multiplies, and the zero words of the batch mask."""
        lay = self.layout
        self._check_state(st)
        for li in range(1, len(self.sizes)):
            for bb in range(lay.bp // lay.P):
                st.ub[lay.ht_addr(li, bb) + lay.kp(li)] = ONE
        st.ub[lay.zeros_ub:lay.zeros_ub + lay.P] = 0

    def _check_state(self, st: MachineState) -> None:
        lay = self.layout
        if st.P != self.P:
            raise ValueError(f"state is for P={st.P}, program for P={self.P}")
        for name, used, depth in (("UB", lay.ub_words, st.ub.shape[0]),
                                  ("WMEM", lay.wm_words, st.wm.shape[0]),
                                  ("ACC", lay.acc_words, st.acc.shape[0])):
            if used > depth:
                raise ValueError(f"{name} needs {used} words, the state has {depth}")

    def _blocks(self, a: np.ndarray, n: int) -> np.ndarray:
        """[rows, n] -> [n_blocks * Bp, P] in the [block][row] arrangement, zero padded."""
        lay, P = self.layout, self.P
        nb = _ceil(n, P)
        pad = np.zeros((lay.bp, nb * P), np.int64)
        pad[: a.shape[0], :n] = a
        return pad.reshape(lay.bp, nb, P).transpose(1, 0, 2).reshape(nb * lay.bp, P)

    def _unblocks(self, words: np.ndarray, n: int) -> np.ndarray:
        lay, P = self.layout, self.P
        nb = _ceil(n, P)
        rows = words.reshape(nb, lay.bp, P).transpose(1, 0, 2).reshape(lay.bp, nb * P)
        return rows[: self.batch, :n].copy()

    def place_batch(self, st: MachineState, x: np.ndarray, y: np.ndarray | None = None) -> None:
        """Write X ([batch, n_in] Q8.8 codes) and, for training, Y ([batch, n_out]); padding is zero."""
        lay, s = self.layout, self.sizes
        x = np.asarray(x, dtype=np.int64)
        if x.shape != (self.batch, s[0]):
            raise ValueError(f"X must be [{self.batch}, {s[0]}], got {x.shape}")
        st.ub[lay.x_ub:lay.x_ub + lay.kt(1) * lay.bp] = self._blocks(x, s[0])
        if y is not None:
            y = np.asarray(y, dtype=np.int64)
            if y.shape != (self.batch, s[-1]):
                raise ValueError(f"Y must be [{self.batch}, {s[-1]}], got {y.shape}")
            L = len(s) - 1
            st.ub[lay.y_ub:lay.y_ub + lay.nt(L) * lay.bp] = self._blocks(y, s[-1])
        elif self.mode == "train":
            raise ValueError("training needs targets Y")

    def place_params(self, st: MachineState, params: Params) -> None:
        """Write Q8.24 masters into ACC and their Q8.8 copies (what a refresh produces) into WMEM and UB."""
        lay, P = self.layout, self.P
        self._check_state(st)
        if len(params) != len(self.sizes) - 1:
            raise ValueError(f"expected {len(self.sizes) - 1} layers of parameters, got {len(params)}")
        for li, (w, b) in enumerate(params, start=1):
            K, N = self.sizes[li - 1], self.sizes[li]
            w, b = np.asarray(w, dtype=np.int64), np.asarray(b, dtype=np.int64)
            if w.shape != (K, N) or b.shape != (N,):
                raise ValueError(f"layer {li}: W must be [{K}, {N}] and b [{N}], got {w.shape} and {b.shape}")
            if w.size and (w.min() < Q_MASTER.min or w.max() > Q_MASTER.max):
                raise ValueError(f"layer {li}: W codes outside {ACC_W} bits")
            kp, nt, kt = lay.kp(li), lay.nt(li), lay.kt(li)
            aug = np.zeros((kp + 1, nt * P), np.int64)  # [W; b], padded
            aug[:K, :N] = w
            aug[kp, :N] = b
            words = aug.reshape(kp + 1, nt, P).transpose(1, 0, 2).reshape(nt * (kp + 1), P)
            base = lay.master_acc[li - 1]
            st.acc[base:base + words.shape[0]] = words
            q = requant(words, REFRESH_SHIFT)
            st.ub[lay.wq_ub[li - 1]:lay.wq_ub[li - 1] + q.shape[0]] = q
            for j in range(nt):
                tiles = q[j * (kp + 1): j * (kp + 1) + kp]
                st.wm[lay.w_addr(li, 0, j):lay.w_addr(li, 0, j) + kt * P] = tiles

    def read_params(self, st: MachineState, padded: bool = False) -> Params:
        """The Q8.24 master codes (W [K, N], b [N]) per layer; `padded` keeps the zero padding."""
        lay, P = self.layout, self.P
        out = []
        for li in range(1, len(self.sizes)):
            kp, nt = lay.kp(li), lay.nt(li)
            base = lay.master_acc[li - 1]
            words = st.acc[base:base + nt * (kp + 1)]
            aug = words.reshape(nt, kp + 1, P).transpose(1, 0, 2).reshape(kp + 1, nt * P)
            if padded:
                out.append((aug[:kp].copy(), aug[kp].copy()))
            else:
                K, N = self.sizes[li - 1], self.sizes[li]
                out.append((aug[:K, :N].copy(), aug[kp, :N].copy()))
        return out

    def read_params_float(self, st: MachineState) -> list[tuple[np.ndarray, np.ndarray]]:
        """The master weights and biases as real numbers."""
        return [(to_float(w, Q_MASTER), to_float(b, Q_MASTER)) for w, b in self.read_params(st)]

    def read_activations(self, st: MachineState, layer: int) -> np.ndarray:
        """H_layer ([batch, n_layer] Q8.8 codes) from UB; layer 0 is X."""
        lay = self.layout
        base = lay.act_in(layer + 1) if layer < len(self.sizes) - 1 else lay.h_ub[-1]
        nb = _ceil(self.sizes[layer], self.P)
        return self._unblocks(st.ub[base:base + nb * lay.bp], self.sizes[layer])

    def read_outputs(self, st: MachineState) -> np.ndarray:
        """The network outputs H_L ([batch, n_out] Q8.8 codes) of the forward pass."""
        return self.read_activations(st, len(self.sizes) - 1)

    def read_outputs_float(self, st: MachineState) -> np.ndarray:
        return to_float(self.read_outputs(st))

    def read_grad(self, st: MachineState, layer: int) -> np.ndarray:
        """dZ'_layer ([batch, n_layer], GradFrac codes = -lr * dL/dZ * 2^16) from UB (training only)."""
        lay = self.layout
        nb = lay.nt(layer)
        base = lay.dz_ub[layer - 1]
        return self._unblocks(st.ub[base:base + nb * lay.bp], self.sizes[layer])


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.phases: dict[str, int] = {}
        self._phase = ""

    def phase(self, name: str) -> None:
        self._phase = name
        self.phases.setdefault(name, 0)

    def __call__(self, text: str, note: str = "") -> None:
        self.lines.append((text, note))
        self.phases[self._phase] += 1


def _emit_tiles(e: _Emitter, steps: list[TileStep]) -> None:
    for text, note in tile_stream(steps):
        e(text, note)


def _setv(e: _Emitter, act: str, shift: int, slope: int, loss_scale: int = 0, loss_shift: int = 0,
          note: str = "") -> None:
    e(f"SETV act={act}, shift={shift}, slope={slope}, loss_scale={loss_scale}, loss_shift={loss_shift}", note)


def _forward(e: _Emitter, lay: MlpLayout, li: int, act: str, slope: int) -> None:
    kt, nt, bp = lay.kt(li), lay.nt(li), lay.bp
    e.phase(f"forward {li}")
    src = lay.act_in(li)
    _emit_tiles(e, [
        TileStep(f"{lay.w_addr(li, kb, j)}",
                 f"MATMUL {src + kb * bp}, {lay.z_acc + j * bp}, {bp}" + (", ACC" if kb else ""),
                 f"L{li} tile (k{kb}, n{j})",
                 f"Z{li}[n{j}] {'+=' if kb else '='} H{li - 1}[k{kb}] . W{li}[k{kb},n{j}]")
        for j in range(nt) for kb in range(kt)
    ])
    _setv(e, act, FRAC_W, slope, note=f"layer {li}: requant Q16.16 -> Q8.8, {act}")
    for j in range(nt):
        e(f"LDB {lay.wq_addr(li, j) + lay.kp(li)}", f"bq{li}[n{j}] (refreshed from the master)")
        e(f"VEC ACC, {lay.z_acc + j * bp}, {lay.h_ub[li - 1] + j * bp}, {bp}, BIAS, ACT",
          f"H{li}[n{j}] = {act}(Z + b)")


def _loss(e: _Emitter, lay: MlpLayout, L: int, act: str, slope: int, loss_scale: int) -> None:
    e.phase("loss")
    nt, bp = lay.nt(L), lay.bp
    _setv(e, act, 0, slope, loss_scale, LOSS_SHIFT, "pass-through H, loss_scale = -lr*2/B in 2^-16 units")
    e(f"VEC UB, {lay.h_ub[L - 1]}, {lay.dz_ub[L - 1]}, {nt * bp}, LOSS, DERIV, aux={lay.y_ub}",
      f"dZ'{L} = act'(H) * (H - Y) * loss_scale >> {LOSS_SHIFT}")
    if bp > lay.batch:
        for j in range(nt):
            e(f"COPY UB, {lay.zeros_ub}, UB, {lay.dz_ub[L - 1] + j * bp + lay.batch}, {bp - lay.batch}",
              f"mask padded batch rows of dZ'{L}[n{j}]")


def _backward(e: _Emitter, lay: MlpLayout, li: int, act_prev: str, slope: int) -> None:
    """dZ'_{l-1} = act'(H_{l-1}) * requant(dZ'_l . Wq_l^T, FracW)."""
    e.phase(f"backward {li}->{li - 1}")
    kt, nt, bp = lay.kt(li), lay.nt(li), lay.bp
    _emit_tiles(e, [
        TileStep(f"{lay.w_addr(li, kc, nb)}, T",
                 f"MATMUL {lay.dz_ub[li - 1] + nb * bp}, {lay.z_acc + kc * bp}, {bp}"
                 + (", ACC" if nb else ""),
                 f"W{li}^T tile (n{nb}, k{kc})",
                 f"dH'{li - 1}[k{kc}] {'+=' if nb else '='} dZ'{li}[n{nb}] . W{li}[k{kc},n{nb}]^T")
        for kc in range(kt) for nb in range(nt)
    ])
    _setv(e, act_prev, BACK_SHIFT, slope, note=f"2^-24 -> 2^-16 gradient, {act_prev}' from cached H{li - 1}")
    e(f"VEC ACC, {lay.z_acc}, {lay.dz_ub[li - 2]}, {kt * bp}, DERIV, aux={lay.h_ub[li - 2]}",
      f"dZ'{li - 1} = act'(H{li - 1}) * dH'{li - 1}")


def _update(e: _Emitter, lay: MlpLayout, li: int) -> None:
    """[W_l; b_l] += [Hprev; 1]^T . dZ'_l, accumulated straight into the Q8.24 masters."""
    e.phase(f"update {li}")
    P, bp, kt, nt, kp = lay.P, lay.bp, lay.kt(li), lay.nt(li), lay.kp(li)
    bt = bp // P
    e(f"COPY UB, {lay.dz_ub[li - 1]}, WM, {lay.dzw_wm}, {nt * bp}", f"dZ'{li} rows -> WMEM (stationary)")
    src = lay.act_in(li)
    for bb in range(bt):
        for kb in range(kt):
            e(f"COPY UB, {src + kb * bp + bb * P}, UB, {lay.ht_addr(li, bb) + kb * P}, {P}, T",
              f"H{li - 1}^T[k{kb}, b{bb}]")
    _emit_tiles(e, [
        TileStep(f"{lay.dzw_wm + j * bp + bb * P}",
                 f"MATMUL {lay.ht_addr(li, bb)}, {lay.master_addr(li, j)}, {kp + 1}, ACC",
                 f"dZ' tile (n{j}, b{bb})",
                 f"[W{li};b{li}][n{j}] += [H{li - 1};1]^T[b{bb}] . dZ'{li}[b{bb},n{j}]")
        for j in range(nt) for bb in range(bt)
    ])


def _refresh(e: _Emitter, lay: MlpLayout, L: int) -> None:
    e.phase("refresh")
    _setv(e, "identity", REFRESH_SHIFT, 0, note="requant Q8.24 -> Q8.8")
    for li in range(1, L + 1):
        nt, kp = lay.nt(li), lay.kp(li)
        e(f"VEC ACC, {lay.master_acc[li - 1]}, {lay.wq_ub[li - 1]}, {nt * (kp + 1)}",
          f"Wq{li}, bq{li} = requant(masters)")
        for j in range(nt):
            e(f"COPY UB, {lay.wq_addr(li, j)}, WM, {lay.w_addr(li, 0, j)}, {kp}", f"W{li} tiles (k*, n{j})")


def compile_mlp(
    layers: list[int],
    acts: list[str],
    batch: int,
    lr: float = 0.0,
    P: int = 4,
    mode: str = "train",
    *,
    slope: int = DEFAULT_SLOPE,
    imem_depth: int = IMEM_DEPTH,
    ub_depth: int = UB_DEPTH,
    wm_depth: int = WM_DEPTH,
    acc_depth: int = ACC_DEPTH,
    steps: int = 1,
) -> CompiledMlp:
    """Compile an MLP (layers = [n_in, n_1, ..., n_out], one activation per layer) for a P x P core.

    mode "infer": forward pass only. mode "train": one SGD step on one batch (MSE loss), ending in HALT;
    steps > 1 wraps the step in `LOOP steps, body` (that many SGD steps on the same batch, e.g. XOR).
    Raises ValueError with the reason when the network does not fit the memories or IMEM.
    """
    if mode not in ("infer", "train"):
        raise ValueError(f"mode must be 'infer' or 'train', got {mode!r}")
    L = len(layers) - 1
    if L < 1 or min(layers) < 1:
        raise ValueError(f"need at least two positive layer sizes, got {layers}")
    if len(acts) != L or any(a not in ACT_CODES for a in acts):
        raise ValueError(f"need {L} activations from {sorted(ACT_CODES)}, got {acts}")
    if batch < 1 or P < 1:
        raise ValueError("batch and P must be >= 1")
    if not 1 <= steps <= OPS["LOOP"].field("count").max or (steps > 1 and mode != "train"):
        raise ValueError(f"steps={steps}: 1..{OPS['LOOP'].field('count').max}, and > 1 only for training")
    if not -(1 << (DATA_W - 1)) <= slope < (1 << (DATA_W - 1)):
        raise ValueError(f"slope {slope} is not a DataW code")
    if mode == "train" and "leaky" in acts and slope <= 0:
        raise ValueError("leaky ReLU training needs a positive slope (act' is read from the sign of H)")
    loss_scale = loss_scale_code(lr, batch) if mode == "train" else 0
    lay = make_layout(list(layers), batch, P)
    if lay.bp > MAX_M:
        raise ValueError(f"batch {batch} (padded {lay.bp}) exceeds the MATMUL row field ({MAX_M})")
    for name, used, depth in (("UB", lay.ub_words, ub_depth), ("WMEM", lay.wm_words, wm_depth),
                              ("ACC", lay.acc_words, acc_depth)):
        if used > depth:
            raise ValueError(f"{layers} batch {batch} on P={P}: {name} needs {used} words, depth is {depth}")

    e = _Emitter()
    for li in range(1, L + 1):
        _forward(e, lay, li, acts[li - 1], slope)
    if mode == "train":
        _loss(e, lay, L, acts[-1], slope, loss_scale)
        for li in range(L, 1, -1):
            _backward(e, lay, li, acts[li - 2], slope)
        for li in range(L, 0, -1):
            _update(e, lay, li)
        _refresh(e, lay, L)
    if steps > 1:
        body = len(e.lines)
        if body > OPS["LOOP"].field("body").max:
            raise ValueError(f"a step of {body} instructions is too long for a LOOP body")
        e.lines.insert(0, (f"LOOP {steps}, {body}", f"{steps} SGD steps on this batch"))
        e.phases = {"loop": 1, **e.phases}
    e.phase("halt")
    e("HALT")
    if len(e.lines) > imem_depth:
        raise ValueError(f"{layers} batch {batch} on P={P} ({mode}): the program has {len(e.lines)} "
                         f"instructions, IMEM holds {imem_depth}")
    head = (f"; Systole MLP {'-'.join(map(str, layers))} ({', '.join(acts)}), batch {batch}, P={P}, {mode}"
            + (f", lr={lr:g} (loss_scale {loss_scale})" if mode == "train" else "") + "\n")
    asm = head + "".join(f"{t:48s} ; {n}\n" if n else f"{t}\n" for t, n in e.lines)
    words = assemble(asm)
    if len(words) != len(e.lines):
        raise AssertionError("assembler and emitter disagree on the instruction count")
    return CompiledMlp(list(layers), list(acts), batch, lr, P, mode, slope, loss_scale, lay, asm, words,
                       [n for _, n in e.lines], dict(e.phases), steps)


def estimate_cycles(words: list[int], P: int) -> int:
    """A rough cycle estimate of one pass through `words` (LOOP bodies counted once), for planning only.

    Model (docs/isa.md section 4, docs/training.md): a run of back-to-back LDW/MATMUL costs P cycles for the
    first (cold) weight load, max(M, P) per MATMUL (the next LDW overlaps it; it takes P cycles) and
    latency(P) = 2P to drain the array (the tiles*M + 3P of the performance model for M >= P);
    every VEC costs M + VpuLatency, COPY len (2 len transposed), LDB 1, each serializing instruction 2
    more for issue; SETV, SETBG, LOOP, NOP 1.
    The RTL's performance counters are the authority; this is what the step tables in the docs use.
    """
    from models.array_model import latency
    from models.isa import decode
    from models.vpu import LATENCY

    total, in_run = 0, False
    for w in words:
        ins = decode(w)
        if ins.op in ("LDW", "MATMUL"):
            if not in_run:
                total += P  # cold load of the first tile
                in_run = True
            if ins.op == "MATMUL":
                total += max(ins.args["m"], P)
            continue
        if in_run:
            total += latency(P)  # drain
            in_run = False
        if ins.op == "VEC":
            total += ins.args["m"] + LATENCY + 2
        elif ins.op == "COPY":
            # a transposed COPY reads each P x P block whole before writing it (docs/core.md)
            total += (2 if "T" in ins.flags else 1) * ins.args["len"] + 2
        elif ins.op in ("LDB", "HALT", "SYNC"):
            total += 3
        else:
            total += 1
    return total + (latency(P) if in_run else 0)
