#!/usr/bin/env python3
"""make viz: pictures of the mechanisms, drawn from real simulation traces; outputs in out/viz/ + a table.

    scripts/viz.py [--sim icarus|verilator] [--only staircase dbuf step roofline] [--out out/viz]
                   [--array-size 4] [--step-array-size 4] [--hidden 16] [--batch 16] [--seed 1]
                   [--bench out/bench.json] [--docs-img | --no-docs-img]

1. staircase.gif, staircase_strip.png: tpu_array (P = --array-size) computing two tiles back to back,
   the PE grid after every edge: input held, active and shadow weight, partial sum, values entering
   and leaving the edges; the second tile's switch is the red diagonal wavefront.
2. double_buffer.png: three tiles back to back, one row per PE and one column per edge: weight shift-in,
   commit to shadow, swap to active, compute; the bound models.array_model.stream_cycles is marked.
3. step_timeline.png, step_timeline.perfetto.json: one digits training step on tpu_top: program fetch,
   DMA in/out, LDW, MATMUL, VEC, COPY, stalls, with the hardware counters beside it. The JSON is Chrome
   trace-event format: open it at ui.perfetto.dev (or chrome://tracing).
4. roofline.png: compute roof P^2 MACs/cycle, bus roof; the points of --bench (make bench's
   out/bench.json) or, when that file is missing, of a quick subset (scripts/bench.py --max-shapes 3
   at --step-array-size on --sim, run meanwhile in a process of its own, written to
   out/viz/bench_subset.json, its table in bench_subset.log); the training step and
   inference batch of picture 3; and make demo's digits steps when out/demo/perf.json exists.

Every picture is read from the simulator's FST with pywellen (tb/viz/trace.py) and checked before it
is drawn (tb/viz/record.py, the same checks as tb/viz/test_viz.py): the array's registers against
models/array_model.py every PE every edge, the timeline's totals against the CSR counters. A
disagreement fails the run (exit 1) and no picture is drawn from it. The traces are kept (*.fst).
--docs-img (make viz) also refreshes the small copies under docs/img/ that README.md and
docs/architecture.md show; the pictures are reproducible (--seed fixes the stimulus).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from cli import Parser, UsageError, check, is_pow2, usage_exit  # noqa: E402

from tb.common import runner  # noqa: E402
from tb.common.tools import ROOT  # noqa: E402

PICTURES = ("staircase", "dbuf", "step", "roofline")
DOCS_IMG = ROOT / "docs" / "img"
# docs/img copies: (output file, docs file). Small on purpose: they are committed.
DOCS_COPIES = (
    ("staircase.gif", "viz_staircase.gif"),
    ("double_buffer.png", "viz_double_buffer.png"),
    ("step_timeline.png", "viz_step_timeline.png"),
    ("roofline.png", "viz_roofline.png"),
    ("staircase_strip.png", "viz_staircase_strip.png"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = Parser(prog="viz.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_sim = os.environ.get("SIM", "")
    ap.add_argument(
        "--sim",
        choices=runner.SIMULATORS,
        default=env_sim if env_sim in runner.SIMULATORS else "icarus",
        help="simulator of the traced runs (default icarus, or SIM when it names one)",
    )
    ap.add_argument("--only", nargs="+", choices=PICTURES, default=list(PICTURES), help="pictures to draw")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "viz", help="output folder (default out/viz)")
    ap.add_argument("--array-size", type=int, default=4, help="P of tpu_array, pictures 1 and 2 (default 4)")
    ap.add_argument(
        "--step-array-size", type=int, default=4, help="P of tpu_top, pictures 3 and 4 (default 4)"
    )
    ap.add_argument("--hidden", type=int, default=16, help="digits hidden units (default 16)")
    ap.add_argument("--batch", type=int, default=16, help="digits batch (default 16)")
    ap.add_argument("--seed", type=int, default=1, help="simulation seed (SEED; default 1)")
    ap.add_argument(
        "--bench",
        type=Path,
        default=ROOT / "out" / "bench.json",
        help="make bench's JSON for the roofline (default out/bench.json)",
    )
    ap.add_argument(
        "--docs-img",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="refresh the copies in docs/img/ (make viz does)",
    )
    return ap.parse_args(argv)


ARRAY_P = (2, 8)  # the array sizes the pictures are laid out for


def validate(a: argparse.Namespace) -> None:
    check(
        ARRAY_P[0] <= a.array_size <= ARRAY_P[1],
        "--array-size",
        a.array_size,
        f"an integer from {ARRAY_P[0]} to {ARRAY_P[1]} (one PE grid per frame)",
    )
    check(
        4 <= a.step_array_size <= 16 and is_pow2(a.step_array_size),
        "--step-array-size",
        a.step_array_size,
        "4, 8 or 16 (tpu_top's DMA moves power-of-two words of at least one bus beat)",
    )
    check(a.hidden >= 1, "--hidden", a.hidden, "an integer >= 1")
    check(a.batch >= 1, "--batch", a.batch, "an integer >= 1")
    check(a.seed >= 0, "--seed", a.seed, "an integer >= 0")
    check(not a.out.is_file(), "--out", a.out, "a folder (this is a file)")
    check(not a.bench.is_dir(), "--bench", a.bench, "a JSON file path (this is a folder)")
    if "step" in a.only or "roofline" in a.only:
        from models.isa import IMEM_DEPTH
        from models.mlp import compile_mlp
        from tb.demo.demo_bench import AXI_IMEM_RESERVE, DIGITS_ACTS

        try:
            compile_mlp(
                [64, a.hidden, 10],
                DIGITS_ACTS,
                a.batch,
                0.15,
                a.step_array_size,
                "train",
                imem_depth=IMEM_DEPTH - AXI_IMEM_RESERVE,
            )
        except ValueError as e:
            raise UsageError(
                "--hidden/--batch", f"{a.hidden}/{a.batch}", f"a digits network that fits the chip ({e})"
            ) from None


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.resolve().is_relative_to(ROOT) else str(p)


# ---- pictures 1 and 2 ---------------------------------------------------------------------------


def array_pictures(a: argparse.Namespace, rows: list[tuple[str, str, str]]) -> None:
    import numpy as np
    import vizfigs as figs

    from models.array_model import stream_cycles
    from tb.viz.record import array_problems, array_views, record_array

    run = record_array(a.sim, a.array_size, out=a.out)
    problems = array_problems(run)
    if problems:
        raise SystemExit(f"[viz] the array trace disagrees with models/array_model.py: {problems[0]}")
    views = {v.scenario["name"]: v for v in array_views(run)}
    p = a.array_size
    if "staircase" in a.only:
        v = views["staircase"]
        tiles = np.cumsum([np.asarray(s.switch) for s in v.states], axis=0)
        frames = [
            figs.Frame(
                k,
                np.asarray(s.x),
                np.asarray(s.valid),
                np.asarray(s.switch),
                np.asarray(s.active),
                np.asarray(s.shadow),
                np.asarray(s.psum),
                tiles[k],
                v.x_in[k],
                v.w_in[k],
                [int(y) for y in s.y_data] if s.y_valid else None,
            )
            for k, s in enumerate(v.states)
        ]
        second = int(np.argmax((tiles >= 2).any(axis=(1, 2))))  # the second tile's first switch
        strip = list(range(max(0, second - 1), min(len(frames), second - 1 + 2 * p)))
        cap = f"tpu_array P={p}, two tiles of {v.scenario['m']} rows back to back ({a.sim} trace)"
        gif, png = figs.staircase(
            frames, p, a.out / "staircase.gif", a.out / "staircase_strip.png", strip, cap
        )
        rows.append(("1 staircase (GIF)", _rel(gif), f"{len(frames)} edges, every PE register = model"))
        rows.append(("1 staircase (strip)", _rel(png), f"edges {strip[0]}..{strip[-1]}: tile 2's switch"))
    if "dbuf" in a.only:
        from tb.viz.trace import dbuf_events

        v = views["double_buffer"]
        sc = v.scenario
        ev = dbuf_events(v.states, p)
        tiles = np.cumsum([np.asarray(s.switch) for s in v.states], axis=0)
        first_w = next(k for k, s in enumerate(v.inputs) if s.w_valid)
        bound = stream_cycles(sc["tiles"], sc["m"], p)
        t, m = sc["tiles"], sc["m"]
        formula = " = T·M + 3P" if m >= p and bound == t * m + 3 * p else ""
        label = f"stream_cycles(T={t}, M={m}, P={p}){formula} = {bound} edges"
        path = figs.dbuf_timeline(
            {k: e[first_w:] for k, e in ev.items()},
            tiles[first_w:],
            [s.y_valid for s in v.states][first_w:],
            p,
            bound,
            label,
            f"double buffering on tpu_array P={p}: {t} tiles of {m} rows back to back ({a.sim} trace)",
            a.out / "double_buffer.png",
        )
        rows.append(("2 double buffering", _rel(path), f"last result at edge {bound} = stream_cycles"))


# ---- pictures 3 and 4 ---------------------------------------------------------------------------


def draw_step(fst: Path, start_ns: float, end_ns: float, counters: dict, p: int, caption: str, out: Path,
              stem: str = "step_timeline") -> tuple[Path, Path, list[tuple[str, int, int]]]:
    """Picture 3 of the first tpu_top run after start_ns in `fst`: the Gantt PNG and the Perfetto JSON.

    `counters`: that run's CSR counters (tb/demo/device.py's keys). Raises ValueError, drawing nothing,
    when the trace's totals differ from them. Used by make demo for its own training step too."""
    import vizfigs as figs

    from tb.common.tb_base import CLOCK_PERIOD_NS
    from tb.viz.record import compare_counters
    from tb.viz.trace import Trace, unit_lanes

    lanes = unit_lanes(Trace(fst), start_ns, end_ns, p)
    table = compare_counters(counters, lanes)
    bad = [f"{n}: CSR {hw}, trace {tr}" for n, hw, tr in table if hw != tr]
    if bad:
        raise ValueError(f"{fst.name}: the trace disagrees with the hardware counters: {bad[0]}")
    png = figs.unit_gantt(lanes.lanes, table, caption, out / f"{stem}.png")
    js = figs.perfetto_json(lanes.lanes, CLOCK_PERIOD_NS, {n: hw for n, hw, _ in table}, caption,
                            out / f"{stem}.perfetto.json")
    return png, js, table


def step_pictures(a: argparse.Namespace, rows: list[tuple[str, str, str]]):
    from tb.viz.record import record_step, step_problems

    run = record_step(a.sim, a.step_array_size, a.hidden, a.batch, out=a.out)
    problems = step_problems(run)
    if problems:
        raise SystemExit(f"[viz] the tpu_top trace disagrees with the hardware counters: {problems[0]}")
    if "step" in a.only:
        r = run.meta["runs"]["train"]
        sizes = "-".join(map(str, run.meta["sizes"]))
        cap = (f"one digits {sizes} training step (batch {run.meta['batch']}) on tpu_top P={run.meta['P']}, "
               f"{a.sim} trace: {r['counters']['cycles']:,} cycles, {run.meta['instructions_train']} "
               "instructions")
        png, js, table = draw_step(run.fst, r["start_ns"], r["end_ns"], r["counters"], run.meta["P"], cap,
                                   a.out)
        rows.append(("3 training step", _rel(png), f"{len(table)} counters: CSR = trace"))
        rows.append(("3 training step", _rel(js), "open at ui.perfetto.dev"))
    return run


def bench_points(path: Path) -> list:
    """Roofline points of a make bench JSON: every end-to-end run, and every on-chip run at the intensity
    of the same shape's end-to-end (serial) run (its data is already on chip: no bus bytes)."""
    import vizfigs as figs

    data = json.loads(path.read_text())
    e2e = data.get("gemm_end_to_end", [])
    bytes_of = {(r["P"], r["M"], r["K"], r["N"]): r["dma_bytes"] for r in e2e if r["variant"] == "serial"}
    pts = []
    for r in data.get("gemm_on_chip", []):
        key = (r["P"], r["M"], r["K"], r["N"])
        if key in bytes_of:
            pts.append(figs.Point(f"{r['M']}x{r['K']}x{r['N']}", "on chip", r["P"], r["macs"], r["cycles"],
                                  0, r["macs"] / bytes_of[key]))
    for r in e2e:
        pts.append(figs.Point(f"{r['M']}x{r['K']}x{r['N']}", f"end to end ({r['variant']})", r["P"],
                              r["macs"], r["cycles"], r["dma_bytes"], r["macs"] / r["dma_bytes"]))
    return pts


def counter_point(label: str, kind: str, p: int, c: dict):
    """A roofline point from one workload's counter totals (tb/demo/device.py's keys)."""
    import vizfigs as figs

    return figs.Point(label, kind, p, c["macs"], c["cycles"], c["dma_bytes"], c["macs"] / c["dma_bytes"])


def demo_points(perf: Path) -> list:
    """The digits training and inference workloads of make demo's perf.json (over AXI: with DMA bytes)."""
    d = json.loads(perf.read_text())
    pts = []
    for name, kind in (("digits_train", "digits train step"), ("digits_infer", "digits inference")):
        w = d.get("workloads", {}).get(name)
        if w and w.get("dma_bytes"):
            pts.append(counter_point(f"make demo {name.split('_')[1]} (P={d['P']})", kind, d["P"], w))
    return pts


def start_quick_bench(a: argparse.Namespace) -> tuple[subprocess.Popen, Path, Path]:
    """A small bench (scripts/bench.py --max-shapes 3, untraced) in a process of its own, so that it runs
    while the traced simulations do; its table goes to out/viz/bench_subset.log."""
    path, log = a.out / "bench_subset.json", a.out / "bench_subset.log"
    cmd = [sys.executable, str(HERE / "bench.py"), "--sim", a.sim, "--p", str(a.step_array_size),
           "--max-shapes", "3", "--out", str(path)]
    print(f"[viz] {_rel(a.bench)} is missing (make bench writes it): running a quick subset meanwhile, "
          f"{' '.join(cmd[1:]).replace(str(ROOT) + '/', '')} (log: {_rel(log)})", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "WAVES"}
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    return proc, path, log


def finish_quick_bench(job: tuple[subprocess.Popen, Path, Path]) -> Path:
    proc, path, log = job
    if proc.wait():
        raise SystemExit(f"[viz] the bench subset failed (exit {proc.returncode}): see {_rel(log)}")
    return path


def roofline_picture(a: argparse.Namespace, run, rows: list[tuple[str, str, str]], job) -> None:
    import vizfigs as figs

    bench_json = finish_quick_bench(job) if job else a.bench
    source = _rel(bench_json) + ("" if bench_json == a.bench else " (subset)")
    pts = bench_points(bench_json)
    for which, kind in (("train", "digits train step"), ("infer", "digits inference")):
        pts.append(counter_point(f"viz {which} (P={run.meta['P']})", kind, run.meta["P"],
                                 run.meta["runs"][which]["counters"]))
    perf = ROOT / "out" / "demo" / "perf.json"
    extra = ""
    if perf.is_file():
        more = demo_points(perf)
        pts += more
        extra = f" + {_rel(perf)}" if more else ""
    cap = f"roofline: {len(pts)} measured points ({source}{extra}, and make viz's digits step and inference)"
    path = figs.roofline(pts, run.meta["bus_bytes"], cap, a.out / "roofline.png")
    rows.append(("4 roofline", _rel(path), f"{len(pts)} points from {source}{extra}"))


def docs_copies(a: argparse.Namespace, rows: list[tuple[str, str, str]]) -> None:
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    for src, dst in DOCS_COPIES:
        if (a.out / src).is_file():
            shutil.copyfile(a.out / src, DOCS_IMG / dst)
            rows.append(("docs copy", _rel(DOCS_IMG / dst), f"= {_rel(a.out / src)}"))


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        validate(a)
    except UsageError as e:
        return usage_exit("viz.py", e)
    a.out = a.out.resolve()
    a.out.mkdir(parents=True, exist_ok=True)
    os.environ["SEED"] = str(a.seed)
    t0 = time.time()
    rows: list[tuple[str, str, str]] = []
    print(f"[viz] {a.sim}: traced runs, outputs in {_rel(a.out)}/", flush=True)
    job = start_quick_bench(a) if "roofline" in a.only and not a.bench.is_file() else None
    try:
        if "staircase" in a.only or "dbuf" in a.only:
            array_pictures(a, rows)
        if "step" in a.only or "roofline" in a.only:
            run = step_pictures(a, rows)
            if "roofline" in a.only:
                roofline_picture(a, run, rows, job)
    finally:
        if job and job[0].poll() is None:
            job[0].kill()  # a traced run failed: the bench is not needed any more
            job[0].wait()
    if a.docs_img:
        docs_copies(a, rows)
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print()
    print(f"{'picture':{w0}}  {'file':{w1}}  checked / shows")
    print("-" * (w0 + w1 + 40))
    for r in rows:
        print(f"{r[0]:{w0}}  {r[1]:{w1}}  {r[2]}")
    print(f"\n[viz] done in {time.time() - t0:.1f} s ({a.sim})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
