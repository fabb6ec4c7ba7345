"""Every assertion has a negative test: each `<label>: assert` in rtl/*.sv and tb/sva/*.sv must be shown
firing by a registered simulation test (tb/sva/test_sva.py, tb/sva/test_rtl_assertions.py), and
docs/formal.md's table "Negative tests" must list exactly those pairs.

A new assertion without a negative test, a negative test of an assertion that no longer exists, or a
table that drifted from the tests fails here. No simulator runs: the tests themselves are elsewhere.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from tb.sva import test_rtl_assertions, test_sva

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "rtl").glob("*.sv")) + sorted((ROOT / "tb" / "sva").glob("*.sv"))
DOC = ROOT / "docs" / "formal.md"
# The checker bound into each DUT of test_sva's hand-driven and mutant cases.
BOUND = {"tpu_csr": "tpu_axil_checker", "tpu_dma": "tpu_axi_checker"}


def assertion_labels(path: Path) -> set[str]:
    """`<module>.<label>` of every labelled assertion (immediate or concurrent) in one SystemVerilog file."""
    text = re.sub(r"//[^\n]*", "", path.read_text())
    labels: set[str] = set()
    for module, body in re.findall(r"^\s*module\s+(\w+)(.*?)^\s*endmodule", text, re.S | re.M):
        labels |= {f"{module}.{label}" for label in re.findall(r"\b(\w+)\s*:\s*assert\b", body)}
    return labels


def registered() -> dict[str, set[str]]:
    """`<module>.<label>` -> the pytest ids of the negative tests that expect exactly it to fire."""
    reg: dict[str, set[str]] = defaultdict(set)
    sva, rtl = "test_sva.py", "test_rtl_assertions.py"
    for case, (top, label) in test_sva.HAND.items():
        reg[f"{BOUND[top]}.{label}"].add(f"{sva}::test_checker_fires[{case}]")
    for case, (top, *_, label) in test_sva.MUTANTS.items():
        reg[f"{BOUND[top]}.{label}"].add(f"{sva}::test_checker_fires_on_mutant[{case}]")
    for case, (module, label) in test_sva.ALONE.items():
        reg[f"{module}.{label}"].add(f"{sva}::test_checker_alone_fires[{case}]")
    for c in test_rtl_assertions.CASES:
        if c.sim == "verilator":  # the Icarus case is the X/Z monitor, not an assertion
            reg[c.label].add(f"{rtl}::test_check_fires[{c.testcase}]")
    return reg


def documented() -> dict[str, set[str]]:
    """The rows of docs/formal.md's "Negative tests" table: `<module>.<label>` | test ids | how."""
    text = DOC.read_text()
    section = text.split("## Negative tests", 1)[1].split("\n## ", 1)[0]
    doc: dict[str, set[str]] = defaultdict(set)
    for label, tests in re.findall(r"^\| `(\w+\.\w+)` \| ([^|]*) \|", section, re.M):
        doc[label] |= set(re.findall(r"`([^`]+)`", tests))
    return doc


def test_labels_are_found() -> None:
    labels = set().union(*map(assertion_labels, SOURCES))
    # A sample of each kind, so that a parser that finds nothing cannot pass the tests below.
    for label in ("tpu_dma.RspFifoBounded", "tpu_vpu.VpuLatency", "tpu_axi_checker.WAfterAw",
                  "tpu_axil_checker.RdPendBound"):
        assert label in labels, f"{label} not found by the parser"


def test_every_assertion_has_a_negative_test() -> None:
    labels = set().union(*map(assertion_labels, SOURCES))
    reg = registered()
    missing = sorted(labels - set(reg))
    assert not missing, f"assertions without a negative test (tb/sva/test_*.py): {missing}"
    stale = sorted(set(reg) - labels)
    assert not stale, f"negative tests of assertions that do not exist: {stale}"


def test_docs_table_matches_the_tests() -> None:
    reg, doc = registered(), documented()
    assert doc, f"no 'Negative tests' table in {DOC}"
    for label in sorted(set(reg) | set(doc)):
        listed, tests = sorted(doc.get(label, ())), sorted(reg.get(label, ()))
        assert listed == tests, f"{label}: docs/formal.md lists {listed}, the tests are {tests}"
