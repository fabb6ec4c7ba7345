#!/usr/bin/env python3
"""make demo: train XOR and the 8x8 digits MLP entirely on the simulated TPU, end to end.

    scripts/demo.py [--epochs 4] [--batch 32] [--hidden 32] [--lr 0.15] [--seed 0] [--array-size 8]
                    [--sim verilator|icarus] [--transport axi|core] [--waves/--no-waves] [--out out/demo]

1. XOR 2-2-1 trains on chip (loss per epoch, final predictions).
2. Digits 64-<hidden>-10 trains on chip; progress lines while it runs; held-out accuracy of the chip next
   to the golden model's (models.train_ref, trained independently from the same start on the same
   batches: must be identical, and so must every final master weight) and a float32 model's.
3. Outputs in --out (docs/demo.md): demo_log.json, training.png, digits.png, perf.json, perf.txt and, with
   --waves, one training step as step.fst + step.gtkw.
Exit status 0 only when every chip result equals the golden model's; a divergence names the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from cli import Parser, UsageError, check, is_pow2, usage_exit  # noqa: E402

from tb.common import runner  # noqa: E402
from tb.common.core_env import CORE_SOURCES  # noqa: E402
from tb.common.tools import ROOT, rtl_sources  # noqa: E402

LOG_NAME = "demo_log.json"
GTKW = ROOT / "tb" / "demo" / "demo.gtkw"  # gtkw_layout() of the default run's trace (tpu_top, P = 8)


@dataclass
class DemoConfig:
    """Every knob of the demo (defaults: docs/training.md's digits configuration, >= 90% held out)."""

    epochs: int = 4
    batch: int = 32
    hidden: int = 32
    lr: float = 0.15
    seed: int = 0
    array_size: int = 8
    sim: str = "verilator"
    transport: str = "axi"  # axi: tpu_top, AXI4-Lite CSRs + AXI4 DMA; core: tpu_core's host port
    waves: bool = True
    waves_sim: str = ""  # "": the same simulator as the main run
    out: Path = field(default_factory=lambda: ROOT / "out" / "demo")
    xor_epochs: int = 150
    train_limit: int = 0  # 0: the whole split (1347 train / 450 held-out images)
    test_limit: int = 0

    def bench_config(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


class DemoFailed(RuntimeError):
    """The simulation failed or the chip diverged from the golden model."""


def parse_args(argv: list[str] | None = None) -> DemoConfig:
    d = DemoConfig()
    ap = Parser(prog="demo.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=d.epochs, help="digits epochs (default %(default)s)")
    ap.add_argument("--batch", type=int, default=d.batch, help="digits batch size (default %(default)s)")
    ap.add_argument("--hidden", type=int, default=d.hidden, help="digits hidden units (default %(default)s)")
    ap.add_argument("--lr", type=float, default=d.lr, help="digits learning rate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=d.seed,
                    help="digits weight init seed; shuffling uses seed+1 (default %(default)s)")
    ap.add_argument("--array-size", type=int, default=d.array_size, help="P of the PxP array (default 8)")
    ap.add_argument("--sim", default=d.sim, choices=runner.SIMULATORS, help="simulator (default %(default)s)")
    ap.add_argument("--transport", default=d.transport, choices=("axi", "core"),
                    help="axi: tpu_top with CSRs over AXI4-Lite and data by DMA (default); "
                         "core: tpu_core's word-wide host port")
    ap.add_argument("--waves", action=argparse.BooleanOptionalAction, default=d.waves,
                    help="also record one training step as an FST (a separate short run; default on)")
    ap.add_argument("--waves-sim", default=d.waves_sim, choices=runner.SIMULATORS,
                    help="simulator of the waveform run (default: --sim)")
    ap.add_argument("--out", type=Path, default=d.out, help="output folder (default out/demo)")
    ap.add_argument("--xor-epochs", type=int, default=d.xor_epochs, help="XOR epochs (default %(default)s)")
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--test-limit", type=int, default=0, help="use only the first N held-out images")
    a = ap.parse_args(argv)
    return DemoConfig(a.epochs, a.batch, a.hidden, a.lr, a.seed, a.array_size, a.sim, a.transport, a.waves,
                      a.waves_sim, a.out.resolve(), a.xor_epochs, a.train_limit, a.test_limit)


MAX_P = 16  # the largest P the demo offers (tested: 2, 4, 8)


def _fits(cfg: DemoConfig, hidden: int, batch: int) -> str:
    """'' when the digits network compiles for the chip's memories (train and infer), else the reason."""
    from models.isa import IMEM_DEPTH
    from models.mlp import compile_mlp
    from tb.demo.demo_bench import AXI_IMEM_RESERVE, DIGITS_ACTS

    imem = IMEM_DEPTH - (AXI_IMEM_RESERVE if cfg.transport == "axi" else 0)
    try:
        for mode in ("train", "infer"):
            compile_mlp([64, hidden, 10], DIGITS_ACTS, batch, cfg.lr if mode == "train" else 0.0,
                        cfg.array_size, mode, imem_depth=imem)
    except ValueError as e:
        return str(e)
    return ""


def _largest(ok, hi: int) -> int:
    """The largest n in 1..hi with ok(n) (ok monotone, ok(1) true)."""
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def validate(cfg: DemoConfig) -> None:
    """Refuse a configuration that cannot run, before anything is built (raises UsageError)."""
    from models.mlp import loss_scale_code

    for opt, v in (("--epochs", cfg.epochs), ("--xor-epochs", cfg.xor_epochs), ("--seed", cfg.seed),
                   ("--train-limit", cfg.train_limit), ("--test-limit", cfg.test_limit)):
        check(v >= 0, opt, v, "an integer >= 0")
    check(cfg.epochs + cfg.xor_epochs > 0, "--epochs", cfg.epochs,
          "an integer >= 1 when --xor-epochs is 0 (otherwise nothing trains)")
    check(cfg.batch >= 1, "--batch", cfg.batch, "an integer >= 1")
    check(cfg.hidden >= 1, "--hidden", cfg.hidden, "an integer >= 1")
    P = cfg.array_size
    if cfg.transport == "axi":
        check(2 <= P <= MAX_P and is_pow2(P), "--array-size", P,
              f"a power of two from 2 to {MAX_P} (the DMA moves power-of-two memory words; "
              "--transport core takes any P)")
    else:
        check(2 <= P <= MAX_P, "--array-size", P, f"an integer from 2 to {MAX_P}")
    check(cfg.lr > 0, "--lr", cfg.lr, "a learning rate > 0")
    try:
        loss_scale_code(cfg.lr, cfg.batch)
    except ValueError as e:
        raise UsageError("--lr", cfg.lr, f"a learning rate with 2^-15 <= lr*2/batch < 0.5 ({e})") from None
    if cfg.epochs > 0 or cfg.waves:
        from models.datasets import digits  # scikit-learn: imported only here

        n_train = cfg.train_limit or len(digits(0).x_train)
        check(cfg.batch <= n_train, "--batch", cfg.batch,
              f"1..{n_train} (at most the {n_train} training images)")
        why = _fits(cfg, cfg.hidden, cfg.batch)
        if why and _fits(cfg, 1, cfg.batch):
            top = _largest(lambda b: not _fits(cfg, 1, b), cfg.batch)
            raise UsageError("--batch", cfg.batch, f"1..{top} on P={P} ({why})")
        if why:
            top = _largest(lambda h: not _fits(cfg, h, cfg.batch), cfg.hidden)
            raise UsageError("--hidden", cfg.hidden, f"1..{top} with batch {cfg.batch} on P={P} ({why})")


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def toplevel(cfg: DemoConfig) -> tuple[str, list[Path]]:
    """The HDL toplevel and its sources for the transport (default memory depths: any network fits)."""
    if cfg.transport == "axi":
        return "tpu_top", rtl_sources(*CORE_SOURCES, "tpu_csr", "tpu_dma", "tpu_top")
    return "tpu_core", rtl_sources(*CORE_SOURCES)


def _run_bench(cfg: DemoConfig, sim: str, testcase: str, log_path: Path, waves: bool) -> tuple[dict, Path]:
    """Run one cocotb test of tb/demo/demo_bench.py; returns (its JSON log, its test directory)."""
    env = {"DEMO_CONFIG": json.dumps(cfg.bench_config()), "DEMO_LOG": str(log_path),
           "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
           "GPI_LOG_LEVEL": os.environ.get("GPI_LOG_LEVEL", "WARNING"),
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}  # cocotbext-axi's, at every first transfer
    saved = os.environ.get("WAVES")
    if waves:  # otherwise WAVES stays what the caller set (make waves / WAVES=1 trace the main run too)
        os.environ["WAVES"] = "1"
    log_path.unlink(missing_ok=True)
    try:
        top, sources = toplevel(cfg)
        test_dir = runner.run(sim, top, "tb.demo.demo_bench", sources, {"P": cfg.array_size},
                              testcase=testcase, extra_env=env)
    except AssertionError as e:
        log = json.loads(log_path.read_text()) if log_path.is_file() else {}
        raise DemoFailed(log.get("error") or f"the simulation failed: {e}") from None
    finally:
        if saved is None:
            os.environ.pop("WAVES", None)
        else:
            os.environ["WAVES"] = saved
    return json.loads(log_path.read_text()), test_dir


def simulate(cfg: DemoConfig) -> dict:
    """The main run (XOR, then digits) on cfg.sim; returns the log (also at <out>/demo_log.json)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    log, _ = _run_bench(cfg, cfg.sim, "demo", cfg.out / LOG_NAME, waves=False)
    if log.get("status") != "ok":
        raise DemoFailed(log.get("error") or f"the demo ended with status {log.get('status')!r}")
    return log


# GTKWave layout of the training-step trace: groups of signal bases under the toplevel. A base matches
# the FST's flat vector (Icarus: "x_data_i[127:0]") or its elements (Verilator: "x_data_i.x_data_i[3][15:0]");
# absent ones are left out, so the layout fits either simulator and any P.
AXI_PORTS = [
    "irq_o", "s_axil_awvalid", "s_axil_awready", "s_axil_awaddr", "s_axil_wvalid", "s_axil_wdata",
    "s_axil_arvalid", "s_axil_araddr", "s_axil_rvalid", "s_axil_rdata", "m_axi_arvalid", "m_axi_arready",
    "m_axi_araddr", "m_axi_arlen", "m_axi_rvalid", "m_axi_rready", "m_axi_rlast", "m_axi_rdata",
    "m_axi_awvalid", "m_axi_awready", "m_axi_awaddr", "m_axi_awlen", "m_axi_wvalid", "m_axi_wready",
    "m_axi_wlast", "m_axi_wdata", "m_axi_bvalid"]
CORE_PORTS = [
    "clk_i", "rst_ni", "start_i", "pc_start_i", "busy_o", "done_o", "error_o", "pc_o", "host_req_valid_i",
    "host_req_ready_o", "host_req_we_i", "host_req_mem_i", "host_req_addr_i", "host_rsp_valid_o",
    "host_rsp_err_o", "perf_cycles_o", "perf_rows_o", "perf_macs_o", "perf_wstall_o"]
CORE_GROUPS: list[tuple[str, list[str]]] = [
    ("Core control", [
        "u_ctrl.state_q", "u_ctrl.pc_q", "u_ctrl.fire", "u_ctrl.issue_ldw_o", "u_ctrl.issue_matmul_o",
        "u_ctrl.issue_vec_o", "u_ctrl.issue_ldb_o", "u_ctrl.issue_copy_o", "u_ctrl.dma_req_o",
        "u_ctrl.wstall_o", "u_ctrl.loop_left_q", "wu_idle", "mu_idle", "vu_idle", "cu_idle"]),
    ("Array edges", [
        "u_array.w_valid_i", "u_array.w_last_i", "u_array.w_data_i", "u_array.x_valid_i",
        "u_array.x_switch_i", "u_array.x_data_i", "u_array.y_valid_o", "u_array.y_data_o"]),
    ("ACC write-back", ["acc_we", "acc_waddr"]),
]


def layout_groups(top: str) -> list[tuple[str, list[str]]]:
    """Signal groups of the trace: top-level ports, then the core (under u_core in tpu_top)."""
    if top == "tpu_top":
        core = [(g, [f"u_core.{b}" for b in bases]) for g, bases in CORE_GROUPS]
        return [("Top-level ports (AXI4-Lite CSRs, AXI4 DMA)", ["clk_i", "rst_ni", *AXI_PORTS]),
                ("Core status", [f"u_core.{b}" for b in CORE_PORTS[2:8]]), *core]
    return [("Top-level ports", CORE_PORTS), *CORE_GROUPS]


def _element_key(name: str) -> tuple[int, str]:
    idx = [int(v) for v in re.findall(r"\[(\d+)\]", name.rsplit(".", 1)[-1])]
    return (idx[0] if len(idx) > 1 else -1, name)


def gtkw_layout(signals: set[str], top: str, start_ps: int, title: str) -> str:
    """A GTKWave save file over the LAYOUT signals that `signals` (an FST's names) contains."""
    out = ["[*]", f"[*] Systole demo: {title}",
           "[*] Generated by scripts/demo.py from the trace's signal list.", "[*]", f"[timestart] {start_ps}",
           "[size] 1600 1000", "[pos] -1 -1", "[sst_width] 260", "[signals_width] 360",
           "[sst_expanded] 1", "[sst_vpaned_height] 300"]
    for group, bases in layout_groups(top):
        rows = []
        for base in bases:
            full = f"{top}.{base}"
            flat = sorted(s for s in signals if s == full or s.startswith(full + "["))
            parts = sorted((s for s in signals if s.startswith(full + ".")), key=_element_key)
            for name in flat or parts:
                width = re.search(r"\[(\d+):(\d+)\]$", name)
                bits = int(width.group(1)) - int(width.group(2)) + 1 if width else 1
                if bits == 1:
                    fmt = "@28"  # binary
                elif "perf_" in base:
                    fmt = "@24"  # unsigned decimal
                else:
                    fmt = "@22" if bits > 32 else "@420"  # hex for wide words, signed decimal otherwise
                rows += [fmt, name]
        if rows:
            out += ["@800200", f"-{group}", *rows, "@1000200", f"-{group}"]
    return "\n".join(out) + "\n"


def record_waves(cfg: DemoConfig) -> tuple[Path, Path, dict]:
    """A separate short run of one digits training step with FST tracing; (fst, gtkw, its log)."""
    from waves import check, fst_signals  # scripts/waves.py: reads FST signal names with fst2vcd

    sim = cfg.waves_sim or cfg.sim
    since = time.time() - 1
    log, test_dir = _run_bench(cfg, sim, "one_training_step", cfg.out / "step_log.json", waves=True)
    found = [f for f in (*test_dir.parent.glob("*.fst"), *test_dir.glob("*.fst"))
             if f.stat().st_mtime >= since]
    if not found:
        raise DemoFailed(f"the waveform run wrote no FST under {_rel(test_dir.parent)}")
    fst = cfg.out / "step.fst"
    shutil.copyfile(max(found, key=lambda f: f.stat().st_mtime), fst)
    gtkw = cfg.out / "step.gtkw"
    start_ps = int(log["waves"]["step_start_ns"] * 1000)
    title = (f"one digits training step, P={cfg.array_size}, {sim}; the step's batch load starts at "
             f"{log['waves']['step_start_ns']:.0f} ns, its run ends by {log['waves']['step_end_ns']:.0f} ns")
    top = toplevel(cfg)[0]
    # The checked-in layout (the default run's) when it fits the trace; otherwise one made for this trace.
    if top == "tpu_top" and GTKW.is_file() and not check(fst, GTKW):
        text = GTKW.read_text()
        gtkw.write_text(re.sub(r"\[timestart\] \d+", f"[timestart] {start_ps}", text, count=1))
    else:
        gtkw.write_text(gtkw_layout(fst_signals(fst), top, start_ps, title))
    missing = check(fst, gtkw)
    if missing:
        raise DemoFailed(f"{gtkw.name} names signals the trace lacks, e.g. {missing[0]}")
    return fst, gtkw, log


# ---- performance summary ------------------------------------------------------------------------

def perf_entry(c: dict, samples: int, P: int, transport: str) -> dict:
    """Counters of one workload -> the summary's numbers (rates are per cycle of the core's runs)."""
    cyc = c["cycles"]
    moved = c.get("dma_bytes", c["bytes_in"] + c["bytes_out"])  # the hardware counter when there is a DMA
    extra = {"dma_bytes": c["dma_bytes"], "dma_stall_cycles": c["dma_stall"]} if "dma_bytes" in c else {}
    return {
        "runs": c["runs"], "cycles": cyc, "array_busy_cycles": c["rows"], "macs": c["macs"],
        "weight_stall_cycles": c["wstall"], "samples": samples,
        "utilization": c["rows"] / cyc if cyc else 0.0,
        "macs_per_cycle": c["macs"] / cyc if cyc else 0.0, "peak_macs_per_cycle": P * P,
        "cycles_per_sample": cyc / samples if samples else 0.0,
        "transport": transport, "bytes_in": c["bytes_in"], "bytes_out": c["bytes_out"],
        "bytes_per_cycle": moved / cyc if cyc else 0.0, **extra,
    }


def perf_summary(log: dict) -> dict:
    P, tr = log["P"], log["transport"]
    out: dict = {"simulator": log["simulator"], "P": P, "transport": tr, "workloads": {}}
    if "xor" in log:
        x = log["xor"]
        out["workloads"]["xor_train"] = perf_entry(x["counters"], 4 * x["steps"], P, tr)
    if "digits" in log and "counters_train" in log["digits"]:
        d = log["digits"]
        w = perf_entry(d["counters_train"], d["batch"] * d["steps"], P, tr)
        w["cycles_per_step"] = w["cycles"] / d["steps"]
        w["model_cycles_per_step"] = d["model_cycles_per_step"]
        out["workloads"]["digits_train"] = w
        out["workloads"]["digits_infer"] = perf_entry(d["counters_infer"], d["test_samples"] * d["epochs"],
                                                      P, tr)
    return out


def perf_text(perf: dict) -> str:
    tr = perf["transport"]
    how = "data moved by the AXI DMA" if tr == "axi-dma" else f"data moved over the {tr}"
    lines = [f"Systole performance summary (hardware counters), P={perf['P']}, {perf['simulator']}, {how}"]
    head = (f"{'workload':14} {'runs':>5} {'cycles':>11} {'util':>6} {'MAC/cyc':>8} {'cyc/sample':>10} "
            f"{'wstall':>7} {'bytes in':>10} {'bytes out':>10} {'B/cycle':>8}")
    lines += [head, "-" * len(head)]
    for name, w in perf["workloads"].items():
        lines.append(f"{name:14} {w['runs']:>5} {w['cycles']:>11,} {100 * w['utilization']:>5.1f}% "
                     f"{w['macs_per_cycle']:>8.2f} {w['cycles_per_sample']:>10.1f} "
                     f"{w['weight_stall_cycles']:>7} "
                     f"{w['bytes_in']:>10,} {w['bytes_out']:>10,} {w['bytes_per_cycle']:>8.3f}")
    d = perf["workloads"].get("digits_train")
    if d:
        lines.append(f"digits step: {d['cycles_per_step']:.0f} cycles measured, "
                     f"{d['model_cycles_per_step']} by the planning model (models.mlp.estimate_cycles)")
    lines.append("util = array-busy cycles / cycles; B/cycle = bytes moved to and from the chip per cycle of "
                 "its runs (host-port transfers happen while the core is stopped)" if tr == "host-port" else
                 "util = ARRAY_BUSY / CYCLES; B/cycle = DMA_BYTES / CYCLES (CSR counters; a run's CYCLES and "
                 "DMA_BYTES include the DMA fetch of its program, its batch in and its outputs out)")
    return "\n".join(lines) + "\n"


def export_onnx(cfg: DemoConfig, log: dict) -> tuple[Path, Path]:
    """The trained digits network as out/digits.onnx, checked with onnxruntime (docs/onnx.md); onnx.json."""
    from models.onnx_examples import export_demo_digits

    info = export_demo_digits(cfg.out / "digits_masters.npz", cfg.out, log["digits"]["test_predictions"],
                              test_limit=cfg.test_limit)
    path = cfg.out / "onnx.json"
    path.write_text(json.dumps(info, indent=1) + "\n")
    if info["exceeding_bound"] or info["saturated_samples"] or info["unexplained_disagreements"]:
        raise DemoFailed(f"onnxruntime on {info['file']} disagrees with the chip beyond the bound: {info}")
    return Path(info["file"]), path


def write_outputs(cfg: DemoConfig, log: dict) -> dict[str, Path]:
    """Plots, digit samples and the performance summary from the log; returns what was written."""
    from plots import digits_grid, training_plot  # matplotlib: imported only here (a bad option exits fast)

    files: dict[str, Path] = {"log": cfg.out / LOG_NAME}
    files["training_plot"] = training_plot(log, cfg.out / "training.png")
    if "digits" in log and "test_predictions" in log["digits"]:
        from models.datasets import digits  # scikit-learn: imported only here
        from models.fixed_point import to_float

        x_test = to_float(digits(0).x_test)
        files["digits_plot"] = digits_grid(log, x_test, cfg.out / "digits.png")
        files["onnx"], files["onnx_json"] = export_onnx(cfg, log)
    perf = perf_summary(log)
    files["perf_json"] = cfg.out / "perf.json"
    files["perf_json"].write_text(json.dumps(perf, indent=2) + "\n")
    files["perf_txt"] = cfg.out / "perf.txt"
    files["perf_txt"].write_text(perf_text(perf))
    return files


def summary(cfg: DemoConfig, log: dict, files: dict[str, Path], wall: float) -> str:
    lines = ["", "=" * 100, "Systole demo: summary"]
    if "xor" in log:
        x = log["xor"]
        preds = ", ".join(f"{int(r['x'][0])}^{int(r['x'][1])}->{r['pred']}" for r in x["predictions"])
        lines.append(f"XOR 2-2-1      : {x['epochs']} epochs, final loss {x['loss'][-1]:.5f}, accuracy "
                     f"{100 * x['final_accuracy']:.0f}% ({preds}); final weights chip == golden "
                     f"({x['weights_hash_chip']})")
    if "digits" in log and "test_accuracy_chip" in log["digits"]:
        d = log["digits"]
        lines.append(f"digits {'-'.join(map(str, d['sizes']))}: {d['epochs']} epochs, {d['steps']} steps "
                     f"on chip; "
                     f"held-out accuracy chip {100 * d['test_accuracy_chip']:.1f}%, golden model "
                     f"{100 * d['test_accuracy_golden']:.1f}% (identical), float32 "
                     f"{100 * d['test_accuracy_float32']:.1f}%")
        lines.append(f"                 final weights chip == golden bit for bit ({d['weights_hash_chip']})")
        if "onnx_json" in files:
            o = json.loads(files["onnx_json"].read_text())
            lines.append(f"                 exported to {_rel(files['onnx'])}: onnxruntime held-out accuracy "
                         f"{100 * o['accuracy_onnxruntime']:.1f}% (chip {100 * o['accuracy_chip']:.1f}%), "
                         f"max |error| {o['max_abs_error']:.4f} <= bound {o['max_bound']:.4f}")
    lines.append(perf_text(perf_summary(log)).rstrip())
    lines.append(f"outputs in {_rel(cfg.out)}/: " + ", ".join(p.name for p in files.values()))
    if "fst" in files:
        lines.append(f"one training step: gtkwave {_rel(files['fst'])} {_rel(files['gtkw'])}")
    if "step_timeline" in files:
        lines.append(f"its unit timeline: {_rel(files['step_timeline'])} (Perfetto: "
                     f"{_rel(files['step_perfetto'])}, ui.perfetto.dev); roofline: {_rel(files['roofline'])}")
    else:
        lines.append("unit timeline and roofline: make viz draws them (out/viz/, docs/viz.md)")
    if "digits" in log and "cpu_s" in log["digits"]:
        d = log["digits"]
        cyc = d["counters_train"]["cycles"] + d["counters_infer"]["cycles"]
        lines.append(f"digits loop: {cyc:,} chip cycles (training and held-out inference) in "
                     f"{d['wall_s']:.1f} s wall, {d['cpu_s']:.1f} s CPU: "
                     f"{cyc / d['wall_s']:,.0f} cycles per wall second, "
                     f"{cyc / max(d['cpu_s'], 1e-9):,.0f} per CPU second")
    lines.append(f"demo wall time {wall:.1f} s ({log['simulator']}, P={log['P']})")
    lines.append("=" * 100)
    return "\n".join(lines)


def draw_pictures(cfg: DemoConfig, fst: Path, wlog: dict) -> dict[str, Path]:
    """Pictures 3 and 4 of make viz (docs/viz.md) for this run: the training step's unit timeline from its
    trace, checked against its counters, and the roofline of perf.json (+ out/bench.json if present)."""
    import viz  # scripts/viz.py
    import vizfigs

    from tb.viz.trace import Trace

    w = wlog["waves"]
    sizes = f"64-{cfg.hidden}-10"
    cap = (f"make demo: one digits {sizes} training step (batch {cfg.batch}) on tpu_top P={cfg.array_size}, "
           f"{cfg.waves_sim or cfg.sim} trace: {w['counters']['cycles']:,} cycles")
    try:
        png, js, _ = viz.draw_step(fst, w["step_start_ns"], w["step_end_ns"], w["counters"], cfg.array_size,
                                   cap, cfg.out)
    except ValueError as e:
        raise DemoFailed(str(e)) from None
    pts = viz.demo_points(cfg.out / "perf.json")
    bench_json = ROOT / "out" / "bench.json"
    if bench_json.is_file():
        pts += viz.bench_points(bench_json)
    src = " and out/bench.json" if bench_json.is_file() else " (make bench adds the GEMM points)"
    bus = Trace(fst).width("tpu_top.m_axi_wstrb")  # bytes per beat
    cap = f"roofline: make demo's digits workloads{src}"
    roof = vizfigs.roofline(pts, bus, cap, cfg.out / "roofline.png")
    return {"step_timeline": png, "step_perfetto": js, "roofline": roof}


def run_demo(cfg: DemoConfig) -> tuple[dict, dict[str, Path], str]:
    """The whole demo; returns (log, files, summary). Raises DemoFailed."""
    t0 = time.time()
    print(f"[demo] simulator {cfg.sim}, P={cfg.array_size}, outputs in {_rel(cfg.out)}/ "
          f"(building the model on first use)", flush=True)
    log = simulate(cfg)
    files = write_outputs(cfg, log)
    if cfg.waves:
        print(f"[demo] recording one training step with FST tracing on {cfg.waves_sim or cfg.sim} ...",
              flush=True)
        fst, gtkw, wlog = record_waves(cfg)
        files.update(fst=fst, gtkw=gtkw)
        if cfg.transport == "axi":
            files.update(draw_pictures(cfg, fst, wlog))
    text = summary(cfg, log, files, time.time() - t0)
    return log, files, text


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        validate(cfg)
    except UsageError as e:
        return usage_exit("demo.py", e)
    try:
        _, _, text = run_demo(cfg)
    except DemoFailed as e:
        print(f"\n[demo] FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
