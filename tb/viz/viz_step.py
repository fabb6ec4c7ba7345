"""One digits training step and one inference batch on tpu_top, traced (run by scripts/viz.py and
tb/viz/test_viz.py through tb.common.runner, not collected by pytest).

The network is the demo's digits MLP (tb/demo/demo_bench.py: the same compiler, initialization and
first batch) with VIZ_CONFIG's P, hidden units and batch. The step is checked against the golden model
bit for bit (outputs and every master weight), the inference batch against the golden forward pass; a
wrong result fails the run, so no picture is ever drawn from a broken one. VIZ_OUT receives, per run,
the simulation times around it and the CSR counters the driver read after it: the pictures are drawn
from the trace (tb/viz/trace.py), and tb/viz/test_viz.py compares the trace with these counters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from models.datasets import batches
from models.train_ref import forward, init_params
from tb.demo.demo_bench import (
    DIGITS_ACTS,
    DIGITS_INIT_SCALE,
    Chip,
    Log,
    Trainer,
    digits_data,
    digits_programs,
)


@cocotb.test()
async def step_and_infer(dut) -> None:
    cfg = json.loads(os.environ["VIZ_CONFIG"])
    demo_cfg = {"hidden": cfg["hidden"], "batch": cfg["batch"], "lr": cfg["lr"], "seed": cfg["seed"]}
    chip = Chip(dut, "axi")
    await chip.start()
    ds = digits_data({})
    train, infer = digits_programs(chip, demo_cfg)
    dev = chip.device(train, infer)
    params = init_params(train.sizes, np.random.default_rng(int(cfg["seed"])), scale=DIGITS_INIT_SCALE)
    await dev.load_params(params)
    log = Log(Path(os.environ["VIZ_OUT"] + ".log"), cfg)
    tr = Trainer("digits (viz)", dev, train, params, log)
    xb, yb = next(batches(ds.x_train, ds.y_train, train.batch, np.random.default_rng(int(cfg["seed"]) + 1)))
    runs = {}
    c0, t0 = dev.counters(), get_sim_time("ns")
    await tr.step_on(xb, yb)
    c1, t1 = dev.counters(), get_sim_time("ns")
    await tr.check_params()
    runs["train"] = {"start_ns": t0, "end_ns": t1, "counters": {k: c1[k] - c0[k] for k in c1}}
    x = ds.x_test[: infer.batch]
    c2, t2 = dev.counters(), get_sim_time("ns")
    pred = await dev.infer(x)
    c3, t3 = dev.counters(), get_sim_time("ns")
    gold = forward(tr.gold, x, tuple(DIGITS_ACTS))
    assert np.array_equal(pred, gold), "inference outputs differ from the golden model's"
    runs["infer"] = {"start_ns": t2, "end_ns": t3, "counters": {k: c3[k] - c2[k] for k in c3}}
    info = {
        "P": chip.P,
        "bus_bytes": chip.drv.bus_bytes,
        "sizes": train.sizes,
        "batch": train.batch,
        "instructions_train": len(train.words),
        "instructions_infer": len(infer.words),
        "simulator": cocotb.SIM_NAME,
        "runs": runs,
    }
    with open(os.environ["VIZ_OUT"], "w") as f:
        json.dump(info, f, indent=1)
