#!/usr/bin/env python3
"""Bring your own model: run an ONNX MLP on the simulated Systole chip (docs/onnx.md).

    scripts/systole.py run MODEL.onnx --input X.npy [--labels Y.npy] [--sim verilator|icarus]
                           [--array-size 8] [--batch N] [--limit N] [--out out/systole]
    scripts/systole.py check MODEL.onnx [--array-size 8] [--batch N]     # import and fit only, no simulator
    scripts/systole.py example [--out out/onnx] [--hidden 32]            # an skl2onnx digits MLP to run

`run` imports the model (models/onnx_io.py), compiles it for a P x P tpu_top with the default memories,
runs every input row on the simulated chip through the host driver (AXI4-Lite CSRs, AXI4 DMA), then prints
the graph's outputs (the host runs Softmax / ArgMax / the label tail), the hardware counters, and the
agreement: chip == golden model bit for bit, chip against onnxruntime's float32 outputs within the
documented bound, predictions and (with --labels) accuracy. out/systole/result.json has the numbers.
Exit 0 when the chip is bit exact and within the bound, 1 when not (or the simulation failed), 2 for bad
options or a model that does not map (a one-line error naming the option or the ONNX node).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from models.fixed_point import to_float  # noqa: E402
from models.isa import ACC_DEPTH, IMEM_DEPTH, UB_DEPTH, WM_DEPTH  # noqa: E402
from tb.common.tools import ROOT  # noqa: E402

PROG = "systole.py"
SIMULATORS = ("icarus", "verilator")  # tb.common.runner.SIMULATORS (imported late: it needs cocotb)
DEFAULT_BATCH = 32
MAX_P = 16
PROLOGUE = 16  # IMEM words the driver adds around a compiled program (SETH, DMA IN / OUT, HALT)
DEPTHS = {"imem_depth": IMEM_DEPTH - PROLOGUE, "ub_depth": UB_DEPTH, "wm_depth": WM_DEPTH,
          "acc_depth": ACC_DEPTH}  # tpu_top's default memories (rtl/tpu_pkg.sv), as the demo builds it


class UsageError(Exception):
    """Bad options or input files: one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        raise UsageError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=Parser)
    r = sub.add_parser("run", help="run an ONNX MLP on the simulated chip and compare with onnxruntime")
    r.add_argument("model", type=Path, help="the .onnx file")
    r.add_argument("--input", type=Path, required=True, help=".npy of float inputs [n, features...]")
    r.add_argument("--labels", type=Path, help=".npy of integer labels [n] (accuracy)")
    r.add_argument("--sim", default="verilator", help="icarus or verilator (default verilator)")
    r.add_argument("--array-size", default="8", help="P of the P x P array (default 8)")
    r.add_argument("--batch", default="",
                   help=f"rows per run (default: min({DEFAULT_BATCH}, n), halved until the network fits)")
    r.add_argument("--limit", default="", help="use only the first N rows of the input")
    r.add_argument("--out", type=Path, default=ROOT / "out" / "systole", help="output folder")
    c = sub.add_parser("check", help="import the model and check it fits the chip (no simulator)")
    c.add_argument("model", type=Path)
    c.add_argument("--array-size", default="8")
    c.add_argument("--batch", default=str(DEFAULT_BATCH))
    e = sub.add_parser("example", help="train and export an sklearn digits MLP with skl2onnx")
    e.add_argument("--out", type=Path, default=ROOT / "out" / "onnx")
    e.add_argument("--hidden", default="32")
    return ap.parse_args(argv)


def _int(value: str, option: str, lo: int, hi: int | None = None) -> int:
    try:
        v = int(value)
    except ValueError:
        raise UsageError(f"{option}: expected an integer, got {value!r}") from None
    if v < lo or (hi is not None and v > hi):
        raise UsageError(f"{option}: {v} is outside {lo}..{hi if hi is not None else 'inf'}")
    return v


def _npy(path: Path, option: str) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"{option}: no such file {str(path)!r}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise UsageError(f"{option}: {str(path)!r} is not a .npy array ({str(e).splitlines()[0]})") from None


def load_model(path: Path):
    """ImportedMlp of the file, or UsageError naming the file and the node."""
    from models.onnx_io import OnnxImportError, import_onnx

    if not path.is_file():
        raise UsageError(f"MODEL: no such file {str(path)!r}")
    try:
        return import_onnx(path)
    except OnnxImportError as e:
        raise UsageError(f"{path.name}: {e}") from None
    except Exception as e:  # a file that is not ONNX at all (protobuf's DecodeError and friends)
        raise UsageError(f"{path.name}: not an ONNX model ({type(e).__name__}: {str(e).splitlines()[0]})") \
            from None


def compile_for(net, P: int, batch: int):
    """The inference program for tpu_top's default memories; UsageError naming the node that does not fit."""
    from models.onnx_io import OnnxImportError

    try:
        return net.compile(P=P, batch=batch, **DEPTHS)
    except OnnxImportError as e:
        raise UsageError(str(e)) from None


def pick_batch(net, P: int, batch: int, n: int) -> int:
    """`batch` if given (it must fit), else the largest of min(32, n), halved down to 1, that fits."""
    if batch:
        compile_for(net, P, batch)
        return batch
    b = min(DEFAULT_BATCH, n)
    while True:
        try:
            compile_for(net, P, b)
            return b
        except UsageError:
            if b == 1:
                raise
            b = max(1, b // 2)


# ---- the simulation ---------------------------------------------------------------------------------

def run_on_chip(jobs: list[tuple[object, np.ndarray, int]], sim: str, P: int, out: Path) -> list[dict]:
    """One simulation of tpu_top (P, default memories) running every (ImportedMlp, input codes, batch) job;
    returns per job {"outputs": codes, "counters": {...}, "instructions", "simulator", "wall_s"}."""
    from demo import DemoConfig, toplevel  # scripts/demo.py: the same toplevel and sources as make demo

    from tb.common import runner

    out.mkdir(parents=True, exist_ok=True)
    spec = []
    for i, (net, xq, batch) in enumerate(jobs):
        arrays = {f"W{k}": w for k, (w, _) in enumerate(net.params())}
        arrays |= {f"b{k}": b for k, (_, b) in enumerate(net.params())}
        npz, res = out / f"job{i}.npz", out / f"job{i}.out.npz"
        np.savez(npz, sizes=net.sizes, acts=np.array(net.acts), slope=net.slope, batch=batch, x=xq, **arrays)
        res.unlink(missing_ok=True)
        spec.append({"npz": str(npz), "out": str(res)})
    env = {"ONNX_JOBS": json.dumps(spec),
           "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
           "GPI_LOG_LEVEL": os.environ.get("GPI_LOG_LEVEL", "WARNING"),
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}  # cocotbext-axi's, at every first transfer
    top, sources = toplevel(DemoConfig(array_size=P, sim=sim, transport="axi"))
    t0 = time.time()
    runner.run(sim, top, "tb.onnx.onnx_bench", sources, {"P": P}, testcase="onnx_infer", extra_env=env)
    results = []
    for s in spec:
        d = np.load(s["out"])
        results.append({"outputs": d["outputs"], "counters": json.loads(str(d["counters"])),
                        "instructions": int(d["instructions"]), "simulator": str(d["simulator"]),
                        "wall_s": time.time() - t0})
    return results


# ---- the report -------------------------------------------------------------------------------------

def compare(net, x: np.ndarray, chip: np.ndarray, labels: np.ndarray | None) -> dict:
    """Golden model and onnxruntime against the chip's outputs (codes): the numbers of the report."""
    from models.onnx_io import agreement, run_onnxruntime

    xq = net.quantize_input(x)
    gold = net.golden(xq)
    ref = run_onnxruntime(net.model, x, [net.logits])
    r = agreement(net, x, chip, ref, labels)
    r["golden_mismatches"] = int((chip != gold).sum())
    r["bit_exact"] = r["golden_mismatches"] == 0 and chip.shape == gold.shape
    r["ok"] = r["bit_exact"] and r["exceeding_bound"] == 0 and r["unexplained_disagreements"] == 0
    return r


def report(net, name: str, r: dict, run: dict, P: int, batch: int) -> str:
    """The table printed by `run`: outputs / predictions, counters, agreement."""
    c, n = run["counters"], r["samples"]
    chip_out = net.host_outputs(run["outputs"])
    lines = [f"[systole] {name}: {'-'.join(map(str, net.sizes))} ({', '.join(net.acts)}), {n} samples, "
             f"batch {batch}, P={P}, {run['simulator']}, {run['instructions']} instructions per run"]
    shown = min(n, 12)
    for who, key in (("chip       ", "predictions_chip"), ("onnxruntime", "predictions_onnxruntime")):
        lines.append(f"predictions (first {shown}), {who}: {' '.join(map(str, r[key][:shown]))}")
    for o in net.outputs:
        v = chip_out[o]
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            lines.append(f"output {o!r} row 0: {np.array2string(v[0], precision=4, max_line_width=100)}")
    cyc = c["cycles"]
    util = 100 * c["rows"] / cyc
    lines.append("hardware counters (summed over runs): "
                 f"runs {c['runs']}, cycles {cyc:,}, array busy {c['rows']:,} ({util:.1f}%), "
                 f"MACs {c['macs']:,}, weight stalls {c['wstall']}, DMA bytes {c['dma_bytes']:,}, "
                 f"DMA stalls {c['dma_stall']}, {cyc / n:.1f} cycles/sample")
    exact = "bit exact" if r["bit_exact"] else f"DIFFERS in {r['golden_mismatches']} codes"
    lines.append(f"chip vs golden model (models.train_ref.forward): {exact} ({n}x{net.sizes[-1]} codes)")
    lines.append(f"chip vs onnxruntime at {net.logits!r}: max |error| {r['max_abs_error']:.6f}, bound "
                 f"{r['max_bound']:.6f} (docs/onnx.md), {r['exceeding_bound']} elements above it"
                 + (f", {r['saturated_samples']} samples saturated on chip (no bound)"
                    if r["saturated_samples"] else ""))
    for o, a in r["outputs"].items():
        if a["kind"] == "float":
            lines.append(f"  output {o!r}: max |error| {a['max_abs_error']:.6f} (bound {a['bound']:.6f})")
        else:
            lines.append(f"  output {o!r}: {100 * a['agreement']:.1f}% identical")
    acc = ""
    if "accuracy_chip" in r:
        acc = (f"; accuracy chip {100 * r['accuracy_chip']:.2f}%, onnxruntime "
               f"{100 * r['accuracy_onnxruntime']:.2f}%")
    lines.append(f"predictions: {100 * r['prediction_agreement']:.1f}% identical to onnxruntime's "
                 f"({r['unexplained_disagreements']} differences not explained by a margin within the bound)"
                 f"{acc}")
    lines.append("agreement: OK" if r["ok"] else "agreement: FAILED")
    return "\n".join(lines)


def _jsonable(r: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items()}


# ---- commands -----------------------------------------------------------------------------------------

def cmd_run(a: argparse.Namespace) -> int:
    if a.sim not in SIMULATORS:
        raise UsageError(f"--sim: {a.sim!r} is not one of {', '.join(SIMULATORS)}")
    P = _int(a.array_size, "--array-size", 1, MAX_P)
    x = _npy(a.input, "--input")
    if a.limit:
        x = x[:_int(a.limit, "--limit", 1)]
    labels = _npy(a.labels, "--labels") if a.labels else None
    net = load_model(a.model)
    try:
        xq = net.quantize_input(x, "--input")
    except ValueError as e:
        raise UsageError(str(e)) from None
    n = len(xq)
    if n == 0:
        raise UsageError(f"--input: {str(a.input)!r} has no rows")
    if labels is not None:
        labels = labels.reshape(-1)[: n] if a.limit else labels.reshape(-1)
        if len(labels) != n or labels.dtype.kind not in "iu":
            raise UsageError(f"--labels: need {n} integer labels, got {labels.shape} {labels.dtype}")
    batch = pick_batch(net, P, _int(a.batch, "--batch", 1) if a.batch else 0, n)
    print(net.describe(), flush=True)
    print(f"[systole] running {n} samples on tpu_top P={P} ({a.sim}; the first run builds the model) ...",
          flush=True)
    try:
        run = run_on_chip([(net, xq, batch)], a.sim, P, a.out)[0]
    except AssertionError as e:
        print(f"{PROG}: simulation failed: {e}", file=sys.stderr)
        return 1
    r = compare(net, x, run["outputs"], labels)  # onnxruntime sees the user's own values and shape
    print(report(net, a.model.name, r, run, P, batch), flush=True)
    res = {"model": str(a.model), "sizes": net.sizes, "acts": net.acts, "P": P, "batch": batch,
           "simulator": run["simulator"], "counters": run["counters"], **_jsonable(r)}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "result.json").write_text(json.dumps(res, indent=1) + "\n")
    np.save(a.out / "outputs.npy", to_float(run["outputs"]))
    print(f"[systole] results in {a.out}/result.json, chip outputs in {a.out}/outputs.npy")
    return 0 if r["ok"] else 1


def cmd_check(a: argparse.Namespace) -> int:
    P = _int(a.array_size, "--array-size", 1, MAX_P)
    batch = _int(a.batch, "--batch", 1)
    net = load_model(a.model)
    m = compile_for(net, P, batch)
    print(net.describe())
    lay = m.layout
    print(f"fits P={P}, batch {batch}: {len(m.words)} instructions, UB {lay.ub_words}/{DEPTHS['ub_depth']}, "
          f"WMEM {lay.wm_words}/{DEPTHS['wm_depth']}, ACC {lay.acc_words}/{DEPTHS['acc_depth']} words")
    return 0


def cmd_example(a: argparse.Namespace) -> int:
    import onnx

    from models.onnx_examples import digits_float, sklearn_digits

    hidden = _int(a.hidden, "--hidden", 1, 256)
    model, clf, ds = sklearn_digits(hidden=hidden)
    _, _, x_test = digits_float()
    a.out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(a.out / "digits_mlp.onnx"))
    np.save(a.out / "digits_x.npy", x_test)
    np.save(a.out / "digits_labels.npy", ds.labels_test)
    print(f"sklearn MLPClassifier 64-{hidden}-10 (relu) on the bundled digits: held-out accuracy "
          f"{100 * clf.score(x_test, ds.labels_test):.2f}%; skl2onnx export in {a.out}/digits_mlp.onnx, "
          f"{len(x_test)} held-out images in digits_x.npy, labels in digits_labels.npy")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        a = parse_args(argv)
        return {"run": cmd_run, "check": cmd_check, "example": cmd_example}[a.cmd](a)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
