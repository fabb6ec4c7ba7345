"""The one runner helper: build each HDL configuration once, run cocotb tests under pytest.

Every testbench's pytest entry point calls `run()`. It

* builds each (toplevel, simulator, parameters, waves) configuration once, in its own build directory
  (a reused directory would silently ignore parameter changes), guarded by a file lock so that
  `pytest -n` workers never build the same directory at the same time;
* skips the build when sources, parameters and flags are unchanged (a content hash, not timestamps);
* runs the cocotb module in a private test directory and turns any failing cocotb test into a
  pytest failure whose message names the failing tests and the command that reproduces them.

Environment knobs (all optional): SEED=<int>, WAVES=1, TESTCASE=<cocotb test name>.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from cocotb_tools.runner import get_runner

from tb.common.tools import BUILD, ROOT, require, setup_tool_env

SIMULATORS = ("icarus", "verilator")


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


def _build_args(sim: str, waves: bool) -> list[str]:
    if sim == "verilator":
        # SVA lives behind SYSTOLE_SVA because Icarus rejects concurrent assertions.
        args = ["--assert", "-DSYSTOLE_SVA", "-Wno-fatal"]
        return args + (["--trace-fst", "--trace-structs"] if waves else [])
    return []


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
    waves = os.environ.get("WAVES", "") not in ("", "0")
    testcase = os.environ.get("TESTCASE") or testcase
    seed = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 2**31))

    setup_tool_env()
    require("iverilog" if sim == "icarus" else "verilator")

    name = f"{toplevel}.{sim}.{_tag(parameters)}{'.' + variant if variant else ''}{'.waves' if waves else ''}"
    build_dir = BUILD / name
    build_dir.mkdir(parents=True, exist_ok=True)
    build_args = _build_args(sim, waves)
    digest = _digest(sources, [toplevel, sim, parameters, build_args, waves])
    runner = get_runner(sim)

    with open(build_dir.with_suffix(build_dir.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = build_dir / ".systole-build"
        if not stamp.is_file() or stamp.read_text() != digest:
            stamp.unlink(missing_ok=True)
            runner.build(
                sources=[str(s) for s in sources],
                hdl_toplevel=toplevel,
                parameters=parameters,
                build_args=build_args,
                build_dir=build_dir,
                timescale=("1ns", "1ps"),
                waves=waves,
                always=True,
                log_file=build_dir / "build.log",
            )
            stamp.write_text(digest)

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    cases = [testcase] if isinstance(testcase, str) else list(testcase or ["all"])
    case_tag = re.sub(r"[^A-Za-z0-9_]+", "_", ",".join(cases))
    test_dir = build_dir / f"run.{test_module.rsplit('.', 1)[-1]}.{case_tag}.{worker}"
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
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
    tests, failed = _results(xml)
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0] or "<test>"
    case = f"TESTCASE={failed[0]} " if failed else ""
    assert tests and not failed, (
        f"{toplevel} {parameters} on {sim}: failed {failed or 'to run any test'} (seed {seed}); "
        f"reproduce with: SEED={seed} {case}.venv/bin/pytest '{node}'  (log: {test_dir})"
    )
    return test_dir
