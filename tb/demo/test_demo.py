"""make demo, shortened: XOR and digits trained on chip through scripts/demo.py's own functions.

* test_demo (both simulators; both transports: tpu_top over AXI with DMA, and tpu_core's host port): a
  short demo (a few XOR epochs, one epoch of digits on a subset) through `run_demo`; checks that the chip
  and the golden model agreed (identical held-out accuracy, identical final weights hash, every epoch's
  hash recorded), that every output file exists and is well formed, and that the performance summary is
  consistent with the counters (over AXI: DMA_BYTES equals the bytes every run must move). Icarus runs a
  smaller network on a 4x4 array (a P = 8 core simulates at only a few dozen cycles per second on
  Icarus 11).
* test_divergence_is_detected (no simulator): the demo's lock-step checker, fed by a device that computes
  the golden step but corrupts one output code, or one master weight, at a chosen step, must fail naming
  that step (or the range of steps since the masters were last equal).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys

import numpy as np
import pytest

from models.datasets import xor
from models.mlp import compile_mlp
from models.train_ref import TrainConfig, forward, init_params, train_step
from tb.common.tools import ROOT
from tb.demo.demo_bench import Diverged, Log, Trainer, weights_hash

PNG = b"\x89PNG\r\n\x1a\n"
LOG_KEYS = {"config", "status", "simulator", "P", "transport", "memories", "xor", "digits", "sim_wall_s"}
DIGITS_KEYS = {"sizes", "batch", "lr", "lr_eff", "epochs", "steps", "steps_per_epoch", "history", "step_loss",
               "test_accuracy_chip", "test_accuracy_golden", "test_accuracy_float32", "weights_hash_chip",
               "weights_hash_golden", "weights_equal", "test_predictions", "test_labels", "counters_train",
               "counters_infer", "model_cycles_per_step"}
PERF_KEYS = {"runs", "cycles", "array_busy_cycles", "macs", "weight_stall_cycles", "samples", "utilization",
             "macs_per_cycle", "peak_macs_per_cycle", "cycles_per_sample", "transport", "bytes_in",
             "bytes_out", "bytes_per_cycle"}

# The shortened demo per simulator (Verilator: the real network and array, on a subset).
SHORT = {
    "verilator": dict(array_size=8, hidden=32, batch=32, lr=0.15, epochs=1, train_limit=160, test_limit=64,
                      xor_epochs=8),
    "icarus": dict(array_size=4, hidden=16, batch=16, lr=0.15, epochs=1, train_limit=48, test_limit=24,
                   xor_epochs=3),
}


def load_demo():
    """scripts/demo.py as a module (scripts/ is not a package)."""
    if "systole_demo" not in sys.modules:
        spec = importlib.util.spec_from_file_location("systole_demo", ROOT / "scripts" / "demo.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["systole_demo"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["systole_demo"]


@pytest.mark.parametrize("transport", ["axi", "core"])
def test_demo(sim: str, transport: str, tmp_path) -> None:
    demo = load_demo()
    short = SHORT[sim]
    cfg = demo.DemoConfig(sim=sim, transport=transport, waves=False, out=tmp_path / "demo", **short)
    log, files, text = demo.run_demo(cfg)
    P = short["array_size"]

    # The golden-model agreement the run asserted, as recorded.
    saved = json.loads((cfg.out / "demo_log.json").read_text())
    assert saved == log, "the returned log is not the one written"
    assert LOG_KEYS <= set(log), f"log keys missing: {LOG_KEYS - set(log)}"
    assert log["status"] == "ok" and log["P"] == P
    assert log["transport"] == {"axi": "axi-dma", "core": "host-port"}[transport]
    x, d = log["xor"], log["digits"]
    assert x["weights_hash_chip"] == x["weights_hash_golden"] and x["weights_equal"] is True
    assert len(x["loss"]) == short["xor_epochs"] and len(x["predictions"]) == 4
    assert DIGITS_KEYS <= set(d), f"digits keys missing: {DIGITS_KEYS - set(d)}"
    assert d["weights_hash_chip"] == d["weights_hash_golden"] and d["weights_equal"] is True
    assert d["test_accuracy_chip"] == d["test_accuracy_golden"]
    steps = short["train_limit"] // short["batch"]
    assert d["steps"] == steps * short["epochs"] == len(d["step_loss"])
    assert len(d["history"]) == short["epochs"]
    for h in d["history"]:
        assert h["test_accuracy_chip"] == h["test_accuracy_golden"]
        assert 0.0 <= h["test_accuracy_float32"] <= 1.0
    assert d["history"][-1]["weights_hash"] == d["weights_hash_chip"]
    assert len(d["test_predictions"]) == len(d["test_labels"]) == short["test_limit"]
    hits = np.mean(np.array(d["test_predictions"]) == np.array(d["test_labels"]))
    assert hits == pytest.approx(d["test_accuracy_chip"])

    # The trained network exported to ONNX, run by onnxruntime (docs/onnx.md).
    o = json.loads(files["onnx_json"].read_text())
    assert files["onnx"].name == "digits.onnx" and files["onnx"].stat().st_size > 1000
    assert o["accuracy_chip"] == d["test_accuracy_chip"] and o["samples"] == short["test_limit"]
    assert o["exceeding_bound"] == 0 and o["unexplained_disagreements"] == 0 and o["saturated_samples"] == 0

    # Output files.
    for key in ("training_plot", "digits_plot"):
        data = files[key].read_bytes()
        assert data[:8] == PNG and len(data) > 5000, f"{files[key]} is not a real PNG"
    perf = json.loads((cfg.out / "perf.json").read_text())
    assert (cfg.out / "perf.txt").read_text().startswith("Systole performance summary")
    assert set(perf["workloads"]) == {"xor_train", "digits_train", "digits_infer"}
    for name, w in perf["workloads"].items():
        assert PERF_KEYS <= set(w), f"{name}: keys missing {PERF_KEYS - set(w)}"
        assert w["cycles"] > 0 and w["runs"] > 0 and w["samples"] > 0, name
        assert 0.0 < w["utilization"] <= 1.0, f"{name}: utilization {w['utilization']}"
        assert w["macs"] == w["array_busy_cycles"] * P * P, f"{name}: MACs != rows * P^2"
        assert w["utilization"] == pytest.approx(w["array_busy_cycles"] / w["cycles"])
        assert w["cycles_per_sample"] == pytest.approx(w["cycles"] / w["samples"])
        assert w["bytes_in"] > 0 and w["bytes_out"] > 0, name
        moved = w["bytes_in"] + w["bytes_out"]
        if transport == "axi":  # the CSR counter equals the fetch + batch + outputs of every run
            assert w["dma_bytes"] == moved, f"{name}: DMA_BYTES {w['dma_bytes']} != {moved}"
        assert w["bytes_per_cycle"] == pytest.approx(moved / w["cycles"])
    dt = perf["workloads"]["digits_train"]
    assert dt["runs"] == d["steps"] and dt["samples"] == d["steps"] * short["batch"]
    assert dt["cycles_per_step"] * d["steps"] == dt["cycles"]
    assert perf["workloads"]["xor_train"]["runs"] == short["xor_epochs"]
    assert "final weights chip == golden" in text and f"P={P}" in text


# ---- the lock-step checker, without a simulator ----------------------------------------------------

class GoldenDevice:
    """A 'device' that computes the golden step itself, corrupting one result at a chosen step."""

    transport = "fake"

    def __init__(self, params, cfg: TrainConfig, bad_output_at: int = 0, bad_weight_at: int = 0) -> None:
        self.params, self.cfg = params, cfg
        self.step, self.bad_output_at, self.bad_weight_at = 0, bad_output_at, bad_weight_at

    async def train_step(self, x, y):
        self.step += 1
        self.params, _, out = train_step(self.params, x, y, self.cfg)
        h = out.outputs.copy()
        if self.step == self.bad_output_at:
            h[1, 0] += 1  # one LSB of one output
        if self.step == self.bad_weight_at:
            w, b = self.params[0]
            w = w.copy()
            w[0, 1] += 1  # one LSB (2^-24) of one master: invisible in this step's outputs
            self.params = [(w, b), *self.params[1:]]
        return h

    async def read_params(self):
        return self.params

    async def infer(self, x):
        return forward(self.params, x, self.cfg.acts)

    def counters(self):
        return {}


def _run_checker(tmp_path, bad_output_at: int = 0, bad_weight_at: int = 0, steps: int = 6) -> Trainer:
    ds = xor()
    m = compile_mlp([2, 2, 1], ["leaky", "identity"], batch=4, lr=0.25, P=2)
    params = init_params([2, 2, 1], np.random.default_rng(2))
    cfg = TrainConfig(("leaky", "identity"), 0.25, 4)
    dev = GoldenDevice(params, cfg, bad_output_at, bad_weight_at)
    tr = Trainer("xor", dev, m, params, Log(tmp_path / "log.json", {}))

    async def go() -> None:
        for i in range(1, steps + 1):
            await tr.step_on(ds.x_train, ds.y_train)
            if i % 3 == 0:
                await tr.check_params()

    asyncio.run(go())
    return tr


def test_divergence_is_detected(tmp_path) -> None:
    tr = _run_checker(tmp_path)  # an honest device passes
    assert weights_hash(tr.gold) == weights_hash(tr.dev.params)
    with pytest.raises(Diverged, match=r"DIVERGED at step 4: outputs H_L\[1, 0\]"):
        _run_checker(tmp_path, bad_output_at=4)
    log = json.loads((tmp_path / "log.json").read_text())
    assert log["status"] == "diverged" and log["diverged"] == {"network": "xor", "step": 4}
    # A one-LSB master error at step 5: found at the check after step 6, naming steps 4..6 (or earlier
    # through the outputs of step 6, which already use the wrong weight's Q8.8 copy only if it rounds).
    with pytest.raises(Diverged, match=r"DIVERGED at step 6: (master W1\[0, 1\].*steps 4\.\.6|outputs)"):
        _run_checker(tmp_path, bad_weight_at=5)
