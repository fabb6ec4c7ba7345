"""Traced simulations for the pictures, and what their traces show (shared by scripts/viz.py and
tb/viz/test_viz.py, so the test checks exactly what the pictures draw).

    run = record_array("icarus", 4)            # one traced tpu_array run of array_scenarios(4)
    views = array_views(run)                   # per scenario: edges, port inputs and PE states from the FST
    run = record_step("icarus", 4, 16, 16)     # one digits training step + one inference batch on tpu_top
    lanes = step_lanes(run, "train")           # the unit timeline of the training step, from the FST

Every run goes through tb.common.runner with WAVES=1, in build directories of their own (variant "viz",
or a mutant's name), and its FST is copied next to its JSON in `out`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.array_model import Inputs, State, simulate, stream_cycles
from models.fixed_point import ACC_W, DATA_W
from tb.common import runner
from tb.common.core_env import CORE_SOURCES
from tb.common.tools import ROOT, rtl_sources
from tb.viz.trace import (
    DBUF_EVENTS,
    PE_PATH,
    Lanes,
    Trace,
    array_inputs,
    array_p,
    array_states,
    dbuf_events,
    signed,
    state_mismatch,
    unit_lanes,
)

ARRAY_SOURCES = ("tpu_delay", "tpu_pe", "tpu_array")
TOP_SOURCES = (*CORE_SOURCES, "tpu_csr", "tpu_dma", "tpu_top")


def array_scenarios(p: int) -> list[dict]:
    """Picture 1: two tiles back to back; picture 2: three tiles (M = P rows each, so M >= P)."""
    return [{"name": "staircase", "tiles": 2, "m": p}, {"name": "double_buffer", "tiles": 3, "m": p}]


# Only warnings from the simulations (cocotbext-axi's DeprecationWarning at every first transfer: none).
QUIET = {"COCOTB_LOG_LEVEL": "WARNING", "GPI_LOG_LEVEL": "WARNING",
         "PYTHONWARNINGS": "ignore::DeprecationWarning"}


@dataclass
class Run:
    """One traced simulation: its FST and the JSON its cocotb bench wrote."""

    sim: str
    fst: Path
    meta: dict


def _traced_run(
    sim: str,
    toplevel: str,
    module: str,
    sources: Sequence[Path],
    params: Mapping[str, int],
    env: dict[str, str],
    out: Path,
    name: str,
    variant: str,
) -> Run:
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / f"{name}.{sim}.json"
    meta_path.unlink(missing_ok=True)
    saved = os.environ.get("WAVES")
    os.environ["WAVES"] = "1"
    try:
        test_dir = runner.run(
            sim,
            toplevel,
            module,
            sources,
            params,
            variant=variant,
            extra_env={**env, "VIZ_OUT": str(meta_path), **QUIET},
        )
    finally:
        if saved is None:
            os.environ.pop("WAVES", None)
        else:
            os.environ["WAVES"] = saved
    # Icarus writes <toplevel>.fst in the build directory, Verilator dump.fst in the test directory.
    found = [f for f in (test_dir / "dump.fst", test_dir.parent / f"{toplevel}.fst") if f.is_file()]
    if not found:
        raise FileNotFoundError(f"the traced run wrote no FST under {test_dir.parent}")
    fst = out / f"{name}.{sim}.fst"
    shutil.copyfile(max(found, key=lambda f: f.stat().st_mtime), fst)
    return Run(sim, fst, json.loads(meta_path.read_text()))


def record_array(
    sim: str, p: int, out: Path | None = None, sources: Sequence[Path] | None = None, variant: str = "viz"
) -> Run:
    """A traced tpu_array run of array_scenarios(p) (`sources`/`variant`: a mutant instead of rtl/)."""
    env = {"VIZ_SCENARIOS": json.dumps(array_scenarios(p))}
    return _traced_run(
        sim,
        "tpu_array",
        "tb.viz.viz_array",
        sources or rtl_sources(*ARRAY_SOURCES),
        {"P": p},
        env,
        out or ROOT / "out" / "viz",
        f"array_{variant}",
        variant,
    )


@dataclass
class ArrayView:
    """One scenario as the trace shows it: edge time stamps, the inputs each edge sampled, the state
    after each edge."""

    scenario: dict
    edges: list[int]
    inputs: list[Inputs]
    states: list[State]
    x_in: list[list[int | None]]  # [edge][row]: the element entering PE[i][0] at the next edge (None: none)
    w_in: list[list[int | None]]  # [edge][col]: the weight shifting into PE[0][j] at the next edge


def array_views(run: Run) -> list[ArrayView]:
    tr = Trace(run.fst)
    p = array_p(tr)
    period = tr.ns(run.meta["clock_ns"])
    views = []
    for sc in run.meta["scenarios"]:
        first = tr.ns(sc["first_edge_ns"])
        edges = tr.rising_edges("tpu_array.clk_i", period, first - 1)[: sc["edges"]]
        if len(edges) != sc["edges"] or edges[0] != first:
            raise ValueError(
                f"{run.fst.name}: scenario {sc['name']}: {len(edges)} clock edges from "
                f"{sc['first_edge_ns']} ns, expected {sc['edges']}"
            )
        nxt = [t + period - 1 for t in edges]  # just before the next edge
        x_in, w_in = _edge_inputs(tr, nxt, p)
        views.append(ArrayView(sc, edges, array_inputs(tr, edges, p), array_states(tr, edges, p), x_in, w_in))
    return views


def _edge_inputs(
    tr: Trace, times: list[int], p: int
) -> tuple[list[list[int | None]], list[list[int | None]]]:
    """What enters the grid's left and top edges (the staircases' outputs, at the PE ports)."""

    def port(i: int, j: int, valid: str, data: str) -> list[int | None]:
        pe = f"tpu_array.{PE_PATH.format(i=i, j=j)}"
        w = tr.width(f"{pe}.{data}")
        return [
            signed(d, w) if v else None
            for v, d in zip(tr.sample(f"{pe}.{valid}", times), tr.sample(f"{pe}.{data}", times), strict=True)
        ]

    rows = [port(i, 0, "x_valid_i", "x_data_i") for i in range(p)]
    cols = [port(0, j, "w_shift_i", "w_data_i") for j in range(p)]
    return (
        [[rows[i][k] for i in range(p)] for k in range(len(times))],
        [[cols[j][k] for j in range(p)] for k in range(len(times))],
    )


def record_step(
    sim: str,
    p: int,
    hidden: int,
    batch: int,
    seed: int = 0,
    lr: float = 0.15,
    out: Path | None = None,
    sources: Sequence[Path] | None = None,
    variant: str = "viz",
) -> Run:
    """A traced tpu_top run: one digits training step and one inference batch (tb/viz/viz_step.py)."""
    env = {"VIZ_CONFIG": json.dumps({"hidden": hidden, "batch": batch, "lr": lr, "seed": seed})}
    return _traced_run(
        sim,
        "tpu_top",
        "tb.viz.viz_step",
        sources or rtl_sources(*TOP_SOURCES),
        {"P": p},
        env,
        out or ROOT / "out" / "viz",
        f"step_{variant}",
        variant,
    )


COUNTER_KEYS = {
    "CYCLES": "cycles",
    "ARRAY_BUSY": "rows",
    "MACS": "macs",
    "WSTALL": "wstall",
    "DMA_BYTES": "dma_bytes",
    "DMA_STALL": "dma_stall",
}  # CSR name -> tb/demo/device.py's key


def step_lanes(run: Run, which: str = "train") -> Lanes:
    """The unit timeline of one run ("train" or "infer") of a record_step trace."""
    r = run.meta["runs"][which]
    return unit_lanes(Trace(run.fst), r["start_ns"], r["end_ns"], run.meta["P"])


def counter_table(run: Run, lanes: Lanes, which: str = "train") -> list[tuple[str, int, int]]:
    """(counter, CSR value read by the driver, the trace's total) for every counter."""
    return compare_counters(run.meta["runs"][which]["counters"], lanes)


def compare_counters(hw: Mapping[str, int], lanes: Lanes) -> list[tuple[str, int, int]]:
    """(counter, CSR value, the trace's total) from tb/demo/device.py's counter totals of one run."""
    return [(name, int(hw[key]), int(lanes.counts[name])) for name, key in COUNTER_KEYS.items()]


def _port_view(s: Inputs) -> tuple:
    """What the ports carry that matters: the control bits and the data rows that are valid."""
    return (s.w_valid, s.w_last, s.x_valid, s.x_switch, tuple(s.w_data or ()) if s.w_valid else (),
            tuple(s.x_data or ()) if s.x_valid else ())


def array_problems(run) -> list[str]:
    """Every way the traced array run disagrees with the model (empty: the pictures are right)."""
    problems = []
    for view in array_views(run):
        sc, name = view.scenario, view.scenario["name"]
        for k, (got, want) in enumerate(zip(view.inputs, sc["stimulus"], strict=True)):
            if _port_view(got) != _port_view(Inputs(**want)):
                problems.append(f"{name}: edge {k}: the trace's port inputs are not the bench's stimulus")
                break
        model = simulate(view.inputs, sc["P"])
        for k, (got, want) in enumerate(zip(view.states, model, strict=True)):
            diff = state_mismatch(got, want, sc["P"], ACC_W, DATA_W)
            if diff:
                problems.append(f"{name}: after edge {k}: {diff}")
                break
        drawn, modelled = dbuf_events(view.states, sc["P"]), dbuf_events(model, sc["P"])
        for ev in DBUF_EVENTS:
            if not np.array_equal(drawn[ev], modelled[ev]):
                k = int(np.argwhere(drawn[ev] != modelled[ev])[0][0])
                problems.append(f"{name}: '{ev}' events differ from the model's from edge {k}")
        first_w = next(k for k, s in enumerate(view.inputs) if s.w_valid)
        last_y = max(k for k, s in enumerate(view.states) if s.y_valid)
        bound = stream_cycles(sc["tiles"], sc["m"], sc["P"])
        if last_y - first_w + 1 != bound:
            problems.append(
                f"{name}: last result {last_y - first_w + 1} edges after the first weight shift, "
                f"stream_cycles says {bound}"
            )
    return problems


def step_problems(run) -> list[str]:
    problems = []
    for which in ("train", "infer"):
        lanes = step_lanes(run, which)
        for name, hw, seen in counter_table(run, lanes, which):
            if hw != seen:
                problems.append(f"{which}: {name}: CSR {hw}, trace {seen}")
    return problems
