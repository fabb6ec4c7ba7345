#!/usr/bin/env python3
"""make bench: GEMM benchmarks on the core, a table on stdout and out/bench.json.

Every row is a real simulation whose result was checked bit for bit and whose cycle counter was checked
against the analytical model (models/core_perf.py) before it was recorded. Data start on chip.
Usage: scripts/bench.py [--sim verilator|icarus] [--p 4 8] [--out out/bench.json]
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
from tb.common import runner  # noqa: E402
from tb.common.core_env import CORE_SOURCES  # noqa: E402
from tb.common.tools import ROOT, rtl_sources  # noqa: E402


def shapes(P: int) -> list[list[int]]:
    """From one cold tile up to M=256, K=N=8P, plus a shape that is not a multiple of P."""
    return [[P, P, P], [4 * P, 2 * P, 2 * P], [64, 4 * P, 4 * P], [100, 3 * P + 1, 2 * P + 3],
            [256, 8 * P, 8 * P]]


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default=os.environ.get("BENCH_SIM", "verilator"), choices=runner.SIMULATORS)
    ap.add_argument("--p", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    args = ap.parse_args()

    rows: list[dict] = []
    for P in args.p:
        todo = shapes(P)
        print(f"[bench] P={P}: {len(todo)} GEMM shapes on {args.sim} ...", flush=True)
        t0 = time.time()
        with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as tmp:
            env = {"BENCH_SHAPES": json.dumps(todo), "BENCH_OUT": tmp.name, "COCOTB_LOG_LEVEL": "WARNING"}
            runner.run(args.sim, "tpu_core", "tb.core.bench_core", rtl_sources(*CORE_SOURCES), {"P": P},
                       extra_env=env)
            rows += [json.loads(line) for line in tmp.read().splitlines()]
        print(f"[bench] P={P}: done in {time.time() - t0:.1f} s", flush=True)

    print()
    print(table(rows))
    big = [r for r in rows if r["M"] == 256 and r["K"] == 8 * r["P"] and r["N"] == 8 * r["P"]]
    for r in big:
        verdict = "meets" if r["utilization"] >= 0.95 else "MISSES"
        pct = 100 * r["utilization"]
        print(f"P={r['P']} M=256 K=N=8P: {pct:.1f}% of the ideal MAC rate ({verdict} the 95% bar)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"simulator": args.sim, "gemm_on_chip": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if all(r["utilization"] >= 0.95 for r in big) else 1


if __name__ == "__main__":
    sys.exit(main())
