"""pytest glue for tb/: simulator parametrization, longest-first ordering, the build pass, the timing summary.

* Every testbench entry point taking `sim` runs once per selected simulator (SIM=...).
* Tests run longest first (durations from the checked-in tb/test_durations.json, the same file
  pytest-split shards by), so the slow tpu_top configurations start at once instead of last.
* `--build-only` (make test's first pass): every selected test only builds its HDL configuration
  (runner.build, the same function and the same build directories the tests use) and is skipped, so the
  builds run in parallel, longest first, and the test pass finds them done.
* `--timing-summary`: at the end of the session, build seconds per configuration and test seconds per test
  file on stdout and in out/timing.json.
* `--soak-seeds=a,b,...` (scripts/soak.py): every simulator test runs once per seed (SEED=<seed>, a
  `-seed<seed>` suffix on its id); `--soak-report=<file>` writes one JSON line per (test, seed) outcome.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict

import pytest

from tb.common.runner import TIMING, selected_simulators
from tb.common.tools import ROOT

DURATIONS = ROOT / "tb" / "test_durations.json"
TIMING_JSON = ROOT / "out" / "timing.json"


def pytest_addoption(parser):
    parser.addoption("--build-only", action="store_true",
                     help="only build every selected test's HDL configuration (skip the tests)")
    parser.addoption("--timing-summary", action="store_true",
                     help="print build seconds per configuration and test seconds per file at the end")
    parser.addoption("--soak-seeds", default="", help="comma-separated seeds: every sim test once per seed")
    parser.addoption("--soak-report", default="", help="JSON lines file for the outcome of each soak run")


def pytest_configure(config):
    global _soak_report_path
    config._systole_start = time.time()
    if config.getoption("--soak-report"):
        _soak_report_path = config.getoption("--soak-report")
    if config.getoption("--build-only"):
        os.environ["SYSTOLE_BUILD_ONLY"] = "1"


def soak_seeds(config) -> list[int]:
    return [int(s) for s in config.getoption("--soak-seeds").split(",") if s.strip()]


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", selected_simulators())
        seeds = soak_seeds(metafunc.config)
        if seeds:
            metafunc.fixturenames.append("soak_seed")
            metafunc.parametrize("soak_seed", seeds, ids=[f"seed{s}" for s in seeds])


@pytest.fixture(autouse=True)
def soak_seed_env(request, monkeypatch):
    """The soak's seed for this run into SEED, which the runner reads. (A fixture named soak_seed would not
    run: the direct parameter above takes its place, and SEED stayed random.)"""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "soak_seed" in callspec.params:
        monkeypatch.setenv("SEED", str(callspec.params["soak_seed"]))


def pytest_runtest_logreport(report):
    # Written where the test ran (an xdist worker, or the only process), not by the controller's copy.
    path = _soak_report_path
    if path is None or getattr(report, "node", None) is not None:
        return
    if not re.search(r"-seed\d+[-\]]", report.nodeid):
        return
    if report.when == "call" or report.failed:
        line = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
                "seconds": round(report.duration, 2),
                "message": str(report.longrepr)[-2000:] if report.failed else ""}
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")


_soak_report_path: str | None = None


def known_durations() -> dict[str, float]:
    """Seconds per test node id, as recorded in tb/test_durations.json (empty when missing)."""
    try:
        return json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # trylast: after pytest-split has picked this shard's tests, so ordering never changes the split.
    if config.getoption("--build-only"):
        keep = [it for it in items if hasattr(it, "callspec") and "sim" in it.callspec.params]
        config.hook.pytest_deselected(items=[it for it in items if it not in keep])
        items[:] = keep
    durations = known_durations()
    items.sort(key=lambda it: -durations.get(it.nodeid, 0.0))


def _build_rows(since: float) -> list[dict]:
    if not TIMING.is_file():
        return []
    rows = [json.loads(line) for line in TIMING.read_text().splitlines() if line.strip()]
    return sorted((r for r in rows if r["end"] >= since), key=lambda r: -r["wall_s"])


def _file_rows(terminalreporter) -> list[tuple[str, float, int]]:
    seconds: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if isinstance(rep, pytest.TestReport):
                path = rep.nodeid.split("::", 1)[0]
                seconds[path] += rep.duration
                count[path] += rep.when == "call"
    return sorted(((p, seconds[p], count[p]) for p in seconds), key=lambda r: -r[1])


def _since(config) -> float:
    """Builds to report: this session's, and those of a build pass that ended just before it (make test)."""
    start = config._systole_start
    if config.getoption("--build-only") or not TIMING_JSON.is_file():
        return start
    try:
        build_pass = json.loads(TIMING_JSON.read_text()).get("build_pass", {})
    except ValueError:
        return start
    if 0 <= start - build_pass.get("end", 0) < 300:
        return build_pass.get("start", start)
    return start


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not config.getoption("--timing-summary") or hasattr(config, "workerinput"):
        return
    start = config._systole_start
    builds = _build_rows(_since(config))
    files = _file_rows(terminalreporter)
    now = time.time()
    timing = json.loads(TIMING_JSON.read_text()) if TIMING_JSON.is_file() else {}
    key = "build_pass" if config.getoption("--build-only") else "test_pass"
    timing[key] = {"start": start, "end": now, "wall_s": round(now - start, 1), "builds": builds,
                   "files": [{"file": p, "tests": n, "seconds": round(s, 2)} for p, s, n in files]}
    TIMING_JSON.parent.mkdir(parents=True, exist_ok=True)
    TIMING_JSON.write_text(json.dumps(timing, indent=1) + "\n")
    if config.getoption("--build-only"):
        return  # the test pass that follows reports these builds
    tr = terminalreporter
    tr.section("timing summary")
    if builds:
        tr.write_line(f"{'build (configuration)':64} {'wall s':>8} {'cpu s':>8}")
        for b in builds:
            tr.write_line(f"{b['config']:64} {b['wall_s']:8.1f} {b['cpu_s']:8.1f}")
        total = f"total ({len(builds)} builds)"
        wall_s, cpu_s = sum(b["wall_s"] for b in builds), sum(b["cpu_s"] for b in builds)
        tr.write_line(f"{total:64} {wall_s:8.1f} {cpu_s:8.1f}")
    else:
        tr.write_line("builds: none (every configuration was already built)")
    if files:
        tr.write_line(f"{'test file':64} {'tests':>8} {'s':>8}")
        for path, secs, n in files:
            tr.write_line(f"{path:64} {n:8d} {secs:8.1f}")
    build_pass = timing.get("build_pass", {})
    if _since(config) != start:
        tr.write_line(f"build pass wall time: {build_pass['end'] - build_pass['start']:.1f} s")
    tr.write_line(f"{'test pass' if _since(config) != start else 'session'} wall time: {now - start:.1f} s")


def pytest_sessionfinish(session, exitstatus):
    # The build pass skips every test on purpose; its exit code must not read as "no tests ran".
    if session.config.getoption("--build-only") and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
