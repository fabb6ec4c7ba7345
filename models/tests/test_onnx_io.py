"""ONNX import and export (models/onnx_io.py), no simulator: both exporters, bad models, the round trip.

The chip's side is the compiled inference program on the ISA simulator, compared bit for bit with the
golden model (train_ref.forward); onnxruntime's float32 outputs must lie within the documented bound
(docs/onnx.md) of the chip's, and its predictions and accuracy must agree.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper as oh
from onnx import numpy_helper as nh

from models.fixed_point import quantize, to_float
from models.isa_sim import run
from models.mlp import MASTER_FRAC
from models.onnx_examples import helper_mlp, sklearn_digits
from models.onnx_io import (
    OnnxImportError,
    agreement,
    export_mlp,
    import_onnx,
    run_onnxruntime,
)
from models.train_ref import forward, init_params
from models.vpu import requant

SEED = 20261201


def _rng(*key: int) -> np.random.Generator:
    print(f"seed {[SEED, *key]}")
    return np.random.default_rng([SEED, *key])


def isa_outputs(net, xq: np.ndarray, P: int, batch: int) -> np.ndarray:
    """The compiled inference program on the ISA simulator, batch by batch."""
    m = net.compile(P=P, batch=batch)
    out = []
    for s in range(0, len(xq), batch):
        chunk = np.zeros((batch, xq.shape[1]), np.int64)
        chunk[:len(xq[s:s + batch])] = xq[s:s + batch]
        st = m.new_state()
        m.place_params(st, net.params())
        m.place_batch(st, chunk)
        run(m.words, st)
        out.append(m.read_outputs(st)[:len(xq[s:s + batch])])
    return np.concatenate(out)


@pytest.fixture(scope="module")
def digits_model():
    return sklearn_digits(hidden=32)


def test_sklearn_digits(digits_model) -> None:
    model, clf, ds = digits_model
    net = import_onnx(model)
    assert net.sizes == [64, 32, 10] and net.acts == ["relu", "identity"]
    assert net.head[:2] == ["Softmax", "ArgMax"] and "ZipMap" in net.head
    # The imported float network is sklearn's own.
    x = to_float(ds.x_test).astype(np.float32)
    for ly, w, b in zip(net.layers, clf.coefs_, clf.intercepts_, strict=True):
        assert np.array_equal(ly.w, w.astype(np.float32)) and np.array_equal(ly.b, b.astype(np.float32))
    xq = net.quantize_input(x)
    gold = net.golden(xq)
    assert np.array_equal(isa_outputs(net, xq[:40], P=8, batch=16), gold[:40]), "ISA sim != golden model"
    ref = run_onnxruntime(model, x, [net.logits])
    r = agreement(net, x, gold, ref, ds.labels_test)
    print({k: v for k, v in r.items() if not k.startswith("predictions")})
    assert r["saturated_samples"] == 0 and r["exceeding_bound"] == 0 and r["unexplained_disagreements"] == 0
    assert 0 < r["max_abs_error"] <= r["max_bound"]
    assert r["outputs"]["output_probability"]["within"]
    assert r["outputs"]["output_label"]["agreement"] >= 0.99
    assert abs(r["accuracy_chip"] - r["accuracy_onnxruntime"]) <= 0.01 + 1e-9
    assert r["accuracy_onnxruntime"] == pytest.approx(clf.score(x, ds.labels_test))
    assert r["accuracy_chip"] > 0.9


def test_helper_graph() -> None:
    rng = _rng(1)
    model = helper_mlp(rng, k=6, hidden=(7, 5), classes=3, alpha=0.25)
    net = import_onnx(model)
    assert net.sizes == [12, 7, 5, 3] and net.acts == ["leaky", "relu", "identity"]
    assert net.slope == 64 and net.feature_shape == (2, 6) and net.head == ["Softmax", "ArgMax"]
    w = {t.name: nh.to_array(t).astype(np.float64) for t in model.graph.initializer}
    assert np.array_equal(net.layers[0].w, 0.5 * w["W1t"].T) and np.array_equal(net.layers[0].b, 2 * w["b1"])
    assert np.array_equal(net.layers[1].b, w["b2"][0])
    x = rng.uniform(-3, 3, (37, 2, 6)).astype(np.float32)
    xq = net.quantize_input(x)
    gold = net.golden(xq)
    for P, batch in ((2, 5), (4, 8)):
        assert np.array_equal(isa_outputs(net, xq, P, batch), gold), f"ISA sim != golden at P={P}"
    ref = run_onnxruntime(model, x, [net.logits])
    r = agreement(net, x, gold, ref)
    print({k: v for k, v in r.items() if not k.startswith("predictions")})
    assert r["exceeding_bound"] == 0 and r["saturated_samples"] == 0 and r["max_abs_error"] > 0
    assert r["unexplained_disagreements"] == 0
    assert r["outputs"]["probs"]["within"] and r["outputs"]["label"]["agreement"] >= 0.9
    # The host's tail equals onnxruntime's on the same logits (Softmax, ArgMax exactly as ONNX defines).
    outs = net.host_eval(ref[net.logits])
    assert np.abs(outs["probs"] - ref["probs"]).max() < 1e-6 and outs["probs"].dtype == np.float32
    assert np.array_equal(outs["label"], ref["label"]) and outs["label"].dtype == ref["label"].dtype


def test_bound_catches_a_wrong_result() -> None:
    """The comparison can fail: a chip result off by a few LSBs in one element leaves the bound."""
    rng = _rng(2)
    model = helper_mlp(rng)
    net = import_onnx(model)
    x = rng.uniform(-3, 3, (16, 2, 6)).astype(np.float32)
    gold = net.golden(net.quantize_input(x))
    ref = run_onnxruntime(model, x, [net.logits])
    bound = net.error_bound(x)
    bad = gold.copy()
    off = int(np.ceil(bound[3, 1] * 256)) + 1
    bad[3, 1] += off
    r = agreement(net, x, bad, ref)
    assert r["exceeding_bound"] == 1 and r["unexplained_disagreements"] == 0, r
    other = int(np.argmin(gold[5]))  # a wrong prediction far outside the bound
    bad[5, other] = gold[5].max() + 256
    r = agreement(net, x, bad, ref)
    assert r["exceeding_bound"] == 2 and r["unexplained_disagreements"] == 1, r
    # The bound is not vacuous: well below the size of the outputs.
    assert bound.max() < 0.1 * np.abs(ref[net.logits]).max()


# ---- export and the round trip ---------------------------------------------------------------------

@pytest.mark.parametrize("acts", [["leaky", "identity"], ["relu", "leaky", "identity"]])
def test_export_round_trip(acts, tmp_path) -> None:
    rng = _rng(3, len(acts))
    sizes = [10, 9, 6, 4][:len(acts) + 1]
    params = init_params(sizes, rng, q88=False)  # masters with sub-Q8.8 bits: the export rounds them
    params = [(w, rng.integers(-300, 300, w.shape[1]) << (MASTER_FRAC - 8)) for w, _ in params]
    slope = 32
    path = tmp_path / "net.onnx"
    onnx.save(export_mlp(params, acts, slope), str(path))
    net = import_onnx(path)
    assert net.sizes == sizes and net.acts == acts and net.slope == slope
    for (w, b), (wq, bq) in zip(params, net.q88(), strict=True):
        assert np.array_equal(wq, requant(w, MASTER_FRAC - 8)) and np.array_equal(bq, requant(b, 16))
    x = rng.uniform(-2, 2, (50, sizes[0]))
    xq = quantize(x)
    chip = forward(params, xq, acts, slope)  # what the chip computes with these masters
    assert np.array_equal(net.golden(xq), chip)
    ref = run_onnxruntime(net.model, to_float(xq), [net.logits])
    r = agreement(net, to_float(xq), chip, ref, chip.argmax(axis=1))
    assert r["exceeding_bound"] == 0 and r["saturated_samples"] == 0
    assert r["outputs"]["label"]["agreement"] == r["prediction_agreement"] >= 0.9


# ---- bad models ------------------------------------------------------------------------------------

def _with(model, **changes):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for fn in changes.values():
        fn(m)
    return m


def test_unsupported_op_names_the_node() -> None:
    model = helper_mlp(_rng(4), extra=[oh.make_node("Tanh", ["h1"], ["h1x"], name="squash")])
    with pytest.raises(OnnxImportError, match=r"node 'squash' \(Tanh\): operator Tanh is not supported"):
        import_onnx(model)
    # skl2onnx's binary classifier ends in a Sigmoid: named too.
    tail = helper_mlp(_rng(4))
    for n in tail.graph.node:
        if n.name == "softmax":
            n.op_type = "Sigmoid"
            del n.attribute[:]
    with pytest.raises(OnnxImportError, match=r"node 'softmax' \(Sigmoid\)"):
        import_onnx(tail)


def test_layer_too_large_names_the_node() -> None:
    W = nh.from_array(np.full((64, 3000), 0.01, np.float32), "W")
    g = oh.make_graph([oh.make_node("MatMul", ["x", "W"], ["y"], name="huge")], "g",
                      [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 64])],
                      [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 3000])], [W])
    net = import_onnx(oh.make_model(g, opset_imports=[oh.make_opsetid("", 21)]))
    with pytest.raises(OnnxImportError, match=r"node 'huge' \(MatMul\): layer 64x3000 .*does not fit.*WMEM"):
        net.compile(P=8, batch=32)


def _set_init(name: str, fn):
    def go(m):
        for i, t in enumerate(m.graph.initializer):
            if t.name == name:
                m.graph.initializer[i].CopyFrom(nh.from_array(fn(nh.to_array(t)), name))
    return go


def _set_attr(node: str, attr: str, value):
    def go(m):
        for n in m.graph.node:
            if n.name == node:
                for a in n.attribute:
                    if a.name == attr:
                        a.CopyFrom(oh.make_attribute(attr, value))
    return go


@pytest.mark.parametrize("change, match", [
    (dict(w=_set_init("W2", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, 200.0, a)
                      .astype(np.float32))),
     r"node 'fc2' \(MatMul\): weight\[0, 3\] = 200.0 is outside the Q8.8 range"),
    (dict(b=_set_init("b3", lambda a: np.full_like(a, -129.0))), r"node 'fc3' \(Gemm\): bias\[0\] = -129.0"),
    (dict(n=_set_init("W3", lambda a: np.full_like(a, np.nan))),
     r"node 'fc3' \(Gemm\): weight\[0, 0\] = nan"),
    (dict(a=_set_attr("leaky1", "alpha", 0.01)),
     r"node 'leaky1' \(LeakyRelu\): LeakyRelu alpha=0.0099999.* not a Q8.8 code.*0.0078125 or 0.0117188"),
    (dict(t=_set_attr("fc1", "transB", 0)),
     r"node 'fc1' \(Gemm\): weight of shape \[7, 12\] does not take 12"),
    (dict(t=_set_attr("argmax", "axis", 1)), None),  # still fine: a control case
])
def test_bad_weights_and_attributes(change, match) -> None:
    model = _with(helper_mlp(_rng(5)), **change)
    if match is None:
        import_onnx(model)
        return
    with pytest.raises(OnnxImportError, match=match):
        import_onnx(model)


def test_bad_graph_structure() -> None:
    rng = _rng(6)
    # Two activations in a row, and two LeakyRelu slopes (the program has one).
    twice = helper_mlp(rng, extra=[oh.make_node("LeakyRelu", ["h1"], ["h1x"], name="again", alpha=0.25)])
    with pytest.raises(OnnxImportError, match=r"node 'again' \(LeakyRelu\): LeakyRelu must follow a Gemm"):
        import_onnx(twice)
    two = helper_mlp(rng)
    relu2 = next(n for n in two.graph.node if n.name == "relu2")
    relu2.op_type = "LeakyRelu"
    relu2.attribute.append(oh.make_attribute("alpha", 0.5))
    with pytest.raises(OnnxImportError, match=r"node 'relu2' \(LeakyRelu\): LeakyRelu slopes \[0.25, 0.5\]"):
        import_onnx(two)
    # A hidden tensor used twice (a skip connection) is not a chain.
    skip = helper_mlp(rng, extra=[oh.make_node("Add", ["h1", "h1"], ["h1x"], name="skip")])
    with pytest.raises(OnnxImportError, match=r"tensor 'h1' feeds|node 'skip' \(Add\)"):
        import_onnx(skip)
    # Gemm with transposed activations, and a weight computed at run time.
    with pytest.raises(OnnxImportError, match=r"node 'fc1' \(Gemm\): Gemm with transA=1"):
        import_onnx(_with(helper_mlp(rng), t=lambda m: m.graph.node[1].attribute.append(
            oh.make_attribute("transA", 1))), check=False)
    comp = helper_mlp(rng, extra=[oh.make_node("Identity", ["h1"], ["h1x"], name="id"),
                                  oh.make_node("Identity", ["W2"], ["W2c"], name="wcopy")])
    comp.graph.node[5].input[1] = "W2c"  # fc2 = MatMul(h1x, W2c): a weight computed at run time
    with pytest.raises(OnnxImportError, match=r"node 'fc2' \(MatMul\): weight 'W2c' must be a constant"):
        import_onnx(comp, check=False)
    # An input out of the Q8.8 range is refused, not saturated.
    net = import_onnx(helper_mlp(rng))
    with pytest.raises(ValueError, match=r"value 130.0 at \[1, 4\] is outside the Q8.8 range"):
        x = np.zeros((2, 2, 6), np.float32)
        x[1, 0, 4] = 130.0
        net.quantize_input(x)
    with pytest.raises(ValueError, match=r"shape \(2, 12\) does not match graph input 'x' \[n, 2, 6\]"):
        net.quantize_input(np.zeros((2, 12)))


def test_demo_export(tmp_path) -> None:
    """make demo's exporter on masters trained by the golden model: ONNX file, onnxruntime, checks."""
    from models.datasets import digits
    from models.onnx_examples import export_demo_digits
    from models.train_ref import TrainConfig, train_step

    ds = digits(0)
    params = init_params([64, 16, 10], _rng(7), scale=0.5)
    cfg = TrainConfig(("leaky", "identity"), 0.15, 32)
    for s in range(0, 32 * 40, 32):
        params, _, _ = train_step(params, ds.x_train[s:s + 32], ds.y_train[s:s + 32], cfg)
    np.savez(tmp_path / "m.npz", **{f"{n}{i}": a for i, (w, b) in enumerate(params)
                                    for n, a in (("W", w), ("b", b))})
    pred = forward(params, ds.x_test[:100], cfg.acts).argmax(axis=1)
    info = export_demo_digits(tmp_path / "m.npz", tmp_path, list(pred), test_limit=100)
    print(info)
    assert (tmp_path / "digits.onnx").is_file() and info["samples"] == 100
    assert info["accuracy_chip"] == float((pred == ds.labels_test[:100]).mean()) > 0.5
    assert abs(info["accuracy_onnxruntime"] - info["accuracy_chip"]) <= 0.01 + 1e-9
    assert info["exceeding_bound"] == 0 and info["max_abs_error"] <= info["max_bound"]
    assert info["unexplained_disagreements"] == 0
    with pytest.raises(ValueError, match="do not give the chip's held-out predictions"):
        export_demo_digits(tmp_path / "m.npz", tmp_path, list((pred + 1) % 10), test_limit=100)


def _linear_model(K: int, N: int, batch_dim, elem=onnx.TensorProto.FLOAT, seed: int = 8):
    rng = _rng(seed)
    dtype = np.float64 if elem == onnx.TensorProto.DOUBLE else np.float32
    W = nh.from_array(rng.uniform(-1, 1, (N, K)).astype(dtype), "W")
    b = nh.from_array(rng.uniform(-1, 1, N).astype(dtype), "b")
    g = oh.make_graph([oh.make_node("Gemm", ["x", "W", "b"], ["y"], name="linear", transB=1)], "g",
                      [oh.make_tensor_value_info("x", elem, [batch_dim, K])],
                      [oh.make_tensor_value_info("y", elem, [batch_dim, N])], [W, b])
    m = oh.make_model(g, opset_imports=[oh.make_opsetid("", 21)])
    m.ir_version = 10
    return m


@pytest.mark.parametrize("batch_dim, elem", [(1, onnx.TensorProto.FLOAT), ("n", onnx.TensorProto.DOUBLE)])
def test_fixed_batch_and_double_inputs(batch_dim, elem) -> None:
    """PyTorch exports a fixed batch of 1 (onnxruntime runs row by row); float64 graphs compute in double."""
    model = _linear_model(9, 5, batch_dim, elem)
    net = import_onnx(model)
    assert net.input_dtype == (np.float32 if elem == onnx.TensorProto.FLOAT else np.float64)
    x = _rng(9).uniform(-2, 2, (6, 9))
    ref = run_onnxruntime(model, x, [net.logits])
    assert ref["y"].shape == (6, 5)
    r = agreement(net, x, net.golden(net.quantize_input(x.astype(net.input_dtype))), ref)
    assert r["exceeding_bound"] == 0 and r["max_abs_error"] > 0
    if batch_dim == 1:
        with pytest.raises(ValueError, match="fixed batch of 2; 3 rows given"):
            run_onnxruntime(_linear_model(9, 5, 2), x[:3])
