"""Every entry point refuses a bad option up front: one line naming the option, exit status 2, no traceback.

One case per class of bad option of scripts/demo.py, scripts/bench.py, scripts/viz.py, scripts/tpu_asm.py
and the make knobs (SIM, SEED, JOBS, WAVES, TEST). Each runs the real command in a subprocess; all of them
start at once and none builds or simulates anything (nothing may reach stdout, where a run reports progress).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _script(name: str, *args: str) -> list[str]:
    return [PY, str(ROOT / "scripts" / name), *args]


def _make(*knobs: str) -> list[str]:
    return ["make", "-s", "-C", str(ROOT), "help", *knobs]


# (case id, command, the option the line must name, a word of the allowed values it must give)
CASES = [
    ("demo-p-not-pow2", _script("demo.py", "--array-size", "3"), "--array-size", "power of two"),
    ("demo-p-range", _script("demo.py", "--array-size", "32"), "--array-size", "2 to 16"),
    ("demo-epochs-negative", _script("demo.py", "--epochs", "-1"), "--epochs", ">= 0"),
    ("demo-nothing-to-train", _script("demo.py", "--epochs", "0", "--xor-epochs", "0"), "--epochs", ">= 1"),
    ("demo-batch-zero", _script("demo.py", "--batch", "0"), "--batch", ">= 1"),
    ("demo-batch-too-big", _script("demo.py", "--batch", "5000"), "--batch", "1..1347"),
    ("demo-network-too-big", _script("demo.py", "--hidden", "5000"), "--hidden", "1..72"),
    ("demo-lr", _script("demo.py", "--lr", "100"), "--lr", "lr*2/batch"),
    ("demo-seed", _script("demo.py", "--seed", "-1"), "--seed", ">= 0"),
    ("demo-choice", _script("demo.py", "--sim", "modelsim"), "--sim", "icarus"),
    ("demo-not-int", _script("demo.py", "--epochs", "two"), "--epochs", "int"),
    ("bench-p-not-pow2", _script("bench.py", "--p", "3"), "--p", "power"),
    ("bench-p-range", _script("bench.py", "--no-e2e", "--p", "1"), "--p", "2 to 16"),
    ("bench-p-repeated", _script("bench.py", "--p", "4", "4"), "--p", "distinct"),
    ("bench-max-shapes", _script("bench.py", "--max-shapes", "-1"), "--max-shapes", ">= 0"),
    ("viz-array-size", _script("viz.py", "--array-size", "1"), "--array-size", "2 to 8"),
    ("viz-step-p", _script("viz.py", "--step-array-size", "6"), "--step-array-size", "4, 8 or 16"),
    ("viz-network", _script("viz.py", "--hidden", "5000"), "--hidden", "fits the chip"),
    ("viz-only", _script("viz.py", "--only", "gantt"), "--only", "staircase"),
    ("asm-p", _script("tpu_asm.py", "sim", "x.s", "--p", "0"), "--p", "1 to 64"),
    ("asm-at", _script("tpu_asm.py", "sim", "x.s", "--ub-at", "-4"), "--ub-at", ">= 0"),
    ("asm-steps", _script("tpu_asm.py", "sim", "x.s", "--max-steps", "0"), "--max-steps", ">= 1"),
    ("asm-command", _script("tpu_asm.py", "simulate", "x.s"), "cmd", "asm"),
    ("make-sim", _make("SIM=questa"), "SIM", "icarus, verilator, both"),
    ("make-seed", _make("SEED=-5"), "SEED", "non-negative integer"),
    ("make-jobs", _make("JOBS=0"), "JOBS", "positive integer"),
    ("make-waves", _make("WAVES=yes"), "WAVES", "0 or 1"),
    ("make-test", _make("TEST=core and"), "TEST", "-k expression"),
]


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess]:
    """Run every case at once (they are independent and mostly wait on imports)."""
    procs = {cid: subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cid, cmd, _, _ in CASES}
    out = {}
    for cid, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[cid] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize(("cid", "option", "allowed"), [(c, o, a) for c, _, o, a in CASES],
                         ids=[c for c, *_ in CASES])
def test_bad_option_is_refused(results, cid: str, option: str, allowed: str) -> None:
    r = results[cid]
    lines = r.stderr.splitlines()
    assert r.returncode == 2, f"{cid}: exit status {r.returncode}, stderr {r.stderr!r}"
    assert len(lines) == 1, f"{cid}: expected one line on stderr, got {lines}"
    assert "Traceback" not in r.stderr
    assert option in lines[0] and allowed in lines[0], f"{cid}: {lines[0]!r} lacks {option!r} / {allowed!r}"
    assert r.stdout == "", f"{cid}: printed {r.stdout!r} (started a run?)"


def test_good_knobs_pass() -> None:
    """The knob check itself accepts good values (so the failures above are about the values)."""
    r = subprocess.run(_make("SIM=icarus", "SEED=7", "JOBS=2", "WAVES=1", "TEST=core and not 8"), cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_good_demo_options_pass() -> None:
    """The defaults and docs/demo.md's examples validate (so the refusals above are about the values)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("systole_demo_cli", ROOT / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = demo
    spec.loader.exec_module(demo)
    example = "--sim icarus --array-size 4 --hidden 16 --batch 16 --train-limit 320 --xor-epochs 20"
    core3 = "--transport core --array-size 3 --hidden 16"
    for argv in ([], ["--epochs", "10"], ["--epochs", "0"], core3.split(), example.split()):
        demo.validate(demo.parse_args(argv))
