#!/usr/bin/env python3
"""make bench: GEMM benchmarks on the core and end to end on tpu_top; tables on stdout and out/bench.json.

Every row is a real simulation whose result was checked bit for bit and whose counters were checked
against the analytical model (models/core_perf.py) before it was recorded. Table 1: data on chip
(tb/core/bench_core.py). Table 2: data start and end in host memory, moved by the program's own DMAs
(tb/top/bench_top.py), serial and with the X DMA overlapping compute (docs/core.md, "Benchmarks").
Usage: scripts/bench.py [--sim verilator|icarus] [--p 4 8] [--out out/bench.json] [--no-e2e] [--max-shapes N]
(--max-shapes N: only the first N shapes of each table, smallest first: the quick subset make viz runs.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import Parser, UsageError, check, is_pow2, usage_exit  # noqa: E402

from tb.common import runner  # noqa: E402
from tb.common.core_env import CORE_SOURCES  # noqa: E402
from tb.common.tools import ROOT, rtl_sources  # noqa: E402

TOP_SOURCES = (*CORE_SOURCES, "tpu_csr", "tpu_dma", "tpu_top")


def shapes(P: int) -> list[list[int]]:
    """From one cold tile up to M=256, K=N=8P, plus a shape that is not a multiple of P."""
    return [[P, P, P], [4 * P, 2 * P, 2 * P], [64, 4 * P, 4 * P], [100, 3 * P + 1, 2 * P + 3],
            [256, 8 * P, 8 * P]]


def e2e_shapes(P: int) -> list[list[int]]:
    """The on-chip shapes plus a narrow N (one N tile: at P=8 the X DMA outlasts each block's compute)."""
    return [*shapes(P), [64, 4 * P, P]]


def e2e_table(rows: list[dict]) -> str:
    head = (f"{'variant':<8} {'P':>2} {'M':>4} {'K':>4} {'N':>4} {'cycles':>7} {'gemm':>6} {'on-chip':>7} "
            f"{'DMA B':>7} {'stall':>5} {'B/cyc':>5} {'bus':>3} {'util':>6} {'MAC/B':>5} {'roof':>6} "
            f"{'cyc/s':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:<8} {r['P']:>2} {r['M']:>4} {r['K']:>4} {r['N']:>4} {r['cycles']:>7} "
            f"{r['gemm_part_cycles']:>6} {r['gemm_cycles_on_chip']:>7} {r['dma_bytes']:>7} "
            f"{r['dma_stall_cycles']:>5} {r['bytes_per_cycle']:>5.2f} {r['bus_bytes']:>3} "
            f"{100 * r['utilization']:>5.1f}% {r['intensity']:>5.2f} {100 * r['roofline_bound']:>5.1f}% "
            f"{r['cycles_per_s']:>7.0f}"
        )
    return "\n".join(lines)


def e2e_derived(r: dict) -> dict:
    """Roofline columns: bytes per cycle, utilization, MACs per DMA byte and the roofline's bound on
    utilization, min(1, intensity * bus bytes per cycle / P^2)."""
    r["bytes_per_cycle"] = r["dma_bytes"] / r["cycles"]
    r["utilization"] = r["ideal_cycles"] / r["cycles"]
    r["intensity"] = r["macs"] / r["dma_bytes"]
    r["roofline_bound"] = min(1.0, r["intensity"] * r["bus_bytes"] / r["P"] ** 2)
    # Informational: chip cycles per wall second of the run's simulation (noisy on a shared machine).
    r["cycles_per_s"] = r["cycles"] / r["wall_s"] if r.get("wall_s") else 0.0
    return r


def table(rows: list[dict]) -> str:
    head = (f"{'P':>2} {'M':>4} {'K':>4} {'N':>4} {'tiles':>5} {'cycles':>8} {'model':>8} {'ideal':>8} "
            f"{'no-dbuf':>8} {'util':>7} {'vs no-dbuf':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['P']:>2} {r['M']:>4} {r['K']:>4} {r['N']:>4} {r['tiles']:>5} {r['cycles']:>8} "
            f"{r['model_cycles']:>8} {r['ideal_cycles']:>8.0f} {r['no_double_buffer_cycles']:>8} "
            f"{100 * r['utilization']:>6.1f}% {r['no_double_buffer_cycles'] / r['cycles']:>9.2f}x"
        )
    return "\n".join(lines)


MAX_P = 16


def validate(args: argparse.Namespace) -> None:
    """Refuse options that cannot run, before anything is built (raises UsageError)."""
    for P in args.p:
        if args.no_e2e:
            check(2 <= P <= MAX_P, "--p", P, f"integers from 2 to {MAX_P}")
        else:
            check(2 <= P <= MAX_P and is_pow2(P), "--p", P,
                  f"powers of two from 2 to {MAX_P} (tpu_top's DMA moves power-of-two words; --no-e2e "
                  "takes any P)")
    check(len(set(args.p)) == len(args.p), "--p", " ".join(map(str, args.p)), "distinct array sizes")
    check(not args.out.is_dir(), "--out", args.out, "a file path (this is a folder)")
    check(args.max_shapes >= 0, "--max-shapes", args.max_shapes, "an integer >= 0 (0: every shape)")


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="bench.py", description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default=os.environ.get("BENCH_SIM", "verilator"), choices=runner.SIMULATORS)
    ap.add_argument("--p", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end rows (tpu_top)")
    ap.add_argument("--max-shapes", type=int, default=0, help="only the first N shapes (0: all)")
    args = ap.parse_args(argv)
    try:
        validate(args)
    except UsageError as e:
        return usage_exit(ap.prog, e)

    rows: list[dict] = []
    for P in args.p:
        todo = shapes(P)[: args.max_shapes or None]
        print(f"[bench] P={P}: {len(todo)} GEMM shapes on {args.sim} ...", flush=True)
        t0 = time.time()
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as tmp:
            env = {"BENCH_SHAPES": json.dumps(todo), "BENCH_OUT": tmp.name, "COCOTB_LOG_LEVEL": "WARNING"}
            runner.run(args.sim, "tpu_core", "tb.core.bench_core", rtl_sources(*CORE_SOURCES), {"P": P},
                       extra_env=env)
            rows += [json.loads(line) for line in tmp.read().splitlines()]
        print(f"[bench] P={P}: done in {time.time() - t0:.1f} s", flush=True)

    e2e: list[dict] = []
    for P in [] if args.no_e2e else args.p:
        todo = e2e_shapes(P)[: args.max_shapes or None]
        print(f"[bench] P={P}: {len(todo)} GEMM shapes x 2 variants end to end (tpu_top) on {args.sim} ...",
              flush=True)
        t0 = time.time()
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as tmp:
            env = {"BENCH_SHAPES": json.dumps(todo), "BENCH_OUT": tmp.name, "COCOTB_LOG_LEVEL": "WARNING"}
            runner.run(args.sim, "tpu_top", "tb.top.bench_top", rtl_sources(*TOP_SOURCES), {"P": P},
                       extra_env=env)
            e2e += [e2e_derived(json.loads(line)) for line in tmp.read().splitlines()]
        print(f"[bench] P={P}: done in {time.time() - t0:.1f} s", flush=True)

    print()
    print("GEMM with data on chip (tpu_core)")
    print(table(rows))
    big = [r for r in rows if r["M"] == 256 and r["K"] == 8 * r["P"] and r["N"] == 8 * r["P"]]
    for r in big:
        verdict = "meets" if r["utilization"] >= 0.95 else "MISSES"
        pct = 100 * r["utilization"]
        print(f"P={r['P']} M=256 K=N=8P: {pct:.1f}% of the ideal MAC rate ({verdict} the 95% bar)")
    if e2e:
        print()
        print("GEMM end to end: X, W from host memory, Y back (tpu_top, no bus back-pressure; cyc/s: chip "
              "cycles per wall second of the simulation, informational)")
        print(e2e_table(e2e))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"simulator": args.sim, "gemm_on_chip": rows}
    if e2e:
        out["gemm_end_to_end"] = e2e
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if all(r["utilization"] >= 0.95 for r in big) else 1


if __name__ == "__main__":
    sys.exit(main())
