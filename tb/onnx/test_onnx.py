"""Bring your own model on chip: scripts/systole.py's run on tpu_top, and its command-line checks.

* test_onnx_on_chip (both simulators, one simulation each, the demo's tpu_top build: P = 8 on Verilator,
  P = 4 on Icarus): an skl2onnx-converted sklearn MLPClassifier trained on the digits (a few held-out
  images) and an onnx.helper graph (Flatten, Gemm transB/alpha/beta, LeakyRelu, MatMul + Add, Relu, Gemm,
  Softmax, ArgMax) run through `run_on_chip`; the chip's outputs must equal the golden model's bit for bit
  and onnxruntime's within the documented bound, with the same predictions and accuracy within 1 point;
  the report names every number and the counters are consistent (MACs = array rows * P^2).
* test_cli_errors (no simulator): bad options, files and models give one line naming the option or the
  ONNX node, exit status 2, no traceback.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import onnx
import pytest
from onnx import helper as oh

from models.onnx_examples import helper_mlp, sklearn_digits
from models.onnx_io import import_onnx
from tb.common.tools import ROOT

P_FOR = {"verilator": 8, "icarus": 4}  # the tpu_top configurations make demo / tb/demo already build


def load_systole():
    """scripts/systole.py as a module (scripts/ is not a package)."""
    if "systole_cli" not in sys.modules:
        spec = importlib.util.spec_from_file_location("systole_cli", ROOT / "scripts" / "systole.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["systole_cli"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["systole_cli"]


def test_onnx_on_chip(sim: str, tmp_path) -> None:
    cli = load_systole()
    P = P_FOR[sim]
    skl, _, ds = sklearn_digits(hidden=16, max_iter=100)
    n_digits = 20
    x_digits = (ds.x_test[:n_digits] / 256.0).astype(np.float32)
    rng = np.random.default_rng(20261202)
    helper = helper_mlp(rng, k=5, hidden=(6, 9), classes=4, alpha=0.125)
    x_helper = rng.uniform(-2, 2, (7, 2, 5)).astype(np.float32)
    cases = [("skl2onnx digits", skl, x_digits, ds.labels_test[:n_digits], 8),
             ("onnx.helper", helper, x_helper, None, 4)]
    nets = [import_onnx(m) for _, m, _, _, _ in cases]
    jobs = [(net, net.quantize_input(x), batch) for net, (_, _, x, _, batch) in zip(nets, cases, strict=True)]
    runs = cli.run_on_chip(jobs, sim, P, tmp_path)
    for net, (name, _, x, labels, batch), run in zip(nets, cases, runs, strict=True):
        r = cli.compare(net, x, run["outputs"], labels)
        text = cli.report(net, name, r, run, P, batch)
        print(text)
        assert r["bit_exact"], f"{name}: chip != golden model in {r['golden_mismatches']} codes"
        assert r["exceeding_bound"] == 0 and r["saturated_samples"] == 0, r
        assert r["unexplained_disagreements"] == 0
        assert 0 < r["max_abs_error"] <= r["max_bound"]
        assert all(o["within"] for o in r["outputs"].values() if o["kind"] == "float"), r["outputs"]
        assert r["prediction_agreement"] == 1.0, name
        if labels is not None:
            assert abs(r["accuracy_chip"] - r["accuracy_onnxruntime"]) <= 0.01 + 1e-9
        c = run["counters"]
        runs_expected = -(-len(x) // batch)
        assert c["runs"] == runs_expected and c["macs"] == c["rows"] * P * P and c["cycles"] > c["rows"] > 0
        assert c["dma_bytes"] == c["bytes_in"] + c["bytes_out"]
        assert run["simulator"].lower().startswith(sim[:4]) and "agreement: OK" in text
        assert "bit exact" in text and f"P={P}" in text


def _run_cli(capsys, *args: str) -> tuple[int, str]:
    rc = load_systole().main(list(args))
    err = capsys.readouterr().err
    return rc, err


def test_cli_errors(tmp_path, capsys) -> None:
    rng = np.random.default_rng(3)
    good = tmp_path / "good.onnx"
    onnx.save(helper_mlp(rng), str(good))
    bad = tmp_path / "bad.onnx"
    onnx.save(helper_mlp(rng, extra=[oh.make_node("Sigmoid", ["h1"], ["h1x"], name="gate")]), str(bad))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 2, 6), np.float32))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((3, 11), np.float32))
    far = tmp_path / "far.npy"
    np.save(far, np.full((3, 2, 6), 300.0, np.float32))
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((0, 2, 6), np.float32))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    cases = [
        (("run", str(good), "--input", str(x), "--sim", "xcelium"), "--sim: 'xcelium' is not one of"),
        (("run", str(good), "--input", str(x), "--array-size", "two"), "--array-size: expected an integer"),
        (("run", str(good), "--input", str(x), "--array-size", "99"), "--array-size: 99 is outside 1..16"),
        (("run", str(good), "--input", str(x), "--batch", "0"), "--batch: 0 is outside"),
        (("run", str(good), "--input", str(tmp_path / "none.npy")), "--input: no such file"),
        (("run", str(good), "--input", str(wrong)), "--input: shape (3, 11) does not match graph input 'x'"),
        (("run", str(good), "--input", str(far)), "--input: value 300.0 at [0, 0] is outside the Q8.8 range"),
        (("run", str(good), "--input", str(x), "--labels", str(wrong)), "--labels: need 3 integer labels"),
        (("run", str(good), "--input", str(empty)), "empty.npy' has no rows"),
        (("run", str(bad), "--input", str(x)), "bad.onnx: node 'gate' (Sigmoid): operator Sigmoid is not"),
        (("run", str(junk), "--input", str(x)), "junk.onnx: not an ONNX model"),
        (("run", str(tmp_path / "no.onnx"), "--input", str(x)), "MODEL: no such file"),
        (("check", str(good), "--batch", "5000"), "does not fit the chip"),
        (("run", str(good)), "the following arguments are required: --input"),
    ]
    for args, expect in cases:
        rc, err = _run_cli(capsys, *args)
        assert rc == 2, (args, rc, err)
        assert expect in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    rc, _ = _run_cli(capsys, "check", str(good), "--array-size", "4")
    assert rc == 0



def test_batch_is_picked_to_fit() -> None:
    """16-256 at P = 8: batch 32 overflows WMEM (weight tiles + a dZ' scratch of nt * batch words), 16 fits;
    an explicit --batch that does not fit is an error."""
    cli = load_systole()
    W = onnx.numpy_helper.from_array(np.full((16, 256), 0.5, np.float32), "W")
    g = oh.make_graph([oh.make_node("MatMul", ["x", "W"], ["y"], name="wide")], "g",
                      [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 16])],
                      [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 256])], [W])
    net = import_onnx(oh.make_model(g, opset_imports=[oh.make_opsetid("", 21)]))
    assert cli.pick_batch(net, 8, 0, 100) == 16 and cli.pick_batch(net, 8, 0, 5) == 5
    with pytest.raises(cli.UsageError, match=r"node 'wide' \(MatMul\).*WMEM needs 1536 words"):
        cli.pick_batch(net, 8, 32, 100)
