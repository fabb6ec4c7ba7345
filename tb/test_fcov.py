"""The functional-coverage model (tb/common/fcov.py) without a simulator: its classifiers put each case in
the right bin, a sample hits exactly its bins, and the report merges runs and names what was missed."""

from __future__ import annotations

import numpy as np
import pytest
from cocotb_coverage.coverage import coverage_db

from models import vpu as V
from tb.common import fcov


@pytest.mark.parametrize(
    ("a", "b", "rel"),
    [
        ((0, 4), (8, 4), "disjoint"),
        ((8, 4), (0, 4), "disjoint"),
        ((0, 4), (4, 4), "adjacent_below"),
        ((4, 4), (0, 4), "adjacent_above"),
        ((0, 5), (4, 4), "overlap1_below"),
        ((7, 4), (4, 4), "overlap1_above"),
        ((5, 2), (4, 4), "nested"),
        ((4, 8), (4, 4), "nested"),
        ((4, 4), (4, 4), "identical"),
        ((2, 4), (4, 4), None),  # two words of overlap: no bin of its own
    ],
)
def test_relation(a, b, rel) -> None:
    assert fcov.relation(a, b) == rel


def test_shape_class() -> None:
    assert [fcov.shape_class(n, 4) for n in (3, 4, 8, 9)] == ["below_p", "equal_p", "multiple_p",
                                                              "other_above_p"]


def _hits(point: str) -> dict[str, int]:
    return dict(coverage_db[f"{fcov.ROOT}.{point}"].detailed_coverage)


@pytest.fixture
def fcov_on(monkeypatch, tmp_path):
    monkeypatch.setenv(fcov.ENV, str(tmp_path))


def test_sampling_is_off_without_the_knob(monkeypatch) -> None:
    monkeypatch.delenv(fcov.ENV, raising=False)
    before = _hits("gemm.shape")
    fcov.sample_gemm(3, 3, 3, 4, 64, 64, 64)
    assert _hits("gemm.shape") == before


def test_gemm_bins(fcov_on) -> None:
    before = _hits("gemm.shape")
    # UB 64, WM 32, ACC 64 words, P 4: M=16 rows of K=16 (4 tiles) fill UB; N=8 (2 tiles) with 4*2*4 = 32
    # WMEM words fills WMEM, so K and N are the largest the memories allow for the other two.
    fcov.sample_gemm(16, 16, 8, 4, 64, 32, 64)
    after = _hits("gemm.shape")
    grew = {b for b in after if after[b] > before[b]}
    assert grew == {"M.multiple_p", "K.multiple_p", "N.multiple_p", "M.max", "K.max", "N.max"}


def test_vpu_corners(fcov_on) -> None:
    before = _hits("vpu.corners")
    lo, hi = V.DATA_MIN, V.DATA_MAX
    # shift 8: 0x180 is a tie (1.5 -> 2), hi << 9 and lo << 9 saturate both ways.
    rows = np.array([[0x180, hi << 9, lo << 9, -256]], dtype=np.int64)
    cfg = V.VpuConfig(act_en=True, act=V.ACT_RELU)
    fcov.sample_vpu(rows, cfg, np.zeros(4, np.int64), np.zeros((1, 4), np.int64))
    after = _hits("vpu.corners")
    grew = {b for b in after if after[b] > before[b]}
    assert grew == {"requant.sat_pos", "requant.sat_neg", "requant.tie", "act.relu.neg", "act.relu.pos"}


def test_report_merges_runs_and_lists_misses(fcov_on, tmp_path) -> None:
    point = f"{fcov.ROOT}.axil.strobes"
    run1, run2 = tmp_path / "a.yml", tmp_path / "b.yml"
    run1.write_text(f"{point}:\n  bins:_hits:\n    all: 2\n    partial: 0\n    none: 0\n")
    run2.write_text(f"{point}:\n  bins:_hits:\n    all: 0\n    partial: 1\n    none: 0\n")
    summary = fcov.report([run1, run2], tmp_path / "out")
    strobes = summary["points"]["axil.strobes"]
    assert (strobes["bins"], strobes["hit"], strobes["missed"]) == (3, 2, ["none"])
    assert summary["bins"] == sum(len(b) for b in fcov.model().values())
    assert "missed in axil.strobes: none" in (tmp_path / "out" / "functional.txt").read_text()


@pytest.mark.parametrize(("codes", "failed"), [((0, 0), False), ((0, 1), True), ((0, -15), True),
                                               ((-9, 0), True)])
def test_coverage_regression_status(monkeypatch, tmp_path, codes, failed) -> None:
    """scripts/coverage.py: a regression pass that fails, or is killed by a signal (a negative return
    code), makes the run fail; max() of the codes once took a killed pass for a success."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    # By path: `coverage` is also the name of a PyPI package.
    script = Path(__file__).resolve().parents[1] / "scripts" / "coverage.py"
    spec = importlib.util.spec_from_file_location("systole_coverage_script", script)
    cov_script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, cov_script)  # its dataclasses look the module up
    spec.loader.exec_module(cov_script)

    runs = iter(codes)

    def fake_run(cmd, **kwargs):
        code = 0 if "--build-only" in cmd else next(runs)
        return subprocess.CompletedProcess(cmd, code)

    monkeypatch.setattr(cov_script.subprocess, "run", fake_run)
    monkeypatch.setattr(cov_script, "COVERAGE_DATA", tmp_path / "data")
    monkeypatch.setattr(cov_script, "FUNCTIONAL_DATA", tmp_path / "functional")
    rc = cov_script.run_regression(1, None, ["verilator", "icarus"])
    assert (rc != 0) == failed, (codes, rc)
