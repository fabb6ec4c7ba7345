"""The demo inside the simulator (run by scripts/demo.py through tb.common.runner, not collected by pytest).

Cocotb tests:
* demo               XOR 2-2-1, then the 8x8 digits MLP, trained entirely on chip. Next to the chip, the
                     golden model (models.train_ref) trains independently from the same initialization on
                     the same batches, and a float32 model (models.float_ref) too. After every step the
                     chip's outputs must equal the golden model's bit for bit; after every epoch (and at
                     the end) every Q8.24 master read back from the chip must equal the golden model's.
                     Any difference fails the run naming the first step that diverged.
* one_training_step  loads the digits network and runs exactly one checked training step (for the FST).

The toplevel is tpu_top (transport "axi": tb.demo.device.AxiDevice) or tpu_core ("core": CoreDevice).
Configuration: DEMO_CONFIG (JSON, see scripts/demo.py `DemoConfig`); the JSON log goes to DEMO_LOG.
Progress lines are printed (flushed) as they happen; cocotb's own logging is left to COCOTB_LOG_LEVEL.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from pathlib import Path

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from models import float_ref
from models.datasets import Dataset, batches, xor
from models.fixed_point import FRAC_W, to_float
from models.mlp import DEFAULT_SLOPE, CompiledMlp, Params, compile_mlp, estimate_cycles
from models.train_ref import TrainConfig, accuracy, forward, init_params, params_to_float, train_step
from tb.common.core_env import CoreEnv
from tb.common.data import digits
from tb.common.tb_base import TbBase
from tb.demo.device import AxiDevice, CoreDevice, Device

XOR_SIZES, XOR_ACTS, XOR_LR, XOR_SEED = [2, 2, 1], ["leaky", "identity"], 0.25, 2
DIGITS_ACTS = ["leaky", "identity"]
DIGITS_INIT_SCALE = 0.5
SLOPE = DEFAULT_SLOPE / (1 << FRAC_W)
HOST_SIZE = 1 << 20  # bytes of host memory behind the DMA (HostRam)
AXI_IMEM_RESERVE = 16  # IMEM words kept free over AXI for the SETH / DMA prologue and epilogue


class Chip:
    """The simulated TPU as the demo sees it: P, memory depths, and a Device per compiled network."""

    def __init__(self, dut, transport: str) -> None:
        self.dut, self.transport = dut, transport

    async def start(self) -> None:
        if self.transport == "core":
            self.env = CoreEnv(self.dut)
            await self.env.reset()
            e = self.env
            self.P, self.depths = e.P, {"imem_depth": e.imem_depth, "ub_depth": e.ub_depth,
                                        "wm_depth": e.wm_depth, "acc_depth": e.acc_depth}
        elif self.transport == "axi":
            from tb.common.axi import HostRam
            from tb.common.driver import TpuDriver
            from tb.common.xcheck import watch_top

            tb = TbBase(self.dut)
            watch_top(tb.xcheck, self.dut)
            # HostRam: AxiRam's timing without its per-beat coroutines (the demo never back-pressures).
            self.drv = TpuDriver(self.dut, tb.rng, host_size=HOST_SIZE, ram=HostRam(self.dut, HOST_SIZE))
            await tb.reset()
            await self.drv.init()
            d = self.drv.depth
            self.P, self.depths = self.drv.P, {"imem_depth": d["IMEM"], "ub_depth": d["UB"],
                                               "wm_depth": d["WM"], "acc_depth": d["ACC"]}
        else:
            raise ValueError(f"transport must be 'axi' or 'core', got {self.transport!r}")

    def compile(self, sizes: list[int], acts: list[str], batch: int, lr: float) -> tuple[CompiledMlp, ...]:
        kw = dict(P=self.P, **self.depths)
        if self.transport == "axi":
            kw["imem_depth"] -= AXI_IMEM_RESERVE
        return (compile_mlp(sizes, acts, batch=batch, lr=lr, mode="train", **kw),
                compile_mlp(sizes, acts, batch=batch, mode="infer", **kw))

    def device(self, train: CompiledMlp, infer: CompiledMlp) -> Device:
        if self.transport == "core":
            return CoreDevice(self.env, train, infer)
        return AxiDevice(self.drv, train, infer)


class Diverged(AssertionError):
    """The chip and the golden model disagree (the demo must fail loudly)."""


def weights_hash(params: Params) -> str:
    """A short digest of every master code (identical params <=> identical hash, in practice)."""
    h = hashlib.sha256()
    for w, b in params:
        h.update(np.ascontiguousarray(w, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(b, dtype="<i8").tobytes())
    return h.hexdigest()[:16]


MASTERS_NAME = "digits_masters.npz"


def save_masters(path: Path, params: Params) -> None:
    """The trained Q8.24 masters as W0, b0, W1, b1, ... (models.onnx_examples.export_demo_digits)."""
    np.savez(path, **{f"{n}{i}": a for i, (w, b) in enumerate(params) for n, a in (("W", w), ("b", b))})


def mse(out: np.ndarray, y: np.ndarray) -> float:
    """The golden model's loss: (1/B) sum (H_L - Y)^2 over real numbers."""
    return float(((to_float(out) - to_float(y)) ** 2).sum() / len(out))


def first_param_difference(chip: Params, gold: Params) -> str:
    for li, ((w, b), (gw, gb)) in enumerate(zip(chip, gold, strict=True), start=1):
        for name, a, g in ((f"W{li}", w, gw), (f"b{li}", b, gb)):
            bad = np.argwhere(a != g)
            if bad.size:
                i = tuple(int(v) for v in bad[0])
                return f"{name}{list(i)}: chip {int(a[i])} golden {int(g[i])} ({len(bad)} codes differ)"
    return ""


class Log:
    """The JSON log scripts/demo.py turns into plots and the summary; rewritten at every milestone."""

    def __init__(self, path: Path, config: dict) -> None:
        self.path = path
        self.data: dict = {"config": config, "status": "running"}

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.path)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


class Trainer:
    """Trains one network on a device, with the golden and float32 models in lock step."""

    def __init__(self, name: str, dev: Device, mlp: CompiledMlp, params: Params, log: Log) -> None:
        self.name, self.dev, self.mlp, self.log = name, dev, mlp, log
        self.cfg = TrainConfig(tuple(mlp.acts), mlp.lr, mlp.batch, mlp.slope)
        self.gold = params
        self.fparams = params_to_float(params)
        self.step = 0
        self.verified_step = 0  # masters last compared equal after this step

    def fail(self, what: str) -> None:
        msg = f"{self.name}: chip and golden model DIVERGED at step {self.step}: {what}"
        self.log.data.update(status="diverged", error=msg, diverged={"network": self.name, "step": self.step})
        self.log.save()
        raise Diverged(msg)

    async def step_on(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """One step on chip, golden and float; returns (loss, chip outputs) after checking the outputs."""
        self.step += 1
        out = await self.dev.train_step(x, y)
        self.gold, gloss, gout = train_step(self.gold, x, y, self.cfg)
        self.fparams, _ = float_ref.sgd_step(self.fparams, to_float(x), to_float(y), self.cfg.acts, SLOPE,
                                             self.cfg.lr_eff)
        if not np.array_equal(out, gout.outputs):
            bad = np.argwhere(out != gout.outputs)[0]
            self.fail(f"outputs H_L{bad.tolist()}: chip {int(out[tuple(bad)])}, "
                      f"golden {int(gout.outputs[tuple(bad)])}")
        loss = mse(out, y)
        if loss != gloss:
            self.fail(f"loss {loss!r} != golden {gloss!r}")
        return loss, out

    async def check_params(self) -> Params:
        chip = await self.dev.read_params()
        diff = first_param_difference(chip, self.gold)
        if diff:
            self.fail(f"master {diff} (outputs agreed through this step, masters last equal after step "
                      f"{self.verified_step}: the first wrong update is in steps {self.verified_step + 1}.."
                      f"{self.step})")
        self.verified_step = self.step
        return chip


# ---- XOR ------------------------------------------------------------------------------------------

async def run_xor(chip: Chip, cfg: dict, log: Log) -> None:
    ds: Dataset = xor()
    epochs = int(cfg["xor_epochs"])
    train, infer = chip.compile(XOR_SIZES, XOR_ACTS, 4, XOR_LR)
    dev = chip.device(train, infer)
    params = init_params(XOR_SIZES, np.random.default_rng(XOR_SEED))
    await dev.load_params(params)
    tr = Trainer("xor", dev, train, params, log)
    print(f"[xor] 2-2-1 (leaky, identity), batch 4, lr {XOR_LR} (lr_eff {train.lr_eff:g}), "
          f"{epochs} epochs of one step, init seed {XOR_SEED}, P={chip.P}, {dev.transport}", flush=True)
    t0, c0 = time.time(), dev.counters()
    losses, accs = [], []
    for e in range(1, epochs + 1):
        loss, out = await tr.step_on(ds.x_train, ds.y_train)
        losses.append(loss)
        accs.append(accuracy(out, ds.labels_train))
        if e == 1 or e % 10 == 0 or e == epochs:
            print(f"[xor] epoch {e:4d}  loss {loss:.5f}  accuracy {100 * accs[-1]:5.1f}%", flush=True)
    final = await tr.check_params()
    train_counts = delta(dev.counters(), c0)
    pred_chip = await dev.infer(ds.x_test)
    pred_gold = forward(tr.gold, ds.x_test, tuple(XOR_ACTS))
    if not np.array_equal(pred_chip, pred_gold):
        tr.fail("inference outputs differ from the golden model's")
    vals = to_float(pred_chip)[:, 0]
    rows = []
    for (a, b), v, lab in zip(to_float(ds.x_test), vals, ds.labels_test, strict=True):
        rows.append({"x": [float(a), float(b)], "output": float(v), "pred": int(v > 0.5), "label": int(lab)})
        print(f"[xor] {int(a)} xor {int(b)} = {int(lab)}: chip output {v:+.4f} -> {int(v > 0.5)}", flush=True)
    log.data["xor"] = {
        "epochs": epochs, "loss": losses, "accuracy": accs, "predictions": rows,
        "final_accuracy": float(np.mean([r["pred"] == r["label"] for r in rows])),
        "weights_hash_chip": weights_hash(final), "weights_hash_golden": weights_hash(tr.gold),
        "weights_equal": True, "steps": tr.step, "wall_s": time.time() - t0,
        "counters": train_counts, "instructions": len(train.words),
    }
    log.save()


# ---- digits ---------------------------------------------------------------------------------------

def float_accuracy(fparams, x: np.ndarray, labels: np.ndarray) -> float:
    out = float_ref.predict(fparams, to_float(x), DIGITS_ACTS, SLOPE)
    return float((out.argmax(axis=1) == labels).mean())


def digits_programs(chip: Chip, cfg: dict) -> tuple[CompiledMlp, ...]:
    return chip.compile([64, int(cfg["hidden"]), 10], DIGITS_ACTS, int(cfg["batch"]), float(cfg["lr"]))


def digits_data(cfg: dict) -> Dataset:
    ds = digits(0)  # tb.common.data: cached, no scikit-learn import in the simulator
    ntr, nte = int(cfg.get("train_limit") or 0), int(cfg.get("test_limit") or 0)
    if ntr or nte:
        ntr, nte = ntr or len(ds.x_train), nte or len(ds.x_test)
        ds = Dataset(ds.x_train[:ntr], ds.y_train[:ntr], ds.labels_train[:ntr],
                     ds.x_test[:nte], ds.y_test[:nte], ds.labels_test[:nte])
    return ds


async def run_digits(chip: Chip, cfg: dict, log: Log) -> None:
    ds = digits_data(cfg)
    train, infer = digits_programs(chip, cfg)
    seed, epochs, B = int(cfg["seed"]), int(cfg["epochs"]), train.batch
    dev = chip.device(train, infer)
    params = init_params(train.sizes, np.random.default_rng(seed), scale=DIGITS_INIT_SCALE)
    shuffle = np.random.default_rng(seed + 1)
    t_load = time.time()
    await dev.load_params(params)
    tr = Trainer("digits", dev, train, params, log)
    steps_per_epoch = len(ds.x_train) // B
    if steps_per_epoch < 1:
        raise ValueError(f"{len(ds.x_train)} training samples do not make one batch of {B}")
    total = steps_per_epoch * epochs
    print(f"[digits] {'-'.join(map(str, train.sizes))} (leaky, identity), batch {B}, lr {train.lr:g} "
          f"(lr_eff {train.lr_eff:.6g}), {epochs} epochs x {steps_per_epoch} steps, "
          f"{len(ds.x_train)} train / {len(ds.x_test)} held-out images, P={chip.P}, seed {seed}", flush=True)
    n_words = len(getattr(dev, "train_words", train.words))  # over AXI: with the DMA prologue/epilogue
    print(f"[digits] one step = {n_words} instructions (model estimate "
          f"{estimate_cycles(train.words, chip.P)} cycles); parameters loaded in "
          f"{time.time() - t_load:.2f} s", flush=True)
    t0, p0, c0 = time.time(), time.process_time(), dev.counters()
    report_every = max(1, steps_per_epoch // 3)
    hist: list[dict] = []
    step_losses: list[float] = []
    infer_counts = dict.fromkeys(c0, 0)
    for e in range(1, epochs + 1):
        run_loss, run_hits, run_n = 0.0, 0, 0
        for i, (xb, yb) in enumerate(batches(ds.x_train, ds.y_train, B, shuffle), start=1):
            loss, out = await tr.step_on(xb, yb)
            step_losses.append(loss)
            run_loss += loss
            run_hits += int((to_float(out).argmax(axis=1) == to_float(yb).argmax(axis=1)).sum())
            run_n += B
            if i % report_every == 0 and i < steps_per_epoch:
                cyc = dev.counters()["cycles"] - c0["cycles"] - infer_counts["cycles"]
                print(f"[digits] epoch {e}/{epochs} step {tr.step:4d}/{total}  loss {run_loss / i:.4f}  "
                      f"train acc {100 * run_hits / run_n:5.1f}%  {cyc:>10,} cycles  "
                      f"{time.time() - t0:6.1f} s", flush=True)
        final = await tr.check_params()
        c_inf = dev.counters()
        pred = await dev.infer(ds.x_test)
        infer_counts = {k: infer_counts[k] + v for k, v in delta(dev.counters(), c_inf).items()}
        gold_pred = forward(tr.gold, ds.x_test, tuple(DIGITS_ACTS))
        if not np.array_equal(pred, gold_pred):
            tr.fail("held-out inference outputs differ from the golden model's")
        acc_chip = accuracy(pred, ds.labels_test)
        acc_gold = accuracy(gold_pred, ds.labels_test)
        acc_float = float_accuracy(tr.fparams, ds.x_test, ds.labels_test)
        cyc = dev.counters()["cycles"] - c0["cycles"] - infer_counts["cycles"]
        row = {"epoch": e, "steps": tr.step, "train_loss": run_loss / steps_per_epoch,
               "train_accuracy": run_hits / run_n, "test_accuracy_chip": acc_chip,
               "test_accuracy_golden": acc_gold, "test_accuracy_float32": acc_float,
               "train_cycles": cyc, "wall_s": time.time() - t0, "weights_hash": weights_hash(final)}
        hist.append(row)
        print(f"[digits] epoch {e}/{epochs} step {tr.step:4d}/{total}  loss {row['train_loss']:.4f}  "
              f"train acc {100 * row['train_accuracy']:5.1f}%  held-out acc chip {100 * acc_chip:5.1f}% "
              f"golden {100 * acc_gold:5.1f}% float32 {100 * acc_float:5.1f}%  {cyc:>10,} cycles  "
              f"{row['wall_s']:6.1f} s", flush=True)
        log.data["digits"] = {"history": hist, "step_loss": step_losses}
        log.save()
    if hist[-1]["test_accuracy_chip"] != hist[-1]["test_accuracy_golden"]:
        tr.fail("held-out accuracies differ")  # implied by equal outputs; kept as the stated contract
    train_counts = delta(delta(dev.counters(), c0), infer_counts)
    log.data["digits"] = {
        "sizes": train.sizes, "batch": B, "lr": train.lr, "lr_eff": train.lr_eff, "epochs": epochs,
        "steps": tr.step, "steps_per_epoch": steps_per_epoch, "train_samples": len(ds.x_train),
        "test_samples": len(ds.x_test), "history": hist, "step_loss": step_losses,
        "test_accuracy_chip": hist[-1]["test_accuracy_chip"],
        "test_accuracy_golden": hist[-1]["test_accuracy_golden"],
        "test_accuracy_float32": hist[-1]["test_accuracy_float32"],
        "weights_hash_chip": weights_hash(final), "weights_hash_golden": weights_hash(tr.gold),
        "weights_equal": True,
        "test_predictions": [int(v) for v in to_float(pred).argmax(axis=1)],
        "test_labels": [int(v) for v in ds.labels_test],
        "instructions_train": len(train.words), "instructions_infer": len(infer.words),
        "model_cycles_per_step": estimate_cycles(train.words, chip.P),
        "counters_train": train_counts, "counters_infer": infer_counts, "wall_s": time.time() - t0,
        # The simulator's CPU time over the loop (Verilator or Icarus and Python share one thread): on a
        # shared machine the honest denominator of "chip cycles per second".
        "cpu_s": time.process_time() - p0,
    }
    log.save()
    save_masters(log.path.with_name(MASTERS_NAME), final)  # scripts/demo.py exports them to ONNX


def _setup(dut) -> tuple[dict, Log]:
    cfg = json.loads(os.environ["DEMO_CONFIG"])
    log = Log(Path(os.environ["DEMO_LOG"]), cfg)
    return cfg, log


@cocotb.test()
async def demo(dut) -> None:
    """XOR then digits, trained on chip, checked against the golden model step by step."""
    cfg, log = _setup(dut)
    chip = Chip(dut, cfg["transport"])
    await chip.start()
    transport = {"axi": AxiDevice.transport, "core": CoreDevice.transport}[cfg["transport"]]
    log.data.update(simulator=cocotb.SIM_NAME, P=chip.P, transport=transport, memories=chip.depths)
    t0 = time.time()
    try:
        if int(cfg["xor_epochs"]) > 0:
            await run_xor(chip, cfg, log)
        if int(cfg["epochs"]) > 0:
            await run_digits(chip, cfg, log)
    except Exception as e:
        if log.data["status"] != "diverged":  # a divergence already says where
            log.data.update(status="error", error="".join(traceback.format_exception(e)).rstrip())
            log.save()
        raise
    log.data.update(status="ok", sim_wall_s=time.time() - t0)
    log.save()


@cocotb.test()
async def one_training_step(dut) -> None:
    """Load the digits network and run exactly one training step, checked (the demo's waveform)."""
    cfg, log = _setup(dut)
    chip = Chip(dut, cfg["transport"])
    await chip.start()
    ds = digits_data(cfg)
    train, infer = digits_programs(chip, cfg)
    dev = chip.device(train, infer)
    params = init_params(train.sizes, np.random.default_rng(int(cfg["seed"])), scale=DIGITS_INIT_SCALE)
    await dev.load_params(params)
    tr = Trainer("digits (waves)", dev, train, params, log)
    xb, yb = next(batches(ds.x_train, ds.y_train, train.batch, np.random.default_rng(int(cfg["seed"]) + 1)))
    t_start = get_sim_time("ns")  # the step's batch load begins here (the parameters are loaded)
    await tr.step_on(xb, yb)
    t_end = get_sim_time("ns")
    await tr.check_params()
    log.data.update(status="ok", waves={"counters": dev.counters(), "instructions": len(train.words),
                                        "step_start_ns": t_start, "step_end_ns": t_end})
    log.save()
