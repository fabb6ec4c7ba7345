"""Training on the RTL core: run compiled MLP programs and check them against BOTH golden models.

    env = TrainEnv(dut)                            # a CoreEnv (clock, reset, rng, host port)
    await env.reset()
    m = compile_mlp(sizes, acts, batch, lr, P=env.P, **env.depth_kwargs())
    st = env.background()                          # random codes everywhere, then:
    m.place_constants(st); m.place_params(st, params); m.place_batch(st, x, y)
    step = await env.run_program(m.words, st)      # load what changed, run, compare with models.isa_sim
    check_reference(m, step.rtl, params, out)      # and with models.train_ref (masters, tiles, H, dZ')

The core keeps its memories between runs, so `run_program` writes only the words that differ from what
the core is known to hold (the previous run's verified result): a new batch costs a few hundred host
writes, not a full reload (and a later cocotb test of the same simulation starts from what the core
holds). After every run the whole of UB, WMEM and ACC is read back once and compared word for word with
the ISA simulator's state (or, with `used=`, the words a small network uses, and everything at the
test's `verify_all()`); the read-back state is returned for the reference checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.asm import assemble
from models.fixed_point import ACC_W, DATA_W
from models.isa import decode
from models.isa_sim import MachineState, run_status
from models.mlp import CompiledMlp, Params
from models.train_ref import StepOutputs
from tb.common.core_env import (
    ERR_NONE,
    MEM_ACC,
    MEM_IMEM,
    MEM_UB,
    MEM_WM,
    CoreEnv,
    RunStatus,
    compare_memories,
    pack,
)


@dataclass
class StepRun:
    """One program run on the core: its status, the memories read back, and the ISA simulator's state."""

    status: RunStatus
    rtl: MachineState
    isa: MachineState

    @property
    def utilization(self) -> float:
        """Array utilization: rows entering the array per cycle of the run."""
        return self.status.rows / self.status.cycles


def matmul_rows(words: list[int]) -> int:
    """Rows the array must see for `words` (sum of MATMUL M, LOOP bodies counted `count` times).

    The core's row counter counts rows entering the array, so it must equal this for a program that
    halts cleanly (compilers' programs never leave a LOOP early).
    """
    rows, pc = 0, 0
    while pc < len(words):
        ins = decode(words[pc])
        if ins.op == "LOOP":
            body = words[pc + 1:pc + 1 + ins.args["body"]]
            rows += ins.args["count"] * sum(decode(w).args["m"] for w in body if decode(w).op == "MATMUL")
            pc += 1 + ins.args["body"]
            continue
        if ins.op == "MATMUL":
            rows += ins.args["m"]
        pc += 1
    return rows


class TrainEnv(CoreEnv):
    """CoreEnv plus incremental loads and the compare-with-the-ISA-sim run used by training tests.

    The core keeps its memories across resets, and the cocotb tests of one simulation share one core:
    what it holds is remembered in `_core` (class level) so that a later test loads only differences.
    """

    # held: the ISA simulator's state the core's UB/WMEM/ACC are known to equal (None: unknown);
    # unverified: some of it was not read back yet (partial read-back), verify_all() does it.
    _core: dict = {"held": None, "imem": [], "unverified": False}

    def __init__(self, dut) -> None:
        super().__init__(dut)

    @property
    def _held(self) -> MachineState | None:
        return self._core["held"]

    @_held.setter
    def _held(self, st: MachineState | None) -> None:
        self._core["held"] = st

    @property
    def _imem(self) -> list[int]:
        return self._core["imem"]

    @_imem.setter
    def _imem(self, words: list[int]) -> None:
        self._core["imem"] = words

    def depth_kwargs(self) -> dict[str, int]:
        """The DUT's memory depths as compile_mlp keywords (so a program that does not fit is refused)."""
        return {"imem_depth": self.imem_depth, "ub_depth": self.ub_depth, "wm_depth": self.wm_depth,
                "acc_depth": self.acc_depth}

    def background(self) -> MachineState:
        """Registers at reset, memories of random codes (every word a program must write or a model must
        ignore means something): what the core already holds if known (no reload), else new ones."""
        if self._held is None:
            return self.random_state()
        st = self.new_state()
        st.ub, st.wm, st.acc = self._held.ub.copy(), self._held.wm.copy(), self._held.acc.copy()
        return st

    async def _sync(self, mem: int, have: np.ndarray | None, want: np.ndarray, width: int) -> int:
        """Write the rows of `want` that differ from `have` (all of them when unknown); returns the count."""
        rows = range(want.shape[0]) if have is None else np.flatnonzero(np.any(have != want, axis=1)).tolist()
        reqs = [(1, mem, int(a), pack(want[a], width)) for a in rows]
        if reqs:
            rsp = await self.transfer(reqs)
            assert not any(e for e, _ in rsp), f"host write error in memory {mem}"
        return len(reqs)

    async def load_state(self, st: MachineState, program: list[int]) -> int:
        """Make the core hold `program` (from pc 0) and the memories of `st`; returns words written."""
        n = 0
        if program != self._imem[:len(program)]:
            n += len(program)
            await self.write_mem(MEM_IMEM, 0, list(program))
            self._imem = list(program) + self._imem[len(program):]
        h = self._held
        n += await self._sync(MEM_UB, None if h is None else h.ub, st.ub, DATA_W)
        n += await self._sync(MEM_WM, None if h is None else h.wm, st.wm, DATA_W)
        n += await self._sync(MEM_ACC, None if h is None else h.acc, st.acc, ACC_W)
        return n

    async def run_program(self, program: list[int], st: MachineState, what: str = "",
                          used: tuple[int, int, int] | None = None) -> StepRun:
        """Load what changed, run to done, read the memories back once, compare them with models.isa_sim.

        `st` is the state the program starts from (registers included: the ISA simulator runs on a copy
        of it); it is not modified. Asserts ErrNone, the HALT address, every UB/WMEM/ACC word, and that
        the row and MAC counters equal the program's MATMUL rows. `used` = (UB, WMEM, ACC words): read
        back and compare only those first words (a small network in big memories); the rest is left to
        verify_all(), which the test must then call: a stray write there stays until it is compared.
        """
        await self.load_state(st, program)
        status = await self.run(timeout_cycles=2_000_000)
        expected, code, pc = run_status(program, st.copy(), imem_depth=self.imem_depth)
        tag = f"{what}: " if what else ""
        assert code == ERR_NONE, f"{tag}the ISA simulator stopped with error {code} at pc {pc}"
        assert (status.error, status.pc) == (code, pc), (
            f"{tag}status (error {status.error}, pc {status.pc}) != ISA sim (error {code}, pc {pc})")
        self._held = None  # unknown until it is verified below
        if used is None:
            ub, wm, acc = await self.read_state()
            compare_memories(expected, ub, wm, acc, tag)
        else:
            parts = await self.read_state(*used)
            compare_memories(expected, *parts, tag)
            ub, wm, acc = expected.ub.copy(), expected.wm.copy(), expected.acc.copy()
            ub[:used[0]], wm[:used[1]], acc[:used[2]] = parts
            self._core["unverified"] = True
        rows = matmul_rows(program)
        assert status.rows == rows, f"{tag}row counter {status.rows} != {rows} MATMUL rows in the program"
        assert status.macs == rows * self.P * self.P, f"{tag}MAC counter {status.macs} != rows * P^2"
        rtl = expected.copy()  # the ISA registers (not readable on the core) with the core's memories
        rtl.ub, rtl.wm, rtl.acc = ub, wm, acc
        self._held = rtl.copy()
        return StepRun(status, rtl, expected)

    async def verify_all(self, what: str = "final") -> None:
        """Read back every word (after partial read-backs) and compare it with the ISA simulator's state."""
        if not self._core["unverified"] or self._held is None:
            return
        held, self._held = self._held, None
        ub, wm, acc = await self.read_state()
        compare_memories(held, ub, wm, acc, f"{what}: ")
        self._held = held
        self._core["unverified"] = False


def check_reference(m: CompiledMlp, st: MachineState, params: Params, out: StepOutputs | None,
                    what: str = "") -> None:
    """The core's memories after a step equal models.train_ref: masters, Q8.8 tiles and biases, H, dZ'.

    params: the reference's new Q8.24 masters; out: its StepOutputs of the same step (None: inference
    program, then only the outputs are compared, by the caller). Padded master entries must be zero.
    """
    tag = f"{what}: " if what else ""
    lay, P = m.layout, m.P
    for li, ((w, b), (w2, b2)) in enumerate(zip(params, m.read_params(st), strict=True), start=1):
        np.testing.assert_array_equal(w2, w, err_msg=f"{tag}W{li} master (ACC)")
        np.testing.assert_array_equal(b2, b, err_msg=f"{tag}b{li} master (ACC)")
    padded = m.read_params(st, padded=True)
    for li, ((wp, bp), (w, _)) in enumerate(zip(padded, params, strict=True), start=1):
        K, N = w.shape
        assert not wp[K:].any() and not wp[:, N:].any() and not bp[N:].any(), f"{tag}W{li} padding not zero"
    # The Q8.8 copies the next step's array reads: WMEM tiles and the UB words (bias rows for LDB).
    ref = m.new_state(st.ub.shape[0], st.wm.shape[0], st.acc.shape[0])
    m.place_params(ref, params)
    for li in range(1, len(m.sizes)):
        kt, nt, kp = lay.kt(li), lay.nt(li), lay.kp(li)
        w0, n_w = lay.w_wm[li - 1], kt * nt * P
        bad = np.flatnonzero(np.any(st.wm[w0:w0 + n_w] != ref.wm[w0:w0 + n_w], axis=1))
        assert bad.size == 0, f"{tag}W{li} Q8.8 tiles (WMEM) differ from the reference at words {w0 + bad}"
        q0, n_q = lay.wq_ub[li - 1], nt * (kp + 1)
        bad = np.flatnonzero(np.any(st.ub[q0:q0 + n_q] != ref.ub[q0:q0 + n_q], axis=1))
        assert bad.size == 0, f"{tag}Wq{li}/bq{li} (UB) differ from the reference at words {q0 + bad}"
    if out is None:
        return
    for li in range(1, len(m.sizes)):
        np.testing.assert_array_equal(m.read_activations(st, li), out.h[li], err_msg=f"{tag}H{li} (UB)")
        np.testing.assert_array_equal(m.read_grad(st, li), out.dz[li - 1], err_msg=f"{tag}dZ'{li} (UB)")


async def phase_cycles(env: TrainEnv, m: CompiledMlp, st: MachineState) -> dict[str, int]:
    """Cycles of each phase of one step on the core, from `st`: the program cut after each phase (plus
    HALT) is run from the same state (each run compared with the ISA sim) and the counters differenced.

    A measurement, not a check: a cut program drains at its HALT, so a phase's number includes the
    drain of the units it leaves busy (the full step overlaps it with the next phase's first instruction).
    """
    halt = assemble("HALT")
    names = [n for n in m.phases if n not in ("halt", "loop")]
    out: dict[str, int] = {}
    used, prev = 0, 0
    for name in names:
        used += m.phases[name]
        run = await env.run_program(m.words[:used] + halt, st, f"phase cut after {name}")
        out[name] = run.status.cycles - prev
        prev = run.status.cycles
    return out
