"""The formal proofs as pytest tests (docs/formal.md): every task of every tb/formal/*.sby must PASS, and
each proof must FAIL on a deliberately broken copy of the RTL (so none of them is vacuous).

A mutant copies rtl/, tb/formal/ and tb/sva/ to a temporary tree, replaces one exact text (it must occur
exactly once) and runs one proof there, as BMC to depth 12, with scripts/formal.py --root; the named
assertion must fail with a counterexample from reset.
`make formal` runs the proofs (with a table and out/formal/summary.json) and then these tests.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import formal  # noqa: E402

TASKS = [f"{sby.stem}_{task}" for sby in sorted((ROOT / "tb" / "formal").glob("*.sby"))
         for task, _, _ in formal.tasks(sby)]

# name: (file under the tree, exact text, replacement, task to run, regex of the assertion that must fail)
MUTANTS = {
    "csr_ro_write_okay": ("rtl/tpu_csr.sv", "(!w_writable ? RespSlvErr : RespOkay)", "RespOkay",
                          "csr_prove", "WriteResp"),
    "csr_event_loses": ("rtl/tpu_csr.sv", "irq_st_q <= (irq_st_q & ~wbits[IrqW-1:0]) | irq_set;",
                        "irq_st_q <= (irq_st_q | irq_set) & ~wbits[IrqW-1:0];", "csr_prove", "IrqW1c"),
    "csr_bvalid_not_held": ("rtl/tpu_csr.sv", "end else if (s_axil_bready) begin\n        b_valid_q <= 1'b0;",
                            "end else begin\n        b_valid_q <= 1'b0;", "csr_prove", "BHold"),
    "dma_drop_wlast": ("rtl/tpu_dma.sv", "assign m_axi_wlast   = wbeat_q == lf_q[lf_rp_q];",
                       "assign m_axi_wlast   = 1'b0;", "dma_prove", "WLastBeat"),
    "dma_no_4k_split": ("rtl/tpu_dma.sv", "if (CmpW'(burst) > CmpW'(to4k)) burst = TotW'(to4k);", "",
                        "dma_prove", "A[rw]4k"),
    "dma_burst_too_long": ("rtl/tpu_dma.sv", "if (burst > TotW'(MaxBurst)) burst = TotW'(MaxBurst);",
                           "if (burst > TotW'(MaxBurst + 1)) burst = TotW'(MaxBurst + 1);", "dma_prove",
                           "A[rw]Burst"),
    "csr_abort_lets_start": ("rtl/tpu_csr.sv", "= start_req && !(run_q || busy_i || abort_req);",
                             "= start_req && !(run_q || busy_i);", "csr_prove", "StartRule"),
    "dma_window_runs": ("rtl/tpu_dma.sv", "<= cmd_err == 8'(DmaErrNone) ? StRun : StDone;",
                        "<= cmd_err inside {8'(DmaErrNone), 8'(DmaErrWindow)} ? StRun : StDone;",
                        "dma_prove", "NoBusOnCommandError|InvErr"),
    "dma_proto_ignored": ("rtl/tpu_dma.sv", "end else if (r_hs && r_proto) begin", "end else if (1'b0) begin",
                          "dma_prove", "ProtoStops|ProtoNeverOk"),
    "dma_timeout_late": ("rtl/tpu_dma.sv", "&& tmo_q >= timeout_i - 32'd1;", "&& tmo_q >= timeout_i;",
                         "dma_prove", "TimeoutAt|TimeoutOnlyThen"),
    "dma_read_never_ends": ("rtl/tpu_dma.sv", "if (ax_done) state_q <= hung_q ? StIdle : StDone;",
                            "if (ax_done && dir_q == 1'(DmaDirToHost)) state_q <= hung_q ? StIdle : StDone;",
                            "dma_progress", "Progress"),
    "pe_swap_late": ("rtl/tpu_pe.sv", "assign w_use = swap ? shadow_q : active_q;",
                     "assign w_use = active_q;", "array_prove", "WeightOfRow"),
    "pe_prod_of_shadow": ("rtl/tpu_pe.sv", "* ProdW'($signed(active_q));", "* ProdW'($signed(shadow_q));",
                          "array_prove", "ProdOfRow"),
}


def test_every_proof_is_unbounded() -> None:
    """Every job proves by k-induction (no bounded `bmc` task) and shows its covers reachable."""
    for sby in sorted((ROOT / "tb" / "formal").glob("*.sby")):
        modes = [mode for _, mode, _ in formal.tasks(sby)]
        assert set(modes) <= {"prove", "cover"}, f"{sby.name}: tasks in modes {modes}"
        assert "prove" in modes and "cover" in modes, f"{sby.name}: needs a prove and a cover task"


def run(root: Path, task: str, out: Path) -> str:
    """Run one task; return its status and its log."""
    code = formal.main(["--root", str(root), "--out", str(out), "-k", task])
    return ("PASS" if code == 0 else "FAIL") + "\n" + "\n".join(p.read_text() for p in out.glob("*.log"))


@pytest.mark.parametrize("task", TASKS)
def test_proof(task: str, tmp_path: Path) -> None:
    status = run(ROOT, task, tmp_path).split("\n", 1)[0]
    assert status == "PASS", f"{task} failed: see {tmp_path}"


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_proof_fails_on_mutant(mutant: str) -> None:
    path, old, new, task, assertion = MUTANTS[mutant]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        for sub in ("rtl", "tb/formal", "tb/sva"):
            shutil.copytree(ROOT / sub, tree / sub, ignore=shutil.ignore_patterns("__pycache__"))
        target = tree / path
        text = target.read_text()
        assert text.count(old) == 1, f"{mutant}: the text to replace must occur exactly once in {path}"
        target.write_text(text.replace(old, new))
        # Run the proof's task as BMC: a failure is then a real trace from reset, never only a failed
        # induction step from an unreachable state.
        job, name = task.rsplit("_", 1)
        sby = tree / "tb" / "formal" / f"{job}.sby"
        sby.write_text(re.sub(rf"^{name}: mode prove$", f"{name}: mode bmc", sby.read_text(), flags=re.M)
                       .replace(f"{name}: depth ", f"{name}: depth 12\n# was: "))
        status, log = run(tree, task, tree / "out").split("\n", 1)
        assert status == "FAIL", f"{mutant}: {task} still passes on the broken RTL"
        # A base-case failure ("... step N"): a real trace from reset, not only a failed induction step.
        fired = re.search(rf"failed assertion \S*(?:{assertion})\b.* step \d+", log)
        assert fired, f"{mutant}: {task} has no counterexample from reset on {assertion}"
