#!/usr/bin/env python3
"""make waves: run selected testbench(es) with FST tracing and open the result in GTKWave.

    scripts/waves.py --test <pytest -k expression> [--testcase <cocotb test>] [--sim icarus|verilator]

Runs the matching pytest items under tb/ with WAVES=1 (SIM defaults to icarus unless SIM is set),
finds the FST each one wrote under sim_build/ (Icarus: sim_build/<build>/<toplevel>.fst, Verilator:
sim_build/<build>/run.*/dump.fst), checks that every signal of the unit's checked-in
tb/<unit>/<unit>.gtkw exists in it, and runs `gtkwave <fst> <gtkw>` when $DISPLAY is set; headless,
it prints that command instead. `--check FST GTKW` only checks a layout against a trace.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tb.common.tools import BUILD, ROOT  # noqa: E402

NODE = re.compile(r"^tb/(\w+)/test_\w+\.py::\S+$")


def collect(expr: str, env: dict[str, str]) -> list[str]:
    """Node ids of the pytest items under tb/ that `-k expr` selects."""
    cmd = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-k", expr, "tb"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if NODE.match(line.strip())]


def fst_signals(fst: Path) -> set[str]:
    """Full dotted names of every variable in an FST, with the range suffix the FST declares."""
    fst2vcd = shutil.which("fst2vcd")
    if fst2vcd is None:
        raise SystemExit("error: fst2vcd (part of gtkwave) not found; run `make bootstrap`")
    proc = subprocess.Popen([fst2vcd, str(fst)], stdout=subprocess.PIPE, text=True)
    names, scope = set(), []
    assert proc.stdout is not None
    for line in proc.stdout:
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "$scope":
            scope.append(tok[2])
        elif tok[0] == "$upscope":
            scope.pop()
        elif tok[0] == "$var":
            rng = tok[5] if len(tok) > 6 and tok[5].startswith("[") else ""
            names.add(".".join([*scope, tok[4] + rng]))
        elif tok[0] == "$enddefinitions":
            break
    proc.kill()
    proc.wait()
    return names


def gtkw_signals(gtkw: Path) -> list[str]:
    """Signal paths of a GTKWave save file (lines that are not directives, flags or comments)."""
    return [s for s in (ln.strip() for ln in gtkw.read_text().splitlines()) if s and s[0] not in "[@-*"]


def check(fst: Path, gtkw: Path) -> list[str]:
    """Signals of `gtkw` that `fst` does not contain (empty: the layout fits)."""
    have = fst_signals(fst)
    return [s for s in gtkw_signals(gtkw) if s not in have]


def find_fsts(unit: str, since: float) -> list[Path]:
    """FSTs written since `since` by builds of the unit's toplevel (tpu_<unit> or <unit>)."""
    found = []
    for fst in list(BUILD.glob("*/*.fst")) + list(BUILD.glob("*/run.*/dump.fst")):
        build = fst.relative_to(BUILD).parts[0]
        top = build.split(".", 1)[0]
        if top in (f"tpu_{unit}", unit) and ".waves" in build and fst.stat().st_mtime >= since:
            found.append(fst)
    return sorted(found, key=lambda f: f.stat().st_mtime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", help="pytest -k expression selecting testbench items, e.g. 'array and 4'")
    ap.add_argument("--testcase", help="only this cocotb test (TESTCASE)")
    env_sim = os.environ.get("SIM", "")
    default_sim = env_sim if env_sim in ("icarus", "verilator") else "icarus"  # the Makefile's "both" too
    ap.add_argument("--sim", default=default_sim, choices=("icarus", "verilator"))
    ap.add_argument("--check", nargs=2, metavar=("FST", "GTKW"), help="only check a layout against a trace")
    args = ap.parse_args()

    if args.check:
        missing = check(Path(args.check[0]), Path(args.check[1]))
        for sig in missing:
            print(f"missing in FST: {sig}")
        print(f"{args.check[1]}: {'OK' if not missing else f'{len(missing)} signals missing'}")
        return 1 if missing else 0
    if not args.test:
        ap.error("--test (make waves TEST=<pytest -k expr>) is required")

    env = dict(os.environ, SIM=args.sim, WAVES="1")
    if args.testcase:
        env["TESTCASE"] = args.testcase
    else:
        env.pop("TESTCASE", None)
    nodes = collect(args.test, env)
    if not nodes:
        print(f"error: TEST={args.test!r} matches no testbench item under tb/ (SIM={args.sim}); "
              f"list them with: .venv/bin/pytest --collect-only -q tb", file=sys.stderr)  # fmt: skip
        return 2
    print(f"[waves] SIM={args.sim} WAVES=1 running: {' '.join(nodes)}")
    since = time.time() - 1
    rc = subprocess.run([sys.executable, "-m", "pytest", "-q", *nodes], cwd=ROOT, env=env).returncode
    if rc != 0:
        print("[waves] the test failed: the trace shows the failure", file=sys.stderr)

    commands = []
    for unit in dict.fromkeys(NODE.match(n).group(1) for n in nodes):
        gtkw = ROOT / "tb" / unit / f"{unit}.gtkw"
        fsts = find_fsts(unit, since)
        if not fsts:
            print(f"[waves] no FST from unit '{unit}' under {BUILD}", file=sys.stderr)
            continue
        for fst in fsts:
            cmd = ["gtkwave", str(fst.relative_to(ROOT))]
            if gtkw.is_file():
                missing = check(fst, gtkw)
                if missing:
                    print(f"[waves] {gtkw.name} does not fit {fst.name} ({len(missing)} signals missing, "
                          f"e.g. {missing[0]}; a different P?): opening the trace without it")  # fmt: skip
                else:
                    cmd.append(str(gtkw.relative_to(ROOT)))
            commands.append(cmd)
    if not commands:
        return 1
    commands.sort(key=len, reverse=True)  # traces that the checked-in layout fits first
    if os.environ.get("DISPLAY") and shutil.which("gtkwave"):
        print(f"[waves] {' '.join(commands[0])}")
        subprocess.Popen(commands[0], cwd=ROOT)
        rest = commands[1:]
    else:
        print("[waves] no $DISPLAY: open the trace with")
        rest = commands
    for cmd in rest:
        print("  " + " ".join(cmd))
    return rc


if __name__ == "__main__":
    sys.exit(main())
