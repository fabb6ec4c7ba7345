"""The one runner helper: build each HDL configuration once, run cocotb tests under pytest.

Every testbench's pytest entry point calls `run()`. It

* builds each (toplevel, simulator, parameters, waves) configuration once, in its own build directory
  (a reused directory would silently ignore parameter changes), guarded by a file lock so that
  `pytest -n` workers never build the same directory at the same time;
* skips the build when sources, parameters and flags are unchanged (a content hash, not timestamps);
* runs the cocotb module in a private test directory and turns any failing cocotb test into a
  pytest failure whose message names the failing tests and the command that reproduces them.

Environment knobs (all optional): SEED=<int>, WAVES=1, TESTCASE=<cocotb test name>, and
* SYSTOLE_COVERAGE=1 (make coverage; not COVERAGE, which cocotb reads as "Python coverage"): Verilator
  builds instrumented for line, toggle and user (SVA cover) coverage, in build directories of their own
  (suffix .cov); each run's coverage.dat is kept under out/coverage/data/ for scripts/coverage.py;
* SYSTOLE_BUILD_ONLY=1: build the configuration, then skip the test (tb/conftest.py's --build-only pass,
  which builds every configuration up front, longest first);
* SYSTOLE_OPT_FAST: the C++ optimization of Verilator's hot code (OPT_FAST; default -O1, see _OPT_FAST);
* GLS=1 (make gls): Icarus simulates the gate-level netlist of the toplevel at the test's parameters
  instead of its RTL (tb/common/gls.py: synthesized once, cached); Verilator runs are skipped.
Verilator compiles through ccache (OBJCACHE) when it is installed; see _compiler_cache_env.
Every build appends its wall and CPU seconds to sim_build/timing/builds.jsonl (the timing summary).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import resource
import shlex
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from cocotb_tools.runner import get_runner

from tb.common.tools import BUILD, ROOT, require, setup_tool_env

SIMULATORS = ("icarus", "verilator")
VERILATOR_CHECK_ARGS = ("-Wno-fatal", "-Werror-USERFATAL")
COVERAGE_DATA = ROOT / "out" / "coverage" / "data"
TIMING = BUILD / "timing" / "builds.jsonl"
# C++ optimization of the hot code of Verilator test builds (verilated.mk's OPT_FAST, default -Os; the
# cold code, OPT_SLOW, stays unoptimized). Measured in docs/verification.md: -O1 compiles faster than -Os
# and the regression's models run as fast.
_OPT_FAST = "-O1"
# Toggle coverage of signals wider than this is skipped: the wide packed buses (memory words, packed
# ports) would otherwise add thousands of points per instance for bits that are plain data paths.
COVERAGE_MAX_WIDTH = 256


def selected_simulators() -> list[str]:
    """Simulators chosen by SIM (icarus, verilator, or both: the default)."""
    choice = os.environ.get("SIM", "both") or "both"
    if choice == "both":
        return list(SIMULATORS)
    if choice not in SIMULATORS:
        raise SystemExit(f"error: SIM={choice!r}; expected one of icarus, verilator, both")
    return [choice]


def _tag(parameters: Mapping[str, object]) -> str:
    if not parameters:
        return "default"
    return "_".join(f"{k}{v}" for k, v in sorted(parameters.items()))


def _digest(sources: Sequence[Path], payload: object) -> str:
    h = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    for src in sources:
        h.update(Path(src).read_bytes())
    return h.hexdigest()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def gls_enabled() -> bool:
    """GLS=1: simulate the post-synthesis netlist (Icarus only)."""
    return _env_flag("GLS")


def coverage_enabled() -> bool:
    """SYSTOLE_COVERAGE=1: instrumented Verilator builds (Icarus has no coverage; it runs unchanged)."""
    return _env_flag("SYSTOLE_COVERAGE")


def _build_args(sim: str, waves: bool, coverage: bool) -> list[str]:
    if sim != "verilator":
        return []
    # SVA lives behind SYSTOLE_SVA because Icarus rejects concurrent assertions.
    # -Wno-fatal keeps lint warnings from stopping a build, but an elaboration-time $fatal (a parameter
    # check in rtl/, reported as the warning USERFATAL) must stop it.
    args = ["--assert", "-DSYSTOLE_SVA", *VERILATOR_CHECK_ARGS]
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    if coverage:
        args += ["--coverage-line", "--coverage-toggle", "--coverage-user",
                 "--coverage-max-width", str(COVERAGE_MAX_WIDTH)]
    return args


def _build_dir(sim: str, toplevel: str, parameters: Mapping[str, object], waves: bool,
               coverage: bool, variant: str | None = None) -> Path:
    flavour = (f".{variant}" if variant else "") + (".waves" if waves else "") + (".cov" if coverage else "")
    return BUILD / f"{toplevel}.{sim}.{_tag(parameters)}{flavour}"


def _compiler_cache_env() -> None:
    """Compile Verilator's C++ through ccache when it is installed (OBJCACHE, read by verilated.mk).

    The cache is ccache's own (CCACHE_DIR, default ~/.cache/ccache): outside the clone on purpose, so a
    fresh clone on a machine that ran the regression before recompiles nothing. CCACHE_BASEDIR makes the
    clone's absolute paths relative in the compiler command lines; the sloppiness settings let ccache
    cache Verilator's precompiled headers.
    """
    if os.environ.get("OBJCACHE") is None and shutil.which("ccache"):
        os.environ["OBJCACHE"] = "ccache"
    os.environ.setdefault("CCACHE_BASEDIR", str(ROOT.resolve()))
    os.environ.setdefault("CCACHE_SLOPPINESS",
                          "pch_defines,time_macros,include_file_mtime,include_file_ctime")
    os.environ.setdefault("CCACHE_NOHASHDIR", "1")


def _verilator_sources(sim: str, coverage: bool, sources: Sequence[Path],
                       build_dir: Path) -> tuple[list[str], list[str]]:
    """(sources, extra build args): Verilator gets the RTL relative to its build directory.

    Verilator writes source file names into the generated C++ (assertion messages); cocotb would pass
    them absolute, so a clone in another folder would miss every cached object. Coverage builds keep
    absolute names: scripts/coverage.py maps coverage points to rtl/ by them.
    """
    if sim != "verilator" or coverage:
        return [str(s) for s in sources], []
    return [], [os.path.relpath(Path(s).resolve(), build_dir.resolve()) for s in sources]


def _opt_fast() -> str:
    return os.environ.get("SYSTOLE_OPT_FAST") or _OPT_FAST


def _make_overrides(sim: str) -> None:
    """Command-line variables for Verilator's make (MAKEFLAGS, as set by setup_tool_env): OPT_FAST."""
    if sim == "verilator" and "OPT_FAST=" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} OPT_FAST={_opt_fast()}".strip()


def _record_build(build_dir: Path, wall: float, cpu: float) -> None:
    TIMING.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"config": build_dir.name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                       "end": time.time()})
    with open(TIMING, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line + "\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SVA = Path(__file__).resolve().parents[1] / "sva"
# Protocol checkers bound into a module whenever its RTL file is part of a Verilator build.
BINDS = {"tpu_csr.sv": ["tpu_axil_checker.sv", "tpu_csr_bind.sv"],
         "tpu_dma.sv": ["tpu_axi_checker.sv", "tpu_dma_bind.sv"]}


def checker_sources(sources: Sequence[Path]) -> list[Path]:
    """The tb/sva checker and bind files for the RTL in `sources` (Verilator only: Icarus has no bind)."""
    names = {Path(s).name for s in sources}
    return [SVA / f for rtl, files in BINDS.items() if rtl in names for f in files]


def build(
    sim: str,
    toplevel: str,
    sources: Sequence[Path],
    parameters: Mapping[str, object] | None = None,
    variant: str | None = None,
) -> Path:
    """Build one HDL configuration (unless an identical build exists) and return its build directory.

    Verilator builds also get the AXI protocol checkers of tb/sva bound in (checker_sources); `variant`
    names other sources than the real RTL (a mutant) so that they build in a directory of their own.

    The flavour (WAVES, SYSTOLE_COVERAGE) comes from the environment, so a test and its pre-build agree.
    """
    parameters = dict(parameters or {})
    waves = _env_flag("WAVES")
    coverage = coverage_enabled() and sim == "verilator"
    setup_tool_env()
    _compiler_cache_env()
    _make_overrides(sim)
    require("iverilog" if sim == "icarus" else "verilator")

    if gls_enabled():
        if sim != "icarus":
            import pytest

            pytest.skip("GLS=1: the gate-level netlist runs on Icarus only")
        from tb.common import gls

        sources, variant = gls.sources(toplevel, sources, parameters), "gls"
    if sim == "verilator":
        sources = [*sources, *checker_sources(sources)]
    build_dir = _build_dir(sim, toplevel, parameters, waves, coverage, variant)
    build_dir.mkdir(parents=True, exist_ok=True)
    build_args = _build_args(sim, waves, coverage)
    opt = _opt_fast() if sim == "verilator" else ""
    digest = _digest(sources, [toplevel, sim, parameters, build_args, waves, opt])
    with open(build_dir.with_suffix(build_dir.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp, flags = build_dir / ".systole-build", build_dir / ".systole-flags"
        if not stamp.is_file() or stamp.read_text() != digest:
            stamp.unlink(missing_ok=True)
            # make compares timestamps only: objects built with other flags (OPT_FAST, coverage) must go.
            flags_now = json.dumps([build_args, opt])
            clean = flags.is_file() and flags.read_text() != flags_now
            start, cpu = time.monotonic(), _children_cpu()
            rel_sources, src_args = _verilator_sources(sim, coverage, sources, build_dir)
            get_runner(sim).build(
                clean=clean,
                sources=rel_sources,
                hdl_toplevel=toplevel,
                parameters=parameters,
                build_args=build_args + src_args,
                build_dir=build_dir,
                timescale=("1ns", "1ps"),
                waves=waves,
                always=True,
                log_file=build_dir / "build.log",
            )
            _record_build(build_dir, time.monotonic() - start, _children_cpu() - cpu)
            flags.write_text(flags_now)
            stamp.write_text(digest)
    return build_dir


def rewrite_assertion_files() -> str:
    """The Python files cocotb lets pytest rewrite the asserts of (COCOTB_REWRITE_ASSERTION_FILES): ours.

    cocotb's default ("*.py") rewrites every module the simulation imports, numpy, scipy and scikit-learn
    included, and with PYTHONDONTWRITEBYTECODE (or a read-only site-packages) it does so again in every
    run: about 30 s of compiling before the demo's first step. The testbenches' and models' asserts keep
    their detailed messages.
    """
    return " ".join(shlex.quote(f"{ROOT}/{d}/*.py") for d in ("tb", "models", "scripts"))


def _keep_coverage(test_dir: Path, seed: int) -> None:
    """Move a run's coverage.dat to out/coverage/data/ under a name no other run uses."""
    dat = test_dir / "coverage.dat"
    if dat.is_file():
        COVERAGE_DATA.mkdir(parents=True, exist_ok=True)
        shutil.move(dat, COVERAGE_DATA / f"{test_dir.parent.name}.{test_dir.name}.{seed}.{os.getpid()}.dat")


def _results(xml: Path) -> tuple[int, list[str]]:
    """(number of tests, names of failed tests) from a cocotb results file."""
    if not xml.is_file():
        return 0, ["<simulation ended without a results file>"]
    tests, failed = 0, []
    for case in ET.parse(xml).getroot().iter("testcase"):
        tests += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(case.get("name", "?"))
    return tests, failed


def run(
    sim: str,
    toplevel: str,
    test_module: str,
    sources: Sequence[Path],
    parameters: Mapping[str, object] | None = None,
    testcase: str | Sequence[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    variant: str | None = None,
    log_file: Path | None = None,
) -> Path:
    """Build `toplevel` for `sim` with `parameters` and run the cocotb tests in `test_module`.

    `variant` names a build of other sources than the real RTL (a mutant, tb/common/mutate.py): it gets
    its own build directory. `log_file` sends the simulator's output there instead of stdout (negative
    tests read the failing assertion's message from it).
    Returns the test directory (it holds results.xml and, with WAVES=1, the FST).
    Raises AssertionError when any cocotb test fails, naming the seed that reproduces it.
    """
    parameters = dict(parameters or {})
    waves = _env_flag("WAVES")
    testcase = os.environ.get("TESTCASE") or testcase
    seed = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 2**31))
    build_dir = build(sim, toplevel, sources, parameters, variant)
    if _env_flag("SYSTOLE_BUILD_ONLY"):
        import pytest  # only the --build-only pass of pytest sets this knob

        pytest.skip(f"built {build_dir.name}")
    runner = get_runner(sim)

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cases = [testcase] if isinstance(testcase, str) else list(testcase or ["all"])
    case_tag = re.sub(r"[^A-Za-z0-9_]+", "_", ",".join(cases))
    test_dir = build_dir / f"run.{test_module.rsplit('.', 1)[-1]}.{case_tag}.{worker}"
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "COCOTB_REWRITE_ASSERTION_FILES": os.environ.get("COCOTB_REWRITE_ASSERTION_FILES",
                                                            rewrite_assertion_files())}
    env.update(extra_env or {})
    xml = test_dir / "results.xml"
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            hdl_toplevel_lang="verilog",
            testcase=testcase,
            seed=seed,
            extra_env=env,
            waves=waves,
            parameters=parameters,
            build_dir=build_dir,
            test_dir=test_dir,
            results_xml=str(xml),
            timescale=("1ns", "1ps"),
            log_file=log_file,
        )
    except (SystemExit, RuntimeError):
        # The results file below says what failed; a missing file means the simulator died. A simulator
        # that stops itself (Verilator's $stop after a failing assertion) exits non-zero, which
        # cocotb_tools reports as RuntimeError, not SystemExit.
        pass
    if coverage_enabled():
        _keep_coverage(test_dir, seed)
    tests, failed = _results(xml)
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0] or "<test>"
    case = f"TESTCASE={failed[0]} " if failed else ""
    assert tests and not failed, (
        f"{toplevel} {parameters} on {sim}: failed {failed or 'to run any test'} (seed {seed}); "
        f"reproduce with: SEED={seed} {case}.venv/bin/pytest '{node}'  (log: {test_dir})"
    )
    return test_dir
