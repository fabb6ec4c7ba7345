"""scripts/tpu_asm.py: asm -> hex -> disasm round trip, sim results, file:line errors."""

from __future__ import annotations

import importlib.util

import numpy as np

from models.fixed_point import matmul_acc, random_codes
from models.hw import PKG
from models.programs import gemm_program

_spec = importlib.util.spec_from_file_location("tpu_asm", PKG.parents[1] / "scripts" / "tpu_asm.py")
tpu_asm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tpu_asm)


def test_asm_disasm_sim(tmp_path, capsys):
    text, lay = gemm_program(4, 4, 4, 4)
    src = tmp_path / "g.s"
    src.write_text(text)
    assert tpu_asm.main(["asm", str(src), "-o", str(tmp_path / "g.hex")]) == 0
    assert tpu_asm.main(["disasm", str(tmp_path / "g.hex")]) == 0
    out = capsys.readouterr().out
    assert "LDW 0\nMATMUL 0, 0, 4, SWAP\nHALT\n" in out
    rng = np.random.default_rng(5)
    x, w = random_codes(rng, (4, 4)), random_codes(rng, (4, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    args = ["sim", str(tmp_path / "g.hex"), "--p", "4", "--ub", str(tmp_path / "x.npy"),
            "--wm", str(tmp_path / "w.npy"), "--save-acc", str(tmp_path / "acc.npy")]
    assert tpu_asm.main(args) == 0
    assert "status=ErrNone" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "acc.npy")[:4], matmul_acc(x, w))


def test_errors_print_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.s"
    bad.write_text("NOP\n\nMATMUL 0, 0, 0\n")
    assert tpu_asm.main(["asm", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"{bad}:3: field M=0 out of range 1..4095"
    bad.write_text("NOP\nMATMUL 4000, 0, 100\nHALT\n")
    assert tpu_asm.main(["sim", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == f"{bad}:2: ErrAddr at pc 1"
