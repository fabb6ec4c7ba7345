"""Imported networks on the simulated tpu_top (run by scripts/systole.py through tb.common.runner).

Cocotb test:
* onnx_infer   for every job of ONNX_JOBS (JSON list of {"npz": in, "out": out}): compile the network of
               the job's npz (sizes, acts, slope, batch, Q8.24 masters W<i>, b<i>, input codes x) for the
               DUT's P and memories, load its parameters and run the inference of every row through the
               host driver (tb.demo.device.AxiDevice over tb/common/driver.py: programs and data moved by
               the AXI DMA); write the output codes and the summed CSR counters to the job's out (npz).
The host compares the outputs with the golden model and onnxruntime; this side only runs the chip.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from models.mlp import compile_mlp
from tb.demo.demo_bench import Chip
from tb.demo.device import AxiDevice


def load_job(path: str) -> tuple[dict, list, np.ndarray]:
    """(network description, Q8.24 params, input codes) from a job's npz."""
    d = np.load(path)
    acts = [str(a) for a in d["acts"]]
    net = {"sizes": [int(v) for v in d["sizes"]], "acts": acts, "slope": int(d["slope"]),
           "batch": int(d["batch"])}
    params = [(d[f"W{i}"], d[f"b{i}"]) for i in range(len(acts))]
    return net, params, d["x"]


@cocotb.test()
async def onnx_infer(dut) -> None:
    """Every job's network on chip, its outputs and counters saved for the host."""
    jobs = json.loads(os.environ["ONNX_JOBS"])
    chip = Chip(dut, "axi")
    await chip.start()
    for job in jobs:
        net, params, x = load_job(job["npz"])
        depths = dict(chip.depths)
        depths["imem_depth"] -= 16  # room for the driver's SETH / DMA prologue and epilogue (as Chip.compile)
        m = compile_mlp(net["sizes"], net["acts"], batch=net["batch"], P=chip.P, mode="infer",
                        slope=net["slope"], **depths)
        dev = AxiDevice(chip.drv, m, m)
        await dev.load_params(params)
        out = await dev.infer(x)
        c = dev.counters()
        np.savez(job["out"], outputs=out, counters=json.dumps(c), P=chip.P, instructions=len(m.words),
                 simulator=cocotb.SIM_NAME)
