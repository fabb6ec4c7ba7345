"""Example ONNX MLPs from real exporters, for the tests and `scripts/systole.py example` (docs/onnx.md).

* `sklearn_digits(hidden, seed)`: an sklearn MLPClassifier (ReLU hidden layer) trained on the bundled 8x8
  digits (models.datasets, pixels / 16), converted by skl2onnx with its default classifier tail
  (Softmax, ArgMax, label lookup, ZipMap): MatMul + Add + Relu, MatMul + Add.
* `export_demo_digits(...)`: make demo's exporter (the masters trained on chip -> digits.onnx, checked with
  onnxruntime on the held-out set).
* `helper_mlp(rng, ...)`: a graph written with onnx.helper the way other exporters write it: Flatten of a
  [n, 2, k] input, Gemm with transB = 1, alpha and beta, LeakyRelu, MatMul + Add with the bias first,
  Relu, Gemm, Softmax and ArgMax (keepdims = 0).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from models.datasets import Dataset, digits
from models.fixed_point import to_float
from models.onnx_io import IR_VERSION, OPSET


def digits_float(seed: int = 0) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The digits split and its train / held-out inputs as float32 (pixels / 16, exact in Q8.8)."""
    ds = digits(seed)
    return ds, to_float(ds.x_train).astype(np.float32), to_float(ds.x_test).astype(np.float32)


def sklearn_digits(hidden: int = 32, seed: int = 0, max_iter: int = 150):
    """(skl2onnx ModelProto, fitted MLPClassifier, Dataset) of a 64-hidden-10 ReLU classifier."""
    from skl2onnx import to_onnx
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    ds, x_train, _ = digits_float()
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=max_iter, random_state=seed)
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    with warnings.catch_warnings(), threadpool_limits(1):  # small matrices: BLAS threads only contend
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, ds.labels_train)
    return to_onnx(clf, x_train[:1], target_opset={"": 21, "ai.onnx.ml": 1}), clf, ds


def helper_mlp(rng: np.random.Generator, k: int = 6, hidden: tuple[int, int] = (7, 5), classes: int = 3,
               alpha: float = 0.25, extra: list | None = None):
    """A 2k-h1-h2-classes MLP written with onnx.helper (weights uniform in +-1, Gemm alpha 0.5, beta 2).

    `extra` (a list of onnx.NodeProto) is inserted after the first layer's LeakyRelu, reading "h1" and
    writing "h1x", to build deliberately unsupported graphs.
    """
    import onnx
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper as nh

    n_in, (h1, h2) = 2 * k, hidden

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-1, 1, shape).astype(np.float32)

    shapes = {"W1t": (h1, n_in), "b1": (h1,), "W2": (h1, h2), "b2": (1, h2), "W3": (h2, classes),
              "b3": (classes,)}
    inits = [nh.from_array(u(*shape), name) for name, shape in shapes.items()]
    h1_out = "h1x" if extra else "h1"
    nodes = [
        oh.make_node("Flatten", ["x"], ["xf"], name="flatten", axis=1),
        oh.make_node("Gemm", ["xf", "W1t", "b1"], ["z1"], name="fc1", transB=1, alpha=0.5, beta=2.0),
        oh.make_node("LeakyRelu", ["z1"], ["h1"], name="leaky1", alpha=alpha),
        *(extra or []),
        oh.make_node("MatMul", [h1_out, "W2"], ["m2"], name="fc2"),
        oh.make_node("Add", ["b2", "m2"], ["z2"], name="fc2_bias"),
        oh.make_node("Relu", ["z2"], ["h2"], name="relu2"),
        oh.make_node("Gemm", ["h2", "W3", "b3"], ["logits"], name="fc3"),
        oh.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
        oh.make_node("ArgMax", ["probs"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = oh.make_graph(nodes, "helper_mlp", [oh.make_tensor_value_info("x", TP.FLOAT, ["n", 2, k])],
                          [oh.make_tensor_value_info("probs", TP.FLOAT, ["n", classes]),
                           oh.make_tensor_value_info("label", TP.INT64, ["n"])], inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)], producer_name="onnx.helper")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def export_demo_digits(masters: Path, out: Path, predictions: list[int],
                       acts: tuple[str, ...] = ("leaky", "identity"), test_limit: int = 0) -> dict:
    """make demo's exporter: the digits masters trained on chip -> out/digits.onnx, then onnxruntime on the
    held-out set against the chip (its predictions from the demo log) and the documented bound.

    Raises ValueError when the exported weights do not give the chip's predictions (e.g. a stale file).
    """
    import onnx

    from models.mlp import DEFAULT_SLOPE
    from models.onnx_io import agreement, export_mlp, import_onnx, run_onnxruntime

    d = np.load(masters)
    params = [(d[f"W{i}"], d[f"b{i}"]) for i in range(len(acts))]
    model = export_mlp(params, acts, DEFAULT_SLOPE, doc="digits MLP trained on the Systole chip (make demo)")
    path = out / "digits.onnx"
    onnx.save(model, str(path))
    ds = digits(0)
    x, labels = ds.x_test, ds.labels_test
    if test_limit:
        x, labels = x[:test_limit], labels[:test_limit]
    net = import_onnx(path)
    xf = to_float(x).astype(np.float32)
    chip = net.golden(x)  # what the chip computed (the demo checked its held-out outputs bit for bit)
    if not np.array_equal(chip.argmax(axis=1), np.asarray(predictions)):
        raise ValueError(f"{masters}: these weights do not give the chip's held-out predictions")
    r = agreement(net, xf, chip, run_onnxruntime(model, xf, [net.logits]), labels)
    keys = ("samples", "accuracy_chip", "accuracy_onnxruntime", "prediction_agreement", "max_abs_error",
            "max_bound", "exceeding_bound", "saturated_samples", "unexplained_disagreements")
    return {"file": str(path), **{k: r[k] for k in keys}}
