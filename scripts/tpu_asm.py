#!/usr/bin/env python3
"""Systole assembler, disassembler and instruction-level simulator (docs/isa.md).

    tpu_asm.py asm in.s -o out.hex          one 16-digit hex word per line ($readmemh format)
    tpu_asm.py disasm in.hex                canonical assembly on stdout (--listing: with addresses)
    tpu_asm.py sim in.s --p 4 [--ub f.npy] [--wm f.npy] [--acc f.npy] [--save-ub f.npy ...]

Data files are .npy integer arrays [rows, P] of raw codes, loaded from word 0 (or --ub-at etc.).
Errors print `file:line: message` and exit with status 1; a bad option prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import Parser, UsageError, check, usage_exit  # noqa: E402

from models.asm import AsmError, Program, assemble_program, disassemble, listing  # noqa: E402
from models.isa import ERROR_NAMES, INSTR_MASK  # noqa: E402
from models.isa_sim import ARRAY_SIZE, MachineState, run_status  # noqa: E402


class CliError(Exception):
    pass


def _assemble_file(path: Path) -> Program:
    try:
        return assemble_program(path.read_text())
    except AsmError as e:
        raise CliError(f"{path}:{e.line}: {e.message}") from None


def _read_hex(path: Path) -> list[int]:
    words = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("//")[0].strip()
        if not text:
            continue
        try:
            value = int(text, 16)
        except ValueError:
            raise CliError(f"{path}:{n}: not a hex word: {text!r}") from None
        if value > INSTR_MASK:
            raise CliError(f"{path}:{n}: {text} does not fit 64 bits")
        words.append(value)
    return words


def cmd_asm(args: argparse.Namespace) -> None:
    prog = _assemble_file(args.source)
    out = args.output or args.source.with_suffix(".hex")
    out.write_text("".join(f"{w:016x}\n" for w in prog.words))
    print(f"{out}: {len(prog.words)} instructions")


def cmd_disasm(args: argparse.Namespace) -> None:
    words = _read_hex(args.source)
    sys.stdout.write(listing(words) if args.listing else disassemble(words))


def _load(state: MachineState, mem: str, path: Path | None, at: int) -> None:
    if path is None:
        return
    data = np.load(path)
    target = getattr(state, mem)
    if data.dtype.kind not in "iu" or data.ndim != 2 or data.shape[1] != state.P:
        raise CliError(f"{path}: expected an integer array [rows, {state.P}], got {data.dtype} {data.shape}")
    if at + data.shape[0] > target.shape[0]:
        depth = target.shape[0]
        raise CliError(f"{path}: {data.shape[0]} rows at {at} do not fit {mem.upper()} ({depth} words)")
    target[at:at + data.shape[0]] = data


def _summary(name: str, mem: np.ndarray, rows: int) -> str:
    used = np.flatnonzero(mem.any(axis=1))
    head = f"{name}: {len(used)} non-zero words of {mem.shape[0]}"
    if not len(used):
        return head
    lo = int(used[0])
    lines = [head + f", first at {lo}:"]
    for a in range(lo, min(lo + rows, len(mem))):
        lines.append(f"  [{a:4d}] " + " ".join(f"{int(v):>11d}" for v in mem[a]))
    return "\n".join(lines)


def cmd_sim(args: argparse.Namespace) -> int:
    if args.source.suffix == ".hex":
        prog = Program(_read_hex(args.source), [])
    else:
        prog = _assemble_file(args.source)
    state = MachineState.new(args.p)
    _load(state, "ub", args.ub, args.ub_at)
    _load(state, "wm", args.wm, args.wm_at)
    _load(state, "acc", args.acc, args.acc_at)
    try:
        state, code, pc = run_status(prog.words, state, max_steps=args.max_steps)
    except ValueError as e:
        raise CliError(f"{args.source}: {e}") from None
    print(f"P={state.P}  pc={pc}  status={ERROR_NAMES[code]} ({code})  instructions={state.retired}  "
          f"MACs={state.macs}")
    for name, mem in (("UB", state.ub), ("WMEM", state.wm), ("ACC", state.acc)):
        print(_summary(name, mem, args.rows))
    for mem, path in (("ub", args.save_ub), ("wm", args.save_wm), ("acc", args.save_acc)):
        if path is not None:
            np.save(path, getattr(state, mem))
    if code:
        line = prog.line_of(pc)
        where = f"{args.source}:{line}" if line else f"{args.source}: pc {pc}"
        print(f"{where}: {ERROR_NAMES[code]} at pc {pc}", file=sys.stderr)
        return 1
    return 0


MAX_P = 64  # the simulator takes any P; this bound only keeps a typo from allocating gigabytes


def validate(args: argparse.Namespace) -> None:
    """Refuse options outside their ranges before reading any file (raises UsageError)."""
    if args.cmd != "sim":
        return
    check(1 <= args.p <= MAX_P, "--p", args.p, f"an array size from 1 to {MAX_P}")
    for mem in ("ub", "wm", "acc"):
        at = getattr(args, f"{mem}_at")
        check(at >= 0, f"--{mem}-at", at, "a word address >= 0")
    check(args.rows >= 0, "--rows", args.rows, "an integer >= 0")
    check(args.max_steps >= 1, "--max-steps", args.max_steps, "an integer >= 1")


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="tpu_asm.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("asm", help="assemble to a hex file")
    a.add_argument("source", type=Path)
    a.add_argument("-o", "--output", type=Path)
    d = sub.add_parser("disasm", help="disassemble a hex file")
    d.add_argument("source", type=Path)
    d.add_argument("--listing", action="store_true", help="with addresses and hex words")
    s = sub.add_parser("sim", help="run a program (.s or .hex) on the instruction-level simulator")
    s.add_argument("source", type=Path)
    s.add_argument("--p", type=int, default=ARRAY_SIZE, help="array size P")
    for mem in ("ub", "wm", "acc"):
        s.add_argument(f"--{mem}", type=Path, help=f"load a .npy [rows, P] into {mem.upper()}")
        s.add_argument(f"--{mem}-at", type=int, default=0, help="first word to load at")
        s.add_argument(f"--save-{mem}", type=Path, help=f"save the final {mem.upper()} as .npy")
    s.add_argument("--rows", type=int, default=4, help="rows of each memory to print")
    s.add_argument("--max-steps", type=int, default=10_000_000)
    args = ap.parse_args(argv)
    try:
        validate(args)
    except UsageError as e:
        return usage_exit(ap.prog, e)
    try:
        if args.cmd == "asm":
            cmd_asm(args)
        elif args.cmd == "disasm":
            cmd_disasm(args)
        else:
            return cmd_sim(args)
    except (CliError, OSError) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
