"""ONNX in and out of Systole: import an MLP for the chip, export what the chip trained (docs/onnx.md).

    net = import_onnx("model.onnx")                  # OnnxImportError naming the node it cannot map
    m = net.compile(P=8, batch=32)                   # models.mlp inference program (fit errors name a node)
    xq = net.quantize_input(x)                       # float [n, features] -> Q8.8 codes (range checked)
    codes = net.golden(xq)                           # the bit-exact expectation (models.train_ref.forward)
    outs = net.host_outputs(codes)                   # the graph's outputs: Softmax / ArgMax / label tail
    bound = net.error_bound(x)                       # |chip - onnxruntime| bound at the chip's outputs
    ref = run_onnxruntime(net.model, x, [net.logits])
    model = export_mlp(params, acts, slope)          # Q8.24 masters -> ONNX (Gemm + Relu/LeakyRelu)

The chip part is a chain from the graph's one input: optional Cast / Identity / Flatten / Reshape, then per
layer a Gemm (transA = 0) or a MatMul with a constant [K, N] and an optional Add of a constant bias, then
an optional Relu or LeakyRelu. The chain ends at the first Softmax or ArgMax (or at the graph output); what
follows runs on the host in numpy and may only be Softmax, ArgMax, Cast, Identity, Reshape and the
classifier label tail of skl2onnx (ArrayFeatureExtractor of constant classes, ZipMap).

Weights and biases become Q8.8 codes (round half to even; a value outside the Q8.8 range is an error, not a
saturation) held as Q8.24 masters whose array copy equals them exactly. LeakyRelu's alpha must be a Q8.8
code (k / 256), one slope for the network (the compiler has one). Everything else is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.fixed_point import DATA_W, FRAC_W, matmul_acc, quantize, round_shift, to_float
from models.isa import ACC_DEPTH, ACT_CODES, IMEM_DEPTH, UB_DEPTH, WM_DEPTH
from models.mlp import DEFAULT_SLOPE, MASTER_FRAC, REFRESH_SHIFT, CompiledMlp, Params, compile_mlp
from models.vpu import activate, requant

LSB = 2.0 ** -FRAC_W
HALF_LSB = LSB / 2  # the largest rounding error of one Q8.8 result (round half to even)
Q_MIN, Q_MAX = -(1 << (DATA_W - 1)), (1 << (DATA_W - 1)) - 1
U32 = 2.0 ** -24  # float32 unit roundoff (onnxruntime computes in float32)
OPSET = 21  # what the exporter writes (onnx 1.23 / onnxruntime 1.31 both support it)
IR_VERSION = 10  # onnxruntime 1.31 reads IR <= 13; 10 is what opset 21 came with
LINEAR = ("Gemm", "MatMul")
ACTS = {"Relu": "relu", "LeakyRelu": "leaky"}
PASS = ("Identity", "Cast")
HEAD = ("Softmax", "ArgMax")
HOST_OPS = HEAD + PASS + ("Reshape", "ArrayFeatureExtractor", "ZipMap")
FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16: a Cast to these inside the chain is a no-op


class OnnxImportError(ValueError):
    """The model cannot be mapped to the chip; `node` names the ONNX node (or tensor) at fault."""

    def __init__(self, node: str, msg: str) -> None:
        self.node = node
        super().__init__(f"{node}: {msg}")


def _onnx():
    import onnx  # imported late: only the ONNX paths need it

    return onnx


def node_label(node, index: int | None = None) -> str:
    """'name (OpType)' of a node; unnamed nodes get their position in the graph."""
    name = node.name or (f"#{index}" if index is not None else "<unnamed>")
    return f"node {name!r} ({node.op_type})"


@dataclass
class Layer:
    """One fully connected layer as the ONNX model states it (float64), with the nodes it came from."""

    nodes: list[str]
    w: np.ndarray  # [K, N]
    b: np.ndarray  # [N]
    act: str = "identity"
    alpha: float = 0.0  # LeakyRelu slope (real number)

    @property
    def name(self) -> str:
        return self.nodes[0]


@dataclass
class ImportedMlp:
    """An ONNX MLP mapped onto the chip's MLP compiler, and the host part of its graph."""

    model: object  # onnx.ModelProto
    input_name: str
    feature_shape: tuple[int, ...]  # per-sample input shape the graph expects (flattened to sizes[0])
    layers: list[Layer]
    slope: int  # the one LeakyRelu slope as a Q8.8 code (DEFAULT_SLOPE when there is none)
    logits: str  # the tensor where the chip's part ends (its outputs H_L)
    tail: list = field(default_factory=list)  # host nodes, in graph order
    outputs: list[str] = field(default_factory=list)  # the graph outputs
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    input_dtype: type = np.float32  # what onnxruntime is fed (the graph input's element type)

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].w.shape[0]] + [ly.w.shape[1] for ly in self.layers]

    @property
    def acts(self) -> list[str]:
        return [ly.act for ly in self.layers]

    @property
    def head(self) -> list[str]:
        return [n.op_type for n in self.tail]

    # ---- quantization ---------------------------------------------------------------------------
    def q88(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer (Wq [K, N], bq [N]) Q8.8 codes (the import checked that none saturates)."""
        return [(quantize(ly.w), quantize(ly.b)) for ly in self.layers]

    def params(self) -> Params:
        """Q8.24 masters whose Q8.8 array copies are exactly q88() (docs/training.md formats)."""
        s = MASTER_FRAC - FRAC_W
        return [(w << s, b << s) for w, b in self.q88()]

    def quantize_input(self, x: np.ndarray, what: str = "input") -> np.ndarray:
        """Float samples [n, *feature_shape] (or one sample) -> Q8.8 codes [n, sizes[0]]; ValueError when a
        value is not finite or outside the Q8.8 range (it would saturate silently)."""
        x = self.flat_input(x, what)
        bad = ~np.isfinite(x) | (np.rint(x * (1 << FRAC_W)) < Q_MIN) | (np.rint(x * (1 << FRAC_W)) > Q_MAX)
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{what}: value {float(x[i])!r} at {list(i)} is outside the Q8.8 range "
                             f"[{Q_MIN * LSB}, {Q_MAX * LSB}] of graph input {self.input_name!r}")
        return quantize(x)

    def flat_input(self, x: np.ndarray, what: str = "input") -> np.ndarray:
        """[n, *feature_shape] (or one sample) as float64 [n, sizes[0]]; ValueError on a wrong shape."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise ValueError(f"{what}: expected numbers, got dtype {x.dtype}")
        fs = self.feature_shape
        if x.shape == fs:
            x = x[None]
        if x.ndim < 2 or x.shape[1:] != fs:
            raise ValueError(f"{what}: shape {x.shape} does not match graph input {self.input_name!r} "
                             f"[n, {', '.join(map(str, fs))}]")
        return x.reshape(len(x), int(np.prod(fs))).astype(np.float64)

    # ---- the chip ---------------------------------------------------------------------------------
    def compile(self, P: int, batch: int, *, imem_depth: int = IMEM_DEPTH, ub_depth: int = UB_DEPTH,
                wm_depth: int = WM_DEPTH, acc_depth: int = ACC_DEPTH) -> CompiledMlp:
        """The inference program; OnnxImportError naming the largest layer when it does not fit."""
        try:
            return compile_mlp(self.sizes, self.acts, batch=batch, P=P, mode="infer", slope=self.slope,
                               imem_depth=imem_depth, ub_depth=ub_depth, wm_depth=wm_depth,
                               acc_depth=acc_depth)
        except ValueError as e:
            big = max(self.layers, key=lambda ly: (-(-ly.w.shape[0] // P)) * (-(-ly.w.shape[1] // P)))
            K, N = big.w.shape
            raise OnnxImportError(big.name, f"layer {K}x{N} (network {'-'.join(map(str, self.sizes))}, "
                                  f"batch {batch}) does not fit the chip (P={P}, UB {ub_depth}, WMEM "
                                  f"{wm_depth}, ACC {acc_depth}, IMEM {imem_depth} words): {e}") from None

    def golden(self, xq: np.ndarray) -> np.ndarray:
        """The chip's outputs H_L (Q8.8 codes) for input codes xq, by the golden model."""
        from models.train_ref import forward

        return forward(self.params(), xq, self.acts, self.slope)

    def saturation(self, xq: np.ndarray) -> np.ndarray:
        """Per sample, the number of saturated or wrapped results on chip (0: the error bound holds)."""
        h = np.asarray(xq, np.int64)
        n = np.zeros(len(h), np.int64)
        for (w, b), ly in zip(self.q88(), self.layers, strict=True):
            exact = h @ w
            n += ((exact != matmul_acc(h, w)).sum(axis=1))
            r = round_shift(exact, FRAC_W)
            n += ((r < Q_MIN) | (r > Q_MAX)).sum(axis=1)
            d = requant(exact, FRAC_W) + b
            n += ((d < Q_MIN) | (d > Q_MAX)).sum(axis=1)
            d = np.clip(d, Q_MIN, Q_MAX)
            if ly.act == "leaky":  # the negative branch's product saturates only for |slope| > 1
                lk = round_shift(d * self.slope, FRAC_W)
                n += ((d < 0) & ((lk < Q_MIN) | (lk > Q_MAX))).sum(axis=1)
            h = activate(d, ACT_CODES[ly.act], self.slope)
        return n

    # ---- float references and the bound -------------------------------------------------------------
    def forward_float(self, x: np.ndarray) -> np.ndarray:
        """The ONNX network's chip part in float64 (its exact real-number value for float32 weights)."""
        h = self.flat_input(x)
        for ly in self.layers:
            h = _act(h @ ly.w + ly.b, ly)
        return h

    def error_bound(self, x: np.ndarray) -> np.ndarray:
        """Per sample and output, a bound of |chip output - onnxruntime float32 output| at `logits`
        (docs/onnx.md): the Q8.8 quantization of inputs, weights and biases, one rounding per requant
        and per leaky product, propagated through |Wq|, plus float32's own error (gamma_{K+3} per dot
        product). Valid where saturation() is 0."""
        h = self.flat_input(x)
        e = np.abs(to_float(quantize(h)) - h)  # input rounding (saturation excluded by quantize_input)
        e32 = np.zeros_like(h)
        for ly, (wq, bq) in zip(self.layers, self.q88(), strict=True):
            wf, bf = to_float(wq), to_float(bq)
            K = ly.w.shape[0]
            aw = np.abs(ly.w)
            ez = e @ np.abs(wf) + np.abs(h) @ np.abs(wf - ly.w) + np.abs(bf - ly.b) + HALF_LSB
            g = (K + 3) * U32 / (1 - (K + 3) * U32)  # K products and sums, the bias add, Gemm's alpha, beta
            e32z = e32 @ aw + g * (np.abs(h) @ aw + np.abs(ly.b))
            lip = max(1.0, abs(ly.alpha)) if ly.act == "leaky" else 1.0
            z = h @ ly.w + ly.b
            e = lip * ez + (HALF_LSB if ly.act == "leaky" else 0.0)
            e32 = lip * e32z + (U32 * np.abs(ly.alpha * z) if ly.act == "leaky" else 0.0)
            h = _act(z, ly)
        return e + e32 * (1 + 1e-6) + 1e-12  # a hair of slack for float64's own rounding of the bound

    # ---- the host part --------------------------------------------------------------------------------
    def host_outputs(self, codes: np.ndarray) -> dict[str, object]:
        """The graph's outputs computed from the chip's outputs (Q8.8 codes at `logits`) by the host nodes."""
        return self.host_eval(to_float(codes).astype(np.float32))

    def host_eval(self, logits: np.ndarray) -> dict[str, object]:
        """The graph's outputs from float values of the `logits` tensor (the host nodes in numpy)."""
        env: dict[str, object] = dict(self.constants)
        env[self.logits] = np.asarray(logits)
        for node in self.tail:
            vals = [env[i] if i else None for i in node.input]
            env[node.output[0]] = _host_op(node, vals)
        return {o: env[o] for o in self.outputs}

    def describe(self) -> str:
        """A table of the mapping: layer, ONNX nodes, shape, activation, weight range."""
        rows = [f"input {self.input_name!r} [n, {', '.join(map(str, self.feature_shape))}] -> "
                f"{self.sizes[0]} features (Q8.8)"]
        for i, ly in enumerate(self.layers, start=1):
            act = f"leaky({ly.alpha:g})" if ly.act == "leaky" else ly.act
            rows.append(f"layer {i}: {' + '.join(ly.nodes)}  {ly.w.shape[0]}x{ly.w.shape[1]}  {act}  "
                        f"|W| <= {np.abs(ly.w).max():.4g}, |b| <= {np.abs(ly.b).max():.4g}")
        rows.append(f"chip outputs: {self.logits!r}; host: {', '.join(self.head) or 'nothing'}; "
                    f"graph outputs {', '.join(map(repr, self.outputs))}")
        return "\n".join(rows)


def _act(z: np.ndarray, ly: Layer) -> np.ndarray:
    if ly.act == "relu":
        return np.maximum(z, 0.0)
    if ly.act == "leaky":
        return np.where(z >= 0, z, ly.alpha * z)
    return z


def _attrs(node) -> dict:
    onnx = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _host_op(node, vals: list) -> object:
    """One host node in numpy, as the ONNX operator defines it (only the ones the importer lets through)."""
    onnx = _onnx()
    a, op = _attrs(node), node.op_type
    x = vals[0]
    if op == "Softmax":
        out = _softmax(np.asarray(x, np.float64), int(a.get("axis", -1)))
        return out.astype(np.asarray(x).dtype)
    if op == "ArgMax":
        axis, keep = int(a.get("axis", 0)), int(a.get("keepdims", 1))
        x = np.asarray(x)
        last = a.get("select_last_index")
        idx = (x.shape[axis] - 1 - np.flip(x, axis).argmax(axis) if last else x.argmax(axis)).astype(np.int64)
        return np.expand_dims(idx, axis) if keep else idx
    if op == "Identity":
        return x
    if op == "Cast":
        return np.asarray(x).astype(onnx.helper.tensor_dtype_to_np_dtype(int(a["to"])))
    if op == "Reshape":
        x, shape = np.asarray(x), [int(v) for v in vals[1]]
        if not a.get("allowzero"):
            shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return x.reshape(shape)
    if op == "ArrayFeatureExtractor":
        data, idx = np.asarray(vals[0]), np.asarray(vals[1]).ravel()
        return data[idx].reshape(1, -1) if data.ndim == 1 else np.take(data, idx, axis=-1)
    if op == "ZipMap":
        labels = a.get("classlabels_int64s") or [s.decode() if isinstance(s, bytes) else s
                                                  for s in a.get("classlabels_strings", [])]
        return [dict(zip(labels, (float(v) for v in row), strict=True)) for row in np.asarray(x)]
    raise AssertionError(f"host op {op} slipped through the importer")


# ---- import -----------------------------------------------------------------------------------------

def _constants(graph) -> dict[str, np.ndarray]:
    onnx = _onnx()
    out = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and len(node.output) == 1:
            a = node.attribute[0] if node.attribute else None
            if a is not None and a.name == "value":
                out[node.output[0]] = onnx.numpy_helper.to_array(a.t)
            elif a is not None:
                out[node.output[0]] = np.asarray(onnx.helper.get_attribute_value(a))
    return out


def _const(consts: dict, name: str, label: str, what: str) -> np.ndarray:
    if name not in consts:
        raise OnnxImportError(label, f"{what} {name!r} must be a constant (an initializer), not computed "
                              "at run time")
    v = np.asarray(consts[name])
    if v.dtype.kind not in "fiu":
        raise OnnxImportError(label, f"{what} {name!r} has dtype {v.dtype}, expected numbers")
    return v.astype(np.float64)


def _bias(v: np.ndarray, n: int, label: str) -> np.ndarray:
    if v.size == 1:
        return np.full(n, float(v.ravel()[0]))
    if v.shape in ((n,), (1, n)):
        return v.reshape(n)
    raise OnnxImportError(label, f"bias of shape {list(v.shape)} does not broadcast per output unit to [{n}] "
                          "(only [N], [1, N] or a scalar map to the VPU's bias add)")


def _check_q88(v: np.ndarray, label: str, what: str) -> None:
    if v.size == 0:
        return
    bad = ~np.isfinite(v) | (np.rint(v * (1 << FRAC_W)) < Q_MIN) | (np.rint(v * (1 << FRAC_W)) > Q_MAX)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise OnnxImportError(label, f"{what}{list(i)} = {float(v[i])!r} is outside the Q8.8 range "
                              f"[{Q_MIN * LSB}, {Q_MAX * LSB}] (it would saturate)")


def import_onnx(model, *, check: bool = True) -> ImportedMlp:
    """An ONNX model (path, bytes or ModelProto) -> ImportedMlp, or OnnxImportError naming the node."""
    onnx = _onnx()
    if isinstance(model, (str, Path)):
        model = onnx.load(str(model))
    elif isinstance(model, bytes):
        model = onnx.load_from_string(model)
    if check:
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as e:
            raise OnnxImportError("model", f"not a valid ONNX model: {str(e).splitlines()[0]}") from None
    g = model.graph
    consts = _constants(g)
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise OnnxImportError("graph", f"needs exactly one data input, has {[i.name for i in inputs]}")
    inp = inputs[0]
    tt = inp.type.tensor_type
    if not inp.type.HasField("tensor_type") or tt.elem_type not in (onnx.TensorProto.FLOAT,
                                                                      onnx.TensorProto.DOUBLE):
        raise OnnxImportError(f"input {inp.name!r}", "must be a float32 or float64 tensor")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
        raise OnnxImportError(f"input {inp.name!r}", f"shape {dims}: need [batch, features...] with known "
                              "feature sizes")
    feature_shape = tuple(int(d) for d in dims[1:])
    consumers: dict[str, list[int]] = {}
    for k, node in enumerate(g.node):
        for t in node.input:
            consumers.setdefault(t, []).append(k)
    graph_outputs = [o.name for o in g.output]
    used: set[int] = {k for k, n in enumerate(g.node) if n.op_type == "Constant"}

    layers: list[Layer] = []
    open_layer: Layer | None = None  # the layer whose bias / activation may still follow
    flat = int(np.prod(feature_shape))
    width = None  # features of the current tensor once flattened (None: still the raw input shape)
    cur = inp.name
    while True:
        nxt = sorted(set(consumers.get(cur, [])))
        if not nxt:
            break
        k = nxt[0]
        node = g.node[k]
        label = node_label(node, k)
        if node.op_type in HEAD:
            break
        if len(nxt) > 1 or cur in graph_outputs and cur != inp.name:
            raise OnnxImportError(label, f"tensor {cur!r} feeds {len(nxt)} nodes"
                                  + (" and is a graph output" if cur in graph_outputs else "")
                                  + ": only a chain of layers maps to the chip")
        op, a = node.op_type, _attrs(node)
        if op not in (*LINEAR, "Add", *ACTS, *PASS, "Flatten", "Reshape"):
            raise OnnxImportError(label, f"operator {op} is not supported on the chip (supported: Gemm, "
                                  "MatMul, Add, Relu, LeakyRelu, Flatten, Reshape, Identity, Cast; then "
                                  "Softmax / ArgMax on the host)")
        if node.domain not in ("", "ai.onnx"):
            raise OnnxImportError(label, f"domain {node.domain!r} is not supported")
        if node.input[0] != cur and op != "Add":
            raise OnnxImportError(label, f"the activations {cur!r} must be the first input")
        if op == "Cast" and int(a["to"]) not in FLOAT_TYPES:
            raise OnnxImportError(label, "a Cast to a non-float type inside the network")
        if op in ("Flatten", "Reshape"):
            if layers:
                raise OnnxImportError(label, f"{op} between layers (only before the first layer)")
            if op == "Flatten" and int(a.get("axis", 1)) != 1:
                raise OnnxImportError(label, "Flatten with axis != 1 would fold the batch into features")
            if op == "Reshape":
                shape = [int(v) for v in _const(consts, node.input[1], label, "shape")]
                if len(shape) != 2 or shape[1] not in (flat, -1) or shape[0] not in (-1, 0) or \
                        (shape[1] == -1 and shape[0] != 0):
                    raise OnnxImportError(label, f"Reshape to {shape}: only [-1, {flat}] or [0, -1] "
                                          "(a flatten) maps")
            width = flat
            open_layer = None
        elif op in LINEAR:
            if width is None and len(feature_shape) != 1:
                raise OnnxImportError(label, f"input of shape {list(feature_shape)} must be flattened first")
            K = flat if width is None else width
            w = _const(consts, node.input[1], label, "weight")
            if op == "Gemm":
                if int(a.get("transA", 0)):
                    raise OnnxImportError(label, "Gemm with transA=1 (transposed activations) does not map")
                if w.ndim != 2:
                    raise OnnxImportError(label, f"weight of rank {w.ndim}")
                w = w.T if int(a.get("transB", 0)) else w
                w = w * float(a.get("alpha", 1.0))
            if w.ndim != 2 or w.shape[0] != K:
                raise OnnxImportError(label, f"weight of shape {list(w.shape)} does not take {K} features")
            N = w.shape[1]
            b = np.zeros(N)
            if op == "Gemm" and len(node.input) > 2 and node.input[2]:
                b = _bias(_const(consts, node.input[2], label, "bias"), N, label) * float(a.get("beta", 1.0))
            open_layer = Layer([label], w, b)
            layers.append(open_layer)
            width = N
        elif op == "Add":
            other = node.input[1] if node.input[0] == cur else node.input[0]
            if open_layer is None or open_layer.act != "identity":
                raise OnnxImportError(label, "an Add maps only as the bias right after a Gemm / MatMul")
            open_layer.b = open_layer.b + _bias(_const(consts, other, label, "bias"), open_layer.w.shape[1],
                                                label)
            open_layer.nodes.append(label)
        elif op in ACTS:
            if open_layer is None or open_layer.act != "identity":
                raise OnnxImportError(label, f"{op} must follow a Gemm / MatMul (+ Add), once per layer")
            open_layer.act = ACTS[op]
            if op == "LeakyRelu":
                open_layer.alpha = float(np.float32(a.get("alpha", 0.01)))
            open_layer.nodes.append(label)
        used.add(k)
        cur = node.output[0]
    if not layers:
        raise OnnxImportError("graph", "no Gemm or MatMul layer found from the input")
    logits = cur

    # The host part: every remaining node must be a host op computable from the chip outputs / constants.
    known = set(consts) | {logits}
    tail = []
    for k, node in enumerate(g.node):
        if k in used:
            continue
        label = node_label(node, k)
        if node.op_type not in HOST_OPS:
            hint = " (only Softmax, ArgMax and the classifier label tail run on the host)"
            raise OnnxImportError(label, f"operator {node.op_type} is not supported{hint}")
        missing = [i for i in node.input if i and i not in known]
        if missing:
            raise OnnxImportError(label, f"reads {missing[0]!r}, which is neither the chip's output "
                                  f"{logits!r} nor a constant")
        const_in = {"ArrayFeatureExtractor": 0, "Reshape": 1}.get(node.op_type)
        if const_in is not None and node.input[const_in] not in consts:
            raise OnnxImportError(label, f"input {node.input[const_in]!r} must be a constant")
        tail.append(node)
        known.update(node.output)
    for o in graph_outputs:
        if o not in known:
            raise OnnxImportError(f"output {o!r}", "is not computed from the chip's outputs")

    alphas = {ly.alpha for ly in layers if ly.act == "leaky"}
    first_alpha = next((ly.alpha for ly in layers if ly.act == "leaky"), 0.0)
    slope = DEFAULT_SLOPE
    for ly in layers:
        _check_q88(ly.w, ly.name, "weight")
        _check_q88(ly.b, ly.name, "bias")
        if not np.any(quantize(ly.w)) and np.any(ly.w):
            raise OnnxImportError(ly.name, "every weight rounds to 0 in Q8.8 (|W| < 2^-9): the layer "
                                  "would compute nothing")
        if ly.act == "leaky":
            code = ly.alpha * (1 << FRAC_W)
            leaky = next(n for n in ly.nodes if n.endswith("(LeakyRelu)"))
            if code != round(code) or not Q_MIN <= code <= Q_MAX:
                lo, hi = np.floor(code) * LSB, np.ceil(code) * LSB
                raise OnnxImportError(leaky, f"LeakyRelu alpha={ly.alpha!r} is not a Q8.8 code (a multiple "
                                      f"of 2^-{FRAC_W} in range): the VPU's slope cannot represent it "
                                      f"exactly (nearest: {lo:g} or {hi:g})")
            if ly.alpha != first_alpha:
                raise OnnxImportError(leaky, f"LeakyRelu slopes {sorted(alphas)} differ: the compiled "
                                      "program has one slope")
            slope = int(code)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).type
    return ImportedMlp(model, inp.name, feature_shape, layers, slope, logits, tail, graph_outputs, consts,
                       dtype)


# ---- export ------------------------------------------------------------------------------------------

def export_mlp(params: Params, acts: list[str] | tuple[str, ...], slope: int = DEFAULT_SLOPE, *,
               argmax: bool = True, softmax: bool = False, input_name: str = "x",
               doc: str = "") -> object:
    """An ONNX model of the network the chip computes: per layer Gemm(x, Wq, bq) with the Q8.8 copies of
    the Q8.24 masters (exact in float32), then Relu / LeakyRelu(slope / 256) / nothing.

    Outputs: "scores" (the chip's outputs H_L; after a Softmax when `softmax`) and, with `argmax`,
    "label" (int64 [n], ArgMax over the scores).
    """
    onnx = _onnx()
    oh, nh, TP = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    nodes, inits = [], []
    cur = input_name
    K0 = int(np.asarray(params[0][0]).shape[0])
    for li, ((w, b), act) in enumerate(zip(params, acts, strict=True), start=1):
        wq = to_float(requant(np.asarray(w, np.int64), REFRESH_SHIFT)).astype(np.float32)
        bq = to_float(requant(np.asarray(b, np.int64), REFRESH_SHIFT)).astype(np.float32)
        inits += [nh.from_array(wq, f"W{li}"), nh.from_array(bq, f"b{li}")]
        z = f"z{li}"
        nodes.append(oh.make_node("Gemm", [cur, f"W{li}", f"b{li}"], [z], name=f"fc{li}"))
        cur = z
        if act == "relu":
            nodes.append(oh.make_node("Relu", [z], [f"h{li}"], name=f"relu{li}"))
            cur = f"h{li}"
        elif act == "leaky":
            nodes.append(oh.make_node("LeakyRelu", [z], [f"h{li}"], name=f"leaky{li}",
                                      alpha=float(slope) / (1 << FRAC_W)))
            cur = f"h{li}"
        elif act != "identity":
            raise ValueError(f"activation {act!r} has no ONNX export")
    N = int(np.asarray(params[-1][0]).shape[1])
    if softmax:
        nodes.append(oh.make_node("Softmax", [cur], ["scores"], name="softmax", axis=-1))
    else:
        nodes.append(oh.make_node("Identity", [cur], ["scores"], name="scores"))
    outputs = [oh.make_tensor_value_info("scores", TP.FLOAT, ["n", N])]
    if argmax:
        nodes.append(oh.make_node("ArgMax", ["scores"], ["label"], name="argmax", axis=1, keepdims=0))
        outputs.append(oh.make_tensor_value_info("label", TP.INT64, ["n"]))
    graph = oh.make_graph(nodes, "systole_mlp", [oh.make_tensor_value_info(input_name, TP.FLOAT, ["n", K0])],
                          outputs, inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)], producer_name="systole",
                          doc_string=doc or "MLP exported by Systole: Q8.8 weights of the chip's array")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# ---- onnxruntime -------------------------------------------------------------------------------------

def run_onnxruntime(model, x: np.ndarray, extra: list[str] | tuple[str, ...] = ()) -> dict[str, object]:
    """Run the model with onnxruntime (CPU, float32) on x; also returns the `extra` intermediate tensors."""
    import onnxruntime as ort

    onnx = _onnx()
    m = onnx.ModelProto()
    m.CopyFrom(model)
    names = [o.name for o in m.graph.output]
    for t in extra:
        if t not in names:
            m.graph.output.append(onnx.ValueInfoProto(name=t))
            names.append(t)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float64 if inp.type == "tensor(double)" else np.float32
    x = np.asarray(x, dtype)
    fixed = inp.shape[0] if inp.shape and isinstance(inp.shape[0], int) and inp.shape[0] > 0 else len(x)
    if len(x) % fixed:
        raise ValueError(f"the model's input {inp.name!r} has a fixed batch of {fixed}; {len(x)} rows given")
    parts = [sess.run(None, {inp.name: x[s:s + fixed]}) for s in range(0, len(x), fixed)]  # e.g. batch 1
    out = {}
    for k, o in enumerate(sess.get_outputs()):
        vals = [p[k] for p in parts]
        out[o.name] = sum(vals, []) if isinstance(vals[0], list) else np.concatenate(vals)
    return out


def softmax_bound(logit_bound: np.ndarray) -> np.ndarray:
    """|softmax(a) - softmax(b)| <= max|a - b| / 2 per sample (the Jacobian's inf-norm is <= 1/2)."""
    return 0.5 * np.asarray(logit_bound).max(axis=-1, keepdims=True)


def _as_array(v) -> np.ndarray:
    """A graph output as an array (ZipMap's list of dicts -> [n, classes] in key order)."""
    if isinstance(v, list):
        return np.array([[row[k] for k in sorted(row)] for row in v], np.float64)
    return np.asarray(v)


def predictions(net: ImportedMlp, outputs: dict[str, object], logits: np.ndarray) -> np.ndarray:
    """Class predictions: the graph's integer label output when it has one, else argmax of the logits."""
    n = len(logits)
    for name in net.outputs:
        v = _as_array(outputs[name])
        if v.dtype.kind in "iu" and v.size == n:
            return v.reshape(n).astype(np.int64)
    return np.asarray(logits).argmax(axis=1)


def agreement(net: ImportedMlp, x: np.ndarray, codes: np.ndarray, ref: dict[str, object],
              labels: np.ndarray | None = None) -> dict:
    """Chip (its output codes) against onnxruntime (`ref`, with net.logits among its tensors): errors at the
    chip's outputs against the bound, every graph output, predictions and accuracy (docs/onnx.md)."""
    x = np.asarray(x).astype(net.input_dtype)  # the values onnxruntime saw
    xq = net.quantize_input(x)
    chip = to_float(codes)
    ort_logits = np.asarray(ref[net.logits], np.float64)
    bound = net.error_bound(x)
    ok = net.saturation(xq) == 0
    err = np.abs(chip - ort_logits)
    res: dict = {"samples": int(len(chip)), "max_abs_error": float(err.max()),
                 "max_bound": float(bound.max()), "exceeding_bound": int((err > bound)[ok].sum()),
                 "saturated_samples": int((~ok).sum())}
    outs = net.host_outputs(codes)
    soft = "Softmax" in net.head
    per = {}
    for name in net.outputs:
        a, b = _as_array(outs[name]), _as_array(ref[name])
        if a.dtype.kind == "f":
            d = float(np.abs(a.astype(np.float64) - b).max())
            lim = float((softmax_bound(bound) + 1e-6).max() if soft else bound.max())
            per[name] = {"kind": "float", "max_abs_error": d, "bound": lim, "within": d <= lim}
        else:
            same = a.reshape(len(chip), -1) == b.reshape(len(chip), -1)
            per[name] = {"kind": "int", "agreement": float(same.all(axis=1).mean())}
    res["outputs"] = per
    pc, po = predictions(net, outs, chip), predictions(net, ref, ort_logits)
    res["prediction_agreement"] = float((pc == po).mean())
    # A different argmax is explained only by a margin within the bounds of the two outputs involved.
    ci, oi, rows = chip.argmax(axis=1), ort_logits.argmax(axis=1), np.arange(len(chip))
    margin = ort_logits[rows, oi] - ort_logits[rows, ci]
    far = margin > bound[rows, ci] + bound[rows, oi]
    res["unexplained_disagreements"] = int(((ci != oi) & ok & far).sum())
    res["predictions_chip"], res["predictions_onnxruntime"] = pc, po
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        res["accuracy_chip"] = float((pc == labels).mean())
        res["accuracy_onnxruntime"] = float((po == labels).mean())
    return res


__all__ = ["ImportedMlp", "Layer", "OnnxImportError", "agreement", "export_mlp", "import_onnx", "node_label",
           "predictions", "run_onnxruntime", "softmax_bound"]
