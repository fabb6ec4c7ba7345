#!/usr/bin/env python3
"""make soak: every randomized test (each simulator test node of tb/) with N distinct seeds.

The seed list comes from one master seed (printed; SOAK_SEED / --master-seed sets it), so a soak is
reproducible as a whole, and each failure by its own command. The (test, seed) runs are spread over
`pytest -n` workers (tb/conftest.py's --soak-seeds parametrizes every simulator test by seed). A node
runs all the cocotb tests of its module with that one seed.

Prints a table (test, seeds run, failures, the command reproducing each failure) and writes
out/soak/soak.json and out/soak/runs.jsonl. Exit status 1 when any run failed.

Usage: scripts/soak.py [--seeds N] [--master-seed S] [--jobs J] [-k EXPR]   (SIM selects the simulators)
       scripts/soak.py --rerun-with-waves out/junit.xml   (CI: each failed test again, same seed, WAVES=1)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tb.common.tools import ROOT  # noqa: E402

OUT = ROOT / "out" / "soak"
SEEDED = re.compile(r"-seed(?P<seed>\d+)(?=[-\]])")  # the soak's id part, wherever pytest put it


def seed_list(master: int, n: int) -> list[int]:
    """n distinct seeds in [1, 2**31), a pure function of the master seed."""
    return random.Random(master).sample(range(1, 2**31), n)


def reproduce(node: str, seed: int, sim_env: str) -> str:
    sim = re.search(r"\[(icarus|verilator)", node)
    sim_part = f"SIM={sim.group(1)} " if sim else (f"SIM={sim_env} " if sim_env else "")
    return f"SEED={seed} {sim_part}.venv/bin/pytest -q '{node}'"


def split_node(seeded: str) -> tuple[str, int]:
    m = SEEDED.search(seeded)
    if m is None:
        raise ValueError(f"not a soak node id: {seeded}")
    return seeded[:m.start()] + seeded[m.end():], int(m["seed"])


def rerun_with_waves(junit: Path) -> int:
    """Run every failed test of a JUnit XML file again with its seed and WAVES=1 (FSTs in sim_build)."""
    rc = 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is None:
            continue
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        text = (bad.get("message") or "") + (bad.text or "")
        seed = re.search(r"\(seed (\d+)\)", text)
        env = dict(os.environ, WAVES="1", **({"SEED": seed.group(1)} if seed else {}))
        print(f"[soak] rerun with waves: {'SEED=' + seed.group(1) + ' ' if seed else ''}WAVES=1 {node}")
        rc |= subprocess.run([sys.executable, "-m", "pytest", "-q", node], cwd=ROOT, env=env).returncode
    return rc


def run_soak(args: argparse.Namespace, seeds: list[int], runs: Path) -> int:
    """Build every configuration once, then every (test, seed); pytest's exit status (-1: a build failed)."""
    base = [sys.executable, "-m", "pytest", "-q", "-n", str(args.jobs), "--dist", "loadgroup", "tb",
            "-p", "no:cacheprovider"] + (["-k", args.k] if args.k else [])
    # The builds first (one per configuration, not one per seed), then the runs.
    build = subprocess.run(base + ["--build-only", "--soak-seeds", str(seeds[0])], cwd=ROOT)
    if build.returncode != 0:
        print("[soak] a build failed", file=sys.stderr)
        return -1
    soak = ["--soak-seeds", ",".join(map(str, seeds)), "--soak-report", str(runs)]
    return subprocess.run(base + soak, cwd=ROOT).returncode



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--master-seed", type=int, default=None, help="default: SOAK_SEED or a random one")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS") or os.cpu_count() or 2))
    ap.add_argument("-k", default=None, help="pytest -k expression (a subset of the randomized tests)")
    ap.add_argument("--rerun-with-waves", type=Path, metavar="JUNIT_XML")
    ap.add_argument("--report-only", action="store_true", help="only tabulate out/soak/runs.jsonl")
    args = ap.parse_args()
    if args.rerun_with_waves:
        return rerun_with_waves(args.rerun_with_waves)
    if args.seeds < 1:
        raise SystemExit("error: --seeds must be at least 1")
    master = args.master_seed
    if master is None:
        master = int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(1, 2**31))
    seeds = seed_list(master, args.seeds)
    sim_env = os.environ.get("SIM", "both") or "both"
    print(f"[soak] master seed {master} ({args.seeds} seeds, SIM={sim_env}); the same list again: "
          f"make soak SEEDS={args.seeds} SOAK_SEED={master}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    runs = OUT / "runs.jsonl"
    rc = 0
    if not args.report_only:
        runs.unlink(missing_ok=True)
        rc = run_soak(args, seeds, runs)
        if rc < 0:
            return 1
    results = [json.loads(line) for line in runs.read_text().splitlines()] if runs.is_file() else []
    table: dict[str, dict] = defaultdict(lambda: {"seeds": set(), "failed": {}, "seconds": 0.0})
    for r in results:
        node, seed = split_node(r["nodeid"])
        row = table[node]
        row["seeds"].add(seed)
        row["seconds"] += r["seconds"]
        if r["outcome"] == "failed":
            row["failed"][seed] = reproduce(node, seed, sim_env)
    width = max([len(n) for n in table] + [4])
    print(f"\n{'test':{width}} {'seeds':>6} {'failures':>9} {'seconds':>8}")
    for node in sorted(table):
        row = table[node]
        print(f"{node:{width}} {len(row['seeds']):6d} {len(row['failed']):9d} {row['seconds']:8.1f}")
    failures = [(n, s, c) for n in sorted(table) for s, c in sorted(table[n]["failed"].items())]
    print(f"{'TOTAL':{width}} {sum(len(r['seeds']) for r in table.values()):6d} {len(failures):9d}")
    for node, seed, command in failures:
        print(f"  FAILED {node} seed {seed}: {command}")
    missing = [n for n, r in table.items() if len(r["seeds"]) != len(seeds)]
    if missing:
        print(f"[soak] incomplete: {len(missing)} tests did not run every seed: {missing}", file=sys.stderr)
    (OUT / "soak.json").write_text(json.dumps({
        "master_seed": master, "seeds": seeds, "sim": sim_env,
        "tests": {n: {"seeds_run": len(r["seeds"]), "failures": len(r["failed"]),
                      "seconds": round(r["seconds"], 1),
                      "reproduce": [r["failed"][s] for s in sorted(r["failed"])]} for n, r in table.items()},
    }, indent=1) + "\n")
    print(f"[soak] wrote {OUT / 'soak.json'}")
    return 1 if failures or missing or rc not in (0, 1) or not table else 0


if __name__ == "__main__":
    sys.exit(main())
