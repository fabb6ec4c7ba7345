"""The regression's own machinery: shards partition the suite; soak seed lists are reproducible.

* test_shards_partition_the_suite: `make test SHARD=i/3` for i = 1..3 (pytest-split over the checked-in
  tb/test_durations.json) selects every test of the full suite (models and tb, both simulators) exactly
  once: collect-only, so it takes seconds.
* test_soak_seeds: scripts/soak.py's seed list is a pure function of the master seed, of distinct seeds,
  and its soak node ids map back to the plain node and seed of the reproduce command.
* test_soak_seed_reaches_the_run: a simulator test run by the soak sees its own seed in SEED (what the
  runner seeds cocotb with), so the soak's reproduce command names the seed that actually ran.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter

import pytest

from tb.common.tools import ROOT

SHARDS = 3


def collect(*extra: str) -> list[str]:
    env = dict(os.environ, SIM="both")
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "models", "tb", *extra]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return [line for line in res.stdout.splitlines() if "::" in line]


def test_shards_partition_the_suite() -> None:
    full = collect()
    assert len(full) == len(set(full)) and len(full) > 300
    split = ["--splits", str(SHARDS), "--durations-path", "tb/test_durations.json",
             "--splitting-algorithm", "least_duration"]
    shards = [collect(*split, "--group", str(i)) for i in range(1, SHARDS + 1)]
    counts = Counter(node for shard in shards for node in shard)
    assert all(shards), "a shard is empty"
    assert not [n for n, c in counts.items() if c > 1], "a test is in more than one shard"
    assert set(counts) == set(full), f"missing {set(full) - set(counts)}, extra {set(counts) - set(full)}"


def load_soak():
    spec = importlib.util.spec_from_file_location("systole_soak", ROOT / "scripts" / "soak.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_soak_seeds() -> None:
    soak = load_soak()
    seeds = soak.seed_list(12345, 100)
    assert seeds == soak.seed_list(12345, 100) and len(set(seeds)) == 100
    assert seeds != soak.seed_list(12346, 100)
    assert all(1 <= s < 2**31 for s in seeds)
    node, seed = soak.split_node("tb/pe/test_pe.py::test_pe[icarus-seed42]")
    assert (node, seed) == ("tb/pe/test_pe.py::test_pe[icarus]", 42)
    expected = "SEED=42 SIM=icarus .venv/bin/pytest -q 'tb/pe/test_pe.py::test_pe[icarus]'"
    assert soak.reproduce(node, seed, "both") == expected
    vpu = "tb/vpu/test_vpu.py::test_vpu"
    assert soak.split_node(f"{vpu}[icarus-seed7-4]") == (f"{vpu}[icarus-4]", 7)
    with pytest.raises(ValueError):
        soak.split_node("tb/pe/test_pe.py::test_pe[icarus]")


SEED_PROBE = """
import os

def test_probe(sim, request):
    assert os.environ.get("SEED") == str(request.node.callspec.params["soak_seed"]), os.environ.get("SEED")
"""


def test_soak_seed_reaches_the_run(tmp_path) -> None:
    (tmp_path / "conftest.py").write_text("from tb.conftest import *  # noqa: F403\n")
    (tmp_path / "test_probe.py").write_text(SEED_PROBE)
    env = dict(os.environ, SIM="both", PYTHONPATH=str(ROOT))
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("SEED", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "--soak-seeds", "4242,77", str(tmp_path)]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "4 passed" in res.stdout, res.stdout + res.stderr
