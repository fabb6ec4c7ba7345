"""HostRam (tb/common/axi.py) against cocotbext-axi's AxiRam: the same traffic, the same edges.

HostRam claims AxiRam's timing with no back-pressure (the DMA latencies of models/core_perf.py and every
cycle count the demo and the benchmarks print rest on it) while running no Python when the bus is idle.
The pytest entry runs one cocotb test twice on tpu_top with the same seed, once on each model
(HOST_RAM=axi | fast), and compares what the two runs recorded edge by edge:

* every change of the ten valid / ready wires of m_axi_* (with its edge number), and the data, last
  flag and response of every R and W handshake, and AR / AW requests;
* the results read back and every CSR counter.

Traffic: GEMMs whose buffers start 64 bytes past a 4 KiB boundary (bursts split there), a GEMM of several
chunks through drv.matmul, host DMA transfers (load_params, read_params) and an MLP training step whose
program DMAs in and out, then a reset in the middle of a read burst, and a GEMM after it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from models.asm import assemble
from models.fixed_point import random_codes
from models.host_layout import gemm_buffers, gemm_dma_program, w_image, x_image
from models.mlp import compile_mlp
from models.programs import GemmLayout
from models.train_ref import init_params
from tb.common import runner
from tb.common.axi import HostRam, axi_ram
from tb.common.driver import TpuDriver
from tb.common.tb_base import CLOCK_PERIOD_NS, TbBase
from tb.common.tools import rtl_sources
from tb.common.xcheck import watch_top
from tb.top.test_top import SOURCES, params

HOST_SIZE = 1 << 18
HANDSHAKES = ("ar", "r", "aw", "w", "b")
FIELDS = {"ar": ("araddr", "arlen", "arid"), "aw": ("awaddr", "awlen", "awid"),
          "r": ("rdata", "rlast", "rresp", "rid"), "w": ("wdata", "wstrb", "wlast"), "b": ("bresp", "bid")}


async def record(dut, trace: list) -> None:
    """At every rising edge: the valid / ready wires when they change, and each handshake's payload."""
    wires = [(getattr(dut, f"m_axi_{c}valid"), getattr(dut, f"m_axi_{c}ready")) for c in HANDSHAKES]
    fields = {c: [getattr(dut, f"m_axi_{f}") for f in FIELDS[c]] for c in HANDSHAKES}
    prev = None
    while True:
        await RisingEdge(dut.clk_i)
        edge = int(get_sim_time("ns")) // CLOCK_PERIOD_NS
        now = tuple(str(v.value) + str(r.value) for v, r in wires)
        if now != prev:
            trace.append([edge, "wires", *now])
            prev = now
        for c, both in zip(HANDSHAKES, now, strict=True):
            if both == "11":
                trace.append([edge, c, *(str(h.value) for h in fields[c])])


@cocotb.test()
async def same_edges(dut) -> None:
    """The traffic of the module docstring, on the model HOST_RAM names; the record goes to HOST_RAM_TRACE."""
    tb = TbBase(dut)
    watch_top(tb.xcheck, dut)
    ram = HostRam(dut, HOST_SIZE) if os.environ["HOST_RAM"] == "fast" else axi_ram(dut, HOST_SIZE)
    drv = TpuDriver(dut, tb.rng, host_size=HOST_SIZE, ram=ram)
    trace: list = []
    results: list = []
    cocotb.start_soon(record(dut, trace))
    await tb.reset()
    await drv.init()
    P = drv.P
    for M, K, N in ((13, 9, 6), (30, 3 * P, 2 * P)):  # skewed buffers: bursts split at 4 KiB
        lay = GemmLayout(M, K, N, P)
        buf = gemm_buffers(lay, drv.DATA_BASE + 64)
        drv.write_rows(buf.base + buf.x_off, x_image(random_codes(tb.rng, (M, K)), lay), 16)
        drv.write_rows(buf.base + buf.w_off, w_image(random_codes(tb.rng, (K, N)), lay), 16)
        info = await drv.run(assemble(gemm_dma_program(buf)))
        results += [info.counters, drv.read_host(buf.base + buf.y_off, buf.y_bytes).hex()]
    a, b = random_codes(tb.rng, (150, 11)), random_codes(tb.rng, (11, 7))
    runs: list = []
    results.append(np.asarray(await drv.matmul(a, b, info=runs)).tolist())
    results += [r.counters for _, _, r in runs]
    d = drv.depth
    m = compile_mlp([9, 6, 3], ["leaky", "identity"], batch=5, lr=0.25, P=P, imem_depth=d["IMEM"] - 16,
                    ub_depth=d["UB"], wm_depth=d["WM"], acc_depth=d["ACC"])
    await drv.load_params(m, init_params(m.sizes, tb.rng))
    out = await drv.mlp_train_step(m, random_codes(tb.rng, (5, 9)), random_codes(tb.rng, (5, 3)),
                                   params=True, info=runs)
    results += [out.outputs.tolist(), runs[-1].counters]
    results.append([[w.tolist(), v.tolist()] for w, v in await drv.read_params(m)])
    # A reset in the middle of a read burst: both models drop what is in flight, then serve a new run.
    lay = GemmLayout(64, 2 * P, P, P)
    buf = gemm_buffers(lay, drv.DATA_BASE)
    await drv.load_program(assemble(gemm_dma_program(buf)))
    await drv.start()
    for _ in range(3):
        await RisingEdge(dut.m_axi_rvalid)
    await ClockCycles(dut.clk_i, 5)
    await tb.reset()
    await drv.init()
    results.append(np.asarray(await drv.matmul(a[:20], b)).tolist())
    await ClockCycles(dut.clk_i, 20)
    beats = sum(1 for t in trace if t[1] == "r")
    assert beats > 200 and any(t[1] == "b" for t in trace), f"too little traffic recorded ({beats} R beats)"
    Path(os.environ["HOST_RAM_TRACE"]).write_text(json.dumps({"trace": trace, "results": results}))


def test_host_ram(sim: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEED", os.environ.get("SEED") or str(random.SystemRandom().randrange(1, 2**31)))
    got = {}
    for model in ("axi", "fast"):
        path = tmp_path / f"{model}.json"
        runner.run(sim, "tpu_top", "tb.top.test_host_ram", rtl_sources(*SOURCES), params(4),
                   extra_env={"HOST_RAM": model, "HOST_RAM_TRACE": str(path)})
        got[model] = json.loads(path.read_text())
    assert got["fast"]["results"] == got["axi"]["results"], "HostRam: results or counters differ from AxiRam"
    for k, (f, a) in enumerate(zip(got["fast"]["trace"], got["axi"]["trace"], strict=False)):
        assert f == a, f"HostRam differs from AxiRam at record {k}: {f} vs {a}"
    assert len(got["fast"]["trace"]) == len(got["axi"]["trace"]), "HostRam: trace length differs from AxiRam"
