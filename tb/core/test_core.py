"""tpu_core: programs run through the host port and compared, memory by memory, with models.isa_sim.

Cocotb tests (stimulus from env.rng, seeded by SEED):
* gemm_random      random GEMM shapes (gemm_program + place_gemm): whole memories vs the ISA sim, Y vs
                   matmul_acc, and every performance counter vs models.core_perf, exactly
* gemm_cycles      the cycle, row, MAC and stall counters of chosen shapes (M >= P and M < P)
* acc_forwarding   back-to-back accumulating MATMULs on the same ACC words
* random_programs  random legal programs over every instruction, flag and VEC pathway, with loops
* errors           every error code of docs/isa.md §5, while earlier MATMULs still stream; status and
                   memories vs the ISA sim; then a reset and a clean run
* reset_mid_run    reset while a GEMM runs, then a correct run
* host_port        out-of-range host accesses answer with an error and change nothing; not ready while
                   busy
* decode_sweep     every opcode with each unused bit set alone, random unused-bit patterns, random
                   patterns inside the used fields and every unknown opcode, each run as a one-word
                   program: ErrIllegal exactly when models.isa.decode rejects the word, and status and
                   memories equal to the ISA sim
"""

from __future__ import annotations

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles, FallingEdge

from models import core_perf
from models.asm import assemble, listing
from models.fixed_point import ACC_W, DATA_W, matmul_acc, random_codes
from models.hw import const
from models.isa import BY_CODE, INSTR_MASK, OP_FIELD, OPS, IllegalInstruction, Instr, decode, encode
from models.isa_sim import run_status
from models.programs import extract_gemm, gemm_program, place_gemm
from tb.common import fcov, runner
from tb.common.core_env import (
    CORE_SOURCES,
    ERR_NONE,
    MEM_ACC,
    MEM_IMEM,
    MEM_UB,
    MEM_WM,
    CoreEnv,
    compare_memories,
    pack,
)
from tb.common.tools import rtl_sources


def _gemm_shape(env: CoreEnv) -> tuple[int, int, int]:
    """A random shape that fits the test memories: M, K, N from 1 to several tiles."""
    P, r = env.P, env.rng
    while True:
        M = int(r.integers(1, 3 * P + 2))
        K = int(r.integers(1, 3 * P + 1))
        N = int(r.integers(1, 3 * P + 1))
        kt, nt = -(-K // P), -(-N // P)
        if kt * M <= env.ub_depth and kt * nt * P <= env.wm_depth and nt * M <= env.acc_depth:
            return M, K, N


async def _gemm(env: CoreEnv, M: int, K: int, N: int, check_perf: bool = True) -> None:
    P = env.P
    text, lay = gemm_program(M, K, N, P)
    fcov.sample_gemm(M, K, N, P, env.ub_depth, env.wm_depth, env.acc_depth)
    words = assemble(text)
    st = env.random_state()
    x = random_codes(env.rng, (M, K))
    w = random_codes(env.rng, (K, N))
    place_gemm(st, x, w, lay)
    status, expected = await env.run_and_check(st, words, f"GEMM {M}x{K}x{N}")
    assert status.error == ERR_NONE
    y = extract_gemm(expected, lay)
    assert np.array_equal(y, matmul_acc(x, w, None, ACC_W)), "ISA sim GEMM differs from matmul_acc"
    if check_perf:
        exp = (core_perf.gemm_cycles(M, K, N, P), core_perf.gemm_rows(M, K, N, P),
               core_perf.gemm_rows(M, K, N, P) * P * P, core_perf.gemm_stall_cycles(M, K, N, P))
        got = (status.cycles, status.rows, status.macs, status.wstall)
        assert got == exp, f"GEMM {M}x{K}x{N} P={P}: (cycles, rows, macs, stalls) {got} != model {exp}"
    env.log.info("GEMM %dx%dx%d: %d cycles (ideal %.1f)", M, K, N, status.cycles,
                 core_perf.ideal_cycles(M, K, N, P))


@cocotb.test()
async def gemm_random(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    for _ in range(4 if env.P >= 8 else 6):
        await _gemm(env, *_gemm_shape(env))


@cocotb.test()
async def gemm_cycles(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    P = env.P
    shapes = [(P, P, P), (2 * P, 2 * P, 2 * P), (P + 3, 3 * P, P), (1, 2 * P, 2 * P), (P - 1, 2 * P, P)]
    big_m = min(env.ub_depth // 2, env.acc_depth // 2, 32)
    shapes.append((big_m, 2 * P, 2 * P))
    for M, K, N in shapes:
        await _gemm(env, M, K, N)


@cocotb.test()
async def acc_forwarding(dut) -> None:
    """Back-to-back MATMULs without SWAP issue one edge apart: accumulating into the word the previous
    row writes at that very edge needs the ACC forward path (M = 1), and the one after it (M = 2)."""
    env = CoreEnv(dut)
    await env.reset()
    lines = ["LDW 0", "MATMUL 0, 3, 1, SWAP"]
    lines += [f"MATMUL {k}, 3, 1, ACC" for k in range(1, 6)]
    lines += ["MATMUL 0, 5, 2", "MATMUL 2, 6, 2, ACC", "MATMUL 4, 5, 2, ACC", "HALT"]
    await env.run_and_check(env.random_state(), assemble("\n".join(lines)), "ACC forwarding")


# ---- random programs -------------------------------------------------------------------------------

def _range(r: np.random.Generator, depth: int, n: int) -> int:
    return int(r.integers(0, depth - n + 1))


def _disjoint(r: np.random.Generator, depth: int, n: int, other: int) -> int:
    """A start in 0..depth-n whose range [s, s+n) does not overlap [other, other+n) (or equals it)."""
    for _ in range(50):
        s = _range(r, depth, n)
        if s == other or s + n <= other or other + n <= s:
            return s
    return other


def random_program(env: CoreEnv, n_chunks: int) -> list[int]:
    """A random legal program: chunks of instructions, some inside LOOPs, then HALT.

    LDWs stand alone too, so a loaded tile is sometimes replaced before any SWAP used it.
    """
    r, P = env.rng, env.P
    ub, wm, acc = env.ub_depth, env.wm_depth, env.acc_depth

    def matmul(swap: bool | None = None) -> Instr:
        m = int(r.integers(1, 2 * P + 2))
        flags = {f for f in ("ACC", "SWAP") if r.random() < 0.5}
        if swap is True:
            flags.add("SWAP")
        return Instr("MATMUL", {"ub": _range(r, ub, m), "acc": _range(r, acc, m), "m": m}, frozenset(flags))

    def ldw() -> Instr:
        return Instr("LDW", {"wm": _range(r, wm, P)}, frozenset({"T"} if r.random() < 0.4 else ()))

    def vec() -> Instr:
        m = int(r.integers(1, 2 * P + 2))
        path = {f for f in ("BIAS", "ACT", "LOSS", "DERIV", "BGRAD") if r.random() < 0.5}
        src_ub = r.random() < 0.4
        src = _range(r, ub if src_ub else acc, m)
        dst = _disjoint(r, ub, m, src) if src_ub else _range(r, ub, m)
        if src_ub and r.random() < 0.2:
            dst = src  # in place
        args = {"src": src, "dst": dst, "m": m, "aux": 0}
        if "LOSS" in path or "DERIV" in path:
            args["aux"] = dst if r.random() < 0.2 else _disjoint(r, ub, m, dst)
        elif r.random() < 0.3:
            args["aux"] = int(r.integers(0, 4096))  # ignored and not range-checked
        return Instr("VEC", args, frozenset(path | ({"SRC_UB"} if src_ub else set())))

    def setv() -> Instr:
        return Instr("SETV", {"act": int(r.integers(0, 3)), "shift": int(r.integers(0, 32)),
                              "slope": int(r.integers(0, 1 << 16)), "loss_scale": int(r.integers(0, 1 << 16)),
                              "loss_shift": int(r.integers(0, 32))})

    def copy() -> Instr:
        flags = set()
        t = r.random() < 0.5
        src_wm, dst_wm = r.random() < 0.5, r.random() < 0.5
        sd, dd = (wm if src_wm else ub), (wm if dst_wm else ub)
        n = P * int(r.integers(1, 3)) if t else int(r.integers(1, 2 * P + 2))
        src = _range(r, sd, n)
        dst = _disjoint(r, dd, n, src) if src_wm == dst_wm else _range(r, dd, n)
        flags |= {"T"} if t else set()
        flags |= {"SRC_WM"} if src_wm else set()
        flags |= {"DST_WM"} if dst_wm else set()
        return Instr("COPY", {"src": src, "dst": dst, "len": n}, frozenset(flags))

    kinds = ["matmul", "ldw", "vec", "setv", "ldb", "setbg", "copy", "sync", "nop"]
    weights = np.array([5, 4, 3, 1, 1, 1, 2, 0.5, 0.5])
    chunks: list[list[Instr]] = []
    for _ in range(n_chunks):
        k = kinds[int(r.choice(len(kinds), p=weights / weights.sum()))]
        if k == "matmul":
            chunks.append([matmul()])
        elif k == "ldw":
            chunks.append([ldw()])
        elif k == "vec":
            chunks.append([vec()])
        elif k == "setv":
            chunks.append([setv()])
        elif k == "ldb":
            chunks.append([Instr("LDB", {"ub": _range(r, ub, 1)})])
        elif k == "setbg":
            chunks.append([Instr("SETBG", {"acc": _range(r, acc, 1)})])
        elif k == "copy":
            chunks.append([copy()])
        else:
            chunks.append([Instr(k.upper())])
    # Loops around a few runs of whole chunks (never nested, never splitting a chunk).
    out: list[Instr] = []
    i = 0
    while i < len(chunks):
        if r.random() < 0.15:
            n = int(r.integers(1, 4))
            body = [ins for c in chunks[i:i + n] for ins in c]
            out.append(Instr("LOOP", {"count": int(r.integers(1, 4)), "body": len(body)}))
            out.extend(body)
            i += n
        else:
            out.extend(chunks[i])
            i += 1
    out.append(Instr("HALT"))
    return [encode(ins) for ins in out]


@cocotb.test()
async def random_programs(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    n_programs = 6 if env.P >= 8 else 10
    st = env.random_state()
    for k in range(n_programs):
        words = random_program(env, int(env.rng.integers(4, 16)))
        words = words[: env.imem_depth]
        env.log.debug("random program %d:\n%s", k, listing(words))
        try:
            # Each program starts from what the previous one left: memories and registers.
            status, st = await env.run_and_check(st, words, f"random program {k}", load_data=(k == 0))
        except AssertionError:
            env.log.error("failing program:\n%s", listing(words))
            raise
        env.log.info("random program %d: %d instructions, error %d, %d cycles", k, len(words), status.error,
                     status.cycles)


# ---- errors ----------------------------------------------------------------------------------------

def _error_programs(env: CoreEnv) -> list[tuple[str, list[int]]]:
    """(name, words): each program does some work, then fails while a MATMUL may still be streaming."""
    P, ub, wm, acc, imem = env.P, env.ub_depth, env.wm_depth, env.acc_depth, env.imem_depth
    m = 2 * P
    pre = assemble(f"LDW 0\nMATMUL 0, 0, {m}, SWAP\nCOPY UB, 0, WM, {P}, {P}\n"
                   f"LDW {P}, T\nMATMUL {m}, {m}, {m}, ACC, SWAP\n")
    stream = assemble(f"LDW 0\nMATMUL 0, 0, {m}, SWAP\n")  # still streaming when the next one fails

    def e(**kw) -> int:
        op = kw.pop("op")
        flags = frozenset(kw.pop("flags", ()))
        return encode(Instr(op, kw, flags))

    halt = assemble("HALT")
    cases = {
        "illegal opcode": [const("OpDma") + 1],
        "illegal dma imem": [e(op="DMA", addr=0, len=1, mem=1) & ~(3 << const("DmaMemLsb"))],
        "len dma zero": [e(op="DMA", addr=0, len=0, mem=const("MemSelUb"))],
        "addr dma acc": [e(op="DMA", addr=acc - 1, len=2, mem=const("MemSelAcc"), flags={"OUT"})],
        "illegal unused field": [e(op="NOP") | (1 << 16)],
        "illegal flag": [e(op="LDB", ub=0) | (1 << 8)],
        "illegal setv act": [e(op="SETV") | (3 << 8)],
        "addr ldw": [e(op="LDW", wm=wm - P + 1)],
        "addr matmul ub": [e(op="MATMUL", ub=ub - 1, acc=0, m=2)],
        "addr matmul acc": [e(op="MATMUL", ub=0, acc=acc - 1, m=2)],
        "addr ldb": [e(op="LDB", ub=ub)],
        "addr copy src": [e(op="COPY", src=wm - 1, dst=0, len=2, flags={"SRC_WM"})],
        "addr copy dst": [e(op="COPY", src=0, dst=wm - 1, len=2, flags={"DST_WM"})],
        "addr vec src": [e(op="VEC", src=acc - 1, dst=0, m=2, aux=0)],
        "addr vec dst": [e(op="VEC", src=0, dst=ub - 1, m=2, aux=0)],
        "addr vec aux": [e(op="VEC", src=0, dst=0, m=2, aux=ub - 1, flags={"LOSS"})],
        "addr vec bgrad": [e(op="SETBG", acc=acc), e(op="VEC", src=0, dst=0, m=2, aux=0, flags={"BGRAD"})],
        "len matmul zero": [e(op="MATMUL", ub=0, acc=0, m=0)],
        "len matmul big": [e(op="MATMUL", ub=0, acc=0, m=min(ub, acc) + 1)],
        "len copy zero": [e(op="COPY", src=0, dst=P, len=0)],
        "len copy transposed": [e(op="COPY", src=0, dst=4 * P, len=P + 1, flags={"T"})],
        "len vec zero": [e(op="VEC", src=0, dst=0, m=0, aux=0)],
        "loop count zero": [e(op="LOOP", count=0, body=1), e(op="NOP")],
        "loop body zero": [e(op="LOOP", count=2, body=0)],
        "loop nested": [e(op="LOOP", count=2, body=2), e(op="LOOP", count=2, body=1), e(op="NOP")],
        "loop past imem": [e(op="LOOP", count=2, body=imem)],
        "overlap copy": [e(op="COPY", src=0, dst=1, len=2)],
        "overlap vec src": [e(op="VEC", src=0, dst=1, m=2, aux=0, flags={"SRC_UB"})],
        "overlap vec aux": [e(op="VEC", src=0, dst=4, m=2, aux=5, flags={"DERIV"})],
    }
    progs = [(name, pre + stream + body + halt) for name, body in cases.items()]
    # A loop whose second pass fails: the body's SETBG breaks the VEC before it for the next pass.
    body = [e(op="VEC", src=0, dst=0, m=2, aux=0, flags={"BGRAD"}), e(op="SETBG", acc=acc)]
    loop = [e(op="SETBG", acc=1), e(op="LOOP", count=3, body=2)]
    progs.append(("addr in a loop", pre + loop + body + halt))
    progs.append(("pc off the end", pre + stream))  # no HALT: runs to the end of IMEM (ErrPc)
    return progs


ERR_BY_PREFIX = {"illegal": const("ErrIllegal"), "addr": const("ErrAddr"), "len": const("ErrLen"),
                 "pc": const("ErrPc"), "loop": const("ErrLoop"), "overlap": const("ErrOverlap")}


@cocotb.test()
async def errors(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    seen = set()
    st = env.random_state()
    progs = _error_programs(env)
    for k, (name, words) in enumerate(progs):
        status, st = await env.run_and_check(st, words, name, load_data=(k == 0))
        seen.add(status.error)
        intended = ERR_BY_PREFIX[name.split()[0]]
        assert status.error == intended, f"{name}: error {status.error}, meant to raise {intended}"
        env.log.info("%-22s -> error %d at pc %d", name, status.error, status.pc)
    if env.P < 8:
        assert seen == set(ERR_BY_PREFIX.values()), f"error codes covered: {sorted(seen)}"
    # After a reset the core runs a clean program correctly.
    await env.reset()
    await _gemm(env, 2 * env.P, 2 * env.P, env.P)


@cocotb.test()
async def reset_mid_run(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    P = env.P
    text, lay = gemm_program(2 * P, 2 * P, 2 * P, P)
    st = env.random_state()
    place_gemm(st, random_codes(env.rng, (2 * P, 2 * P)), random_codes(env.rng, (2 * P, 2 * P)), lay)
    await env.load(st, assemble(text))
    await env.start()
    await ClockCycles(dut.clk_i, int(env.rng.integers(3, core_perf.gemm_cycles(2 * P, 2 * P, 2 * P, P))))
    await env.reset()
    await FallingEdge(dut.clk_i)
    assert int(dut.busy_o.value) == 0 and int(dut.error_o.value) == ERR_NONE, "reset did not stop the core"
    await _gemm(env, *_gemm_shape(env))


@cocotb.test()
async def host_port(dut) -> None:
    env = CoreEnv(dut)
    await env.reset()
    P = env.P
    st = env.random_state()
    await env.load(st, [])
    depths = {MEM_IMEM: env.imem_depth, MEM_UB: env.ub_depth, MEM_WM: env.wm_depth, MEM_ACC: env.acc_depth}
    junk = pack(np.full(P, -1), ACC_W) | ((1 << 64) - 1)
    reqs = []
    for mem, depth in depths.items():
        reqs += [(1, mem, depth, junk), (1, mem, (1 << 16) - 1, junk), (0, mem, depth, None)]
    rsp = await env.transfer(reqs)
    assert all(err == 1 and data == 0 for err, data in rsp), f"out-of-range accesses: {rsp}"
    # In-range reads answer without error and return what was written (low bits of a wide word).
    rsp = await env.transfer([(0, MEM_UB, env.ub_depth - 1, None), (0, MEM_IMEM, 0, None)])
    assert rsp == [(0, pack(st.ub[-1], DATA_W)), (0, 0)], rsp
    # Nothing was corrupted, and a program still runs (the expected state is the unchanged one).
    expected, code, pc = run_status(assemble("HALT"), st.copy(), imem_depth=env.imem_depth)
    await env.write_mem(MEM_IMEM, 0, assemble("HALT"))
    status = await env.run()
    await env.compare(expected, code, pc, status, "host port")
    # The port is not ready while the core runs.
    text, lay = gemm_program(2 * P, P, P, P)
    await env.write_mem(MEM_IMEM, 0, assemble(text))
    await env.start()
    assert int(dut.host_req_ready_o.value) == 0, "host port ready while the core is busy"
    await env.wait_done()


# ---- decode sweep ----------------------------------------------------------------------------------

def _sweep_words(env: CoreEnv) -> list[int]:
    """Words for the decode sweep: per opcode a random legal base word, that word with each unused bit set
    alone and with random unused-bit patterns, random patterns inside the used bits (SETV act = 3, DMA
    memory select 0 among them), then every unknown opcode alone and with random bits.

    A DMA's length field is forced to 0 (it stops with ErrLen at decode, as no DMA engine answers here).
    """
    r = env.rng
    dma = OPS["DMA"]
    dma_len = dma.field("len").mask

    def rand_bits(mask: int) -> int:
        return int.from_bytes(r.bytes(8), "little") & mask

    def base(spec) -> int:
        # Small field values, so that some legal words run (most ranges fit the test memories).
        word = spec.code
        for f in spec.fields:
            word |= min(int(r.integers(0, 64)), f.max) << f.lsb
        word |= rand_bits(spec.legal_mask & ~(OP_FIELD.mask | sum(f.mask for f in spec.fields)))
        if spec.name == "SETV":
            word &= ~spec.field("act").mask  # act 0 here; act 3 comes with the in-field patterns
        if spec.name == "DMA":
            word = (word & ~dma.field("mem").mask) | (int(r.integers(1, 4)) << dma.field("mem").lsb)
        return word

    words: list[int] = []
    for spec in OPS.values():
        b = base(spec)
        unused = INSTR_MASK & ~spec.legal_mask
        words.append(b)
        words += [b | (1 << bit) for bit in range(64) if unused >> bit & 1]
        words += [b | (rand_bits(unused) or unused) for _ in range(8)]
        words += [spec.code | rand_bits(spec.legal_mask & ~OP_FIELD.mask) for _ in range(8)]
    setv_act, dma_mem = OPS["SETV"].field("act"), dma.field("mem")
    words.append(base(OPS["SETV"]) | setv_act.mask)  # act 3: illegal although every bit is a used one
    words.append(base(dma) & ~dma_mem.mask)  # memory select 0 (IMEM): illegal
    words = [w & ~dma_len if OP_FIELD.get(w) == dma.code else w for w in words]
    unknown = [c for c in range(OP_FIELD.max + 1) if c not in BY_CODE]
    words += [c << OP_FIELD.lsb for c in unknown]
    stray = INSTR_MASK & ~OP_FIELD.mask
    words += [(c << OP_FIELD.lsb) | rand_bits(stray) for c in r.choice(unknown, 16).tolist()]
    return words


@cocotb.test()
async def decode_sweep(dut) -> None:
    """Each word runs alone (IMEM[0], HALT at 1, zeros after), one short run per word on one build."""
    env = CoreEnv(dut)
    await env.reset()
    words = _sweep_words(env)
    st = env.random_state()
    halt = assemble("HALT")
    await env.load(st, [0] + halt)
    n_illegal = 0
    for k, word in enumerate(words):
        try:
            decode(word)
            rejected = False
        except IllegalInstruction:
            rejected = True
        await env.write_mem(MEM_IMEM, 0, [word])
        status = await env.run()
        # The ISA sim continues from the state the previous word left (registers included).
        st, code, pc = run_status([word] + halt, st, imem_depth=env.imem_depth)
        got_illegal = status.error == const("ErrIllegal")
        assert got_illegal == rejected, (
            f"word {k} 0x{word:016x}: RTL error {status.error} (pc {status.pc}) but models.isa.decode "
            f"{'rejects' if rejected else 'accepts'} it"
        )
        assert (status.error, status.pc) == (code, pc), (
            f"word {k} 0x{word:016x}: RTL (error {status.error}, pc {status.pc}) != ISA sim ({code}, {pc})"
        )
        n_illegal += rejected
    compare_memories(st, *await env.read_state(), "decode sweep: ")
    assert 0 < n_illegal < len(words), f"sweep of {len(words)} words has no legal or no illegal word"
    env.log.info("decode sweep: %d words, %d illegal in both the RTL and models.isa", len(words), n_illegal)


# ---- pytest entry ----------------------------------------------------------------------------------

SOURCES = CORE_SOURCES


def depths(P: int) -> dict[str, int]:
    """Small memories keep loading and reading back cheap; big enough for GEMMs of a few tiles."""
    return {"ImemDepth": 64, "UbDepth": 16 * P, "WmDepth": 16 * P, "AccDepth": 16 * P}


@pytest.mark.parametrize("P", [2, 4, 8])
def test_core(sim: str, P: int) -> None:
    runner.run(sim, "tpu_core", "tb.core.test_core", rtl_sources(*SOURCES), {"P": P, **depths(P)})
