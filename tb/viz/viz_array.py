"""Stimulus for the array pictures (run by scripts/viz.py and tb/viz/test_viz.py, not collected by pytest).

One simulation of tpu_array, traced (WAVES=1), holds every scenario of VIZ_SCENARIOS (JSON list of
{"name", "tiles", "m"}) one after the other, each from a fresh reset and run with the fastest legal
schedule (models.array_model.schedule_tiles). Weights are distinct non-zero codes (every shift or commit
changes the register it writes, so the pictures can show it) and inputs small codes (readable in a
picture). VIZ_OUT receives, per scenario, its stimulus and the simulation time of its first edge; the
pictures themselves are drawn from the trace (tb/viz/trace.py), never from this stimulus.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.utils import get_sim_time

from models.array_model import Inputs, schedule_tiles
from tb.array.test_array import ArrayTb
from tb.common.tb_base import CLOCK_PERIOD_NS

INPUT_CODES = 9  # inputs are 1..9: one digit per PE in the staircase picture


def tiles(rng: np.random.Generator, p: int, t: int, m: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """t weight tiles of distinct codes 1..t*P*P (in a random order) and t input tiles of m rows."""
    codes = rng.permutation(np.arange(1, t * p * p + 1)).reshape(t, p, p)
    return list(codes), [rng.integers(1, INPUT_CODES + 1, size=(m, p)) for _ in range(t)]


def stim_json(stim: list[Inputs]) -> list[dict]:
    return [
        {
            "w_valid": s.w_valid,
            "w_last": s.w_last,
            "w_data": list(map(int, s.w_data or [])),
            "x_valid": s.x_valid,
            "x_switch": s.x_switch,
            "x_data": list(map(int, s.x_data or [])),
        }
        for s in stim
    ]


@cocotb.test()
async def scenarios(dut) -> None:
    tb = ArrayTb(dut)
    out = []
    for sc in json.loads(os.environ["VIZ_SCENARIOS"]):
        w, x = tiles(tb.rng, tb.p, int(sc["tiles"]), int(sc["m"]))
        stim = schedule_tiles(w, x)
        tb.drive(Inputs())
        await tb.reset()
        # The driver puts edge 0's inputs on the ports now; edge 0 is the next rising edge.
        start_ns = get_sim_time("ns") + CLOCK_PERIOD_NS / 2
        await tb.driver(stim + [Inputs()] * 2)
        out.append(
            {
                **sc,
                "P": tb.p,
                "first_edge_ns": start_ns,
                "edges": len(stim),
                "weights": [a.tolist() for a in w],
                "inputs": [a.tolist() for a in x],
                "stimulus": stim_json(stim),
            }
        )
        await tb.cycles(2)
    with open(os.environ["VIZ_OUT"], "w") as f:
        json.dump({"clock_ns": CLOCK_PERIOD_NS, "scenarios": out}, f)
