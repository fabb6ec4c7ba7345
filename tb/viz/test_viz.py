"""The pictures of `make viz` agree with the chip: what each trace shows is checked, cycle by cycle.

* test_array_pictures: the traced tpu_array run behind pictures 1 (staircase) and 2 (double buffering).
  For every scenario, the inputs the trace shows at the ports are the bench's stimulus, and every PE
  register and the outputs after every edge equal models.array_model fed with those inputs; the double
  buffering events drawn (shift, commit, swap, compute per PE and edge) equal those of the model's
  states; and the last result row is registered exactly stream_cycles(T, M, P) edges after the first
  weight shift (the bound picture 2 marks).
* test_array_pictures_catch_a_broken_pe (Icarus): the same check on a PE whose first row of a tile still
  multiplies by the old weight (the switch's bypass removed) reports the difference.
* test_step_timeline: the traced digits training step and inference batch behind pictures 3 and 4.
  Every hardware counter read over AXI after the run equals what the trace's timeline adds up to:
  CYCLES (the run's span), ARRAY_BUSY (rows entering the array), MACS, WSTALL (the stall lane), DMA_BYTES
  (R beats and W strobes on the AXI master), DMA_STALL (the DMA stall lane).
* test_step_timeline_catches_a_wrong_counter (Icarus): with ARRAY_BUSY wired to count weight stalls too,
  the trace and the counter disagree.
* test_perfetto_trace_format, test_docs_show_the_generated_pictures (no simulator): the trace-event JSON's
  shape; every viz picture the docs show is a copy make viz writes, and it is committed.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tb.common.mutate import mutate
from tb.common.tools import BUILD, ROOT, rtl_sources
from tb.viz.record import (
    ARRAY_SOURCES,
    TOP_SOURCES,
    array_problems,
    array_views,
    record_array,
    record_step,
    step_lanes,
    step_problems,
)

P = 4  # the array pictures' P (issue 15); the step runs on a 4x4 tpu_top too (fast on both simulators)
STEP = dict(hidden=16, batch=16)
OUT = BUILD / "viz_test"


def test_array_pictures(sim):
    run = record_array(sim, P, out=OUT)
    assert [v.scenario["name"] for v in array_views(run)] == ["staircase", "double_buffer"]
    assert array_problems(run) == []


def test_array_pictures_catch_a_broken_pe(sim):
    if sim != "icarus":
        pytest.skip("one simulator shows it (a build of its own; Verilator's costs a minute)")
    # The switch's bypass is what makes a tile's first row multiply by the new weight (tpu_pe.sv).
    broken = mutate(
        "viz_no_bypass",
        rtl_sources(*ARRAY_SOURCES),
        {"tpu_pe.sv": [("assign w_use = swap ? shadow_q : active_q;", "assign w_use = active_q;")]},
    )
    run = record_array(sim, P, out=OUT, sources=broken, variant="viz_no_bypass")
    problems = array_problems(run)
    # The first disagreement is the weight PE[0][0] keeps at the switch (with the pipelined MAC the wrong
    # product reaches psum only later): both pictures must report it.
    assert {p.split(":")[0] for p in problems} == {"staircase", "double_buffer"}, problems
    assert all("PE[0][0].active" in p or "PE[0][0].psum" in p for p in problems), problems


def test_step_timeline(sim):
    run = record_step(sim, P, **STEP, out=OUT)
    assert run.meta["runs"]["train"]["counters"]["runs"] == 1
    lanes = step_lanes(run, "train")
    assert lanes.lanes["MATMUL"].any() and lanes.lanes["VEC"].any() and lanes.lanes["DMA in"].any()
    assert step_problems(run) == []


def test_step_timeline_catches_a_wrong_counter(sim):
    if sim != "icarus":
        pytest.skip("one simulator shows it (a tpu_top build of its own)")
    broken = mutate(
        "viz_busy_counter",
        rtl_sources(*TOP_SOURCES),
        {"tpu_top.sv": [(".perf_array_busy_i   (ev_row),", ".perf_array_busy_i   (ev_row || ev_wstall),")]},
    )
    run = record_step(sim, P, **STEP, out=OUT, sources=broken, variant="viz_busy_counter")
    problems = step_problems(run)
    assert any("ARRAY_BUSY" in p for p in problems), problems


def test_perfetto_trace_format(tmp_path):
    """The trace-event JSON has what Perfetto's JSON importer needs: ph/ts/dur/pid/tid, named threads."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import vizfigs as figs

    lanes = {"MATMUL": np.array([0, 1, 1, 0, 1], bool), "DMA in": np.array([1, 0, 0, 0, 0], bool)}
    path = figs.perfetto_json(lanes, 10.0, {"CYCLES": 5}, "t", tmp_path / "t.json")
    doc = json.loads(path.read_text())
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["name"] == "MATMUL"]
    assert [(e["ts"], e["dur"]) for e in slices] == [(0.01, 0.02), (0.04, 0.01)]
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert {"MATMUL", "DMA in"} <= names


def test_docs_show_the_generated_pictures():
    """Every viz picture README.md and docs/ show is one scripts/viz.py --docs-img writes, and it exists."""
    import re

    sys.path.insert(0, str(ROOT / "scripts"))
    import viz

    written = {dst for _, dst in viz.DOCS_COPIES}
    shown = set()
    for doc in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        shown |= set(re.findall(r"img/(viz_[\w.]+)\)", doc.read_text()))
    assert {"viz_staircase.gif", "viz_step_timeline.png"} <= shown  # README's two, at least
    assert shown <= written, f"shown but never written by make viz: {sorted(shown - written)}"
    missing = [f for f in sorted(written) if not (viz.DOCS_IMG / f).is_file()]
    assert not missing, f"run make viz: docs/img lacks {missing}"
