"""A reusable driver for tpu_core: host-port loads and reads, start, wait for done, compare with the ISA sim.

    env = CoreEnv(dut)                     # clock, reset, RNG (TbBase), parameters read from the DUT
    await env.reset()
    st = env.new_state()                   # MachineState with the DUT's P and memory depths
    await env.load(st, words)              # whole IMEM (program + zeros), UB, WMEM and ACC
    status = await env.run()               # start at pc 0, one trigger until done_o (or a timeout)
    await env.check_against_isa(st, words, status)   # every memory and the status, bit for bit

The host port takes one request per cycle while the core is stopped and answers each in the next
cycle, so a transfer drives one word per clock and samples the previous word's response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from models.fixed_point import ACC_W, DATA_W
from models.hw import const
from models.isa_sim import MachineState, run_status
from tb.common.tb_base import CLOCK_PERIOD_NS, TbBase, pack, param, unpack
from tb.common.xcheck import watch_core

# The core's RTL modules, leaves first (for tb.common.tools.rtl_sources).
CORE_SOURCES = (
    "tpu_delay", "tpu_pe", "tpu_array", "tpu_vpu", "tpu_ram",
    "tpu_wunit", "tpu_munit", "tpu_vunit", "tpu_cunit", "tpu_ctrl", "tpu_core",
)

MEM_IMEM = const("HostMemImem")
MEM_UB = const("HostMemUb")
MEM_WM = const("HostMemWm")
MEM_ACC = const("HostMemAcc")
ERR_NONE = const("ErrNone")


@dataclass
class RunStatus:
    """What the core reports after done_o."""

    error: int
    pc: int
    cycles: int
    rows: int
    macs: int
    wstall: int


class CoreEnv(TbBase):
    """Clock, reset and RNG (TbBase) plus the host-port driver and the run/compare helpers."""

    def __init__(self, dut) -> None:
        super().__init__(dut)
        self.P = param(dut, "P")
        self.imem_depth = param(dut, "ImemDepth")
        self.ub_depth = param(dut, "UbDepth")
        self.wm_depth = param(dut, "WmDepth")
        self.acc_depth = param(dut, "AccDepth")
        dut.start_i.value = 0
        dut.pc_start_i.value = 0
        # No DMA engine here (tpu_top has one): a DMA instruction would wait for ever, so none is run.
        dut.dma_done_i.value = 0
        dut.dma_err_i.value = 0
        self._idle_host()
        watch_core(self.xcheck, dut)

    def _idle_host(self) -> None:
        d = self.dut
        d.host_req_valid_i.value = 0
        d.host_req_we_i.value = 0
        d.host_req_mem_i.value = 0
        d.host_req_addr_i.value = 0
        d.host_req_wdata_i.value = 0

    def new_state(self) -> MachineState:
        return MachineState.new(self.P, self.ub_depth, self.wm_depth, self.acc_depth)

    def random_state(self) -> MachineState:
        """A state whose memories hold random codes (so that every word read back means something)."""
        st = self.new_state()
        r = self.rng
        st.ub[:] = r.integers(-(1 << (DATA_W - 1)), 1 << (DATA_W - 1), st.ub.shape)
        st.wm[:] = r.integers(-(1 << (DATA_W - 1)), 1 << (DATA_W - 1), st.wm.shape)
        st.acc[:] = r.integers(-(1 << (ACC_W - 1)), 1 << (ACC_W - 1), st.acc.shape)
        return st

    # ---- host port ------------------------------------------------------------------------------
    async def transfer(self, reqs: list[tuple[int, int, int, int | None]]) -> list[tuple[int, int]]:
        """Issue (we, mem, addr, wdata) requests back to back; return (err, rdata) per request.

        Drives after the falling edge; each request is accepted at the next rising edge (the core must
        be stopped: the port is not ready while busy) and its response is sampled one cycle later.
        """
        d = self.dut
        out: list[tuple[int, int]] = []
        ready, rsp_valid, rsp_err, rsp_rdata = (d.host_req_ready_o, d.host_rsp_valid_o, d.host_rsp_err_o,
                                                d.host_rsp_rdata_o)
        wires = (d.host_req_we_i, d.host_req_mem_i, d.host_req_addr_i, d.host_req_wdata_i)
        driven: list[int | None] = [None] * 4  # a request field is written only when it changes
        edge = FallingEdge(d.clk_i)
        await edge
        if reqs:
            d.host_req_valid_i.value = 1
        for req in reqs:
            assert int(ready.value) == 1, "host port not ready (core busy?)"
            for k, v in enumerate(req):
                v = v or 0
                if driven[k] != v:
                    wires[k].value = driven[k] = v
            await edge
            assert int(rsp_valid.value) == 1, "no host response one cycle after the request"
            out.append((int(rsp_err.value), int(rsp_rdata.value)))
        self._idle_host()
        await edge
        assert int(rsp_valid.value) == 0, "host response without a request"
        return out

    async def write_mem(self, mem: int, base: int, words: list[int]) -> None:
        rsp = await self.transfer([(1, mem, base + i, w) for i, w in enumerate(words)])
        assert not any(e for e, _ in rsp), f"host write error in memory {mem}"

    async def read_mem(self, mem: int, base: int, n: int) -> list[int]:
        rsp = await self.transfer([(0, mem, base + i, None) for i in range(n)])
        assert not any(e for e, _ in rsp), f"host read error in memory {mem}"
        return [w for _, w in rsp]

    async def load(self, st: MachineState | None, program: list[int]) -> None:
        """Write the whole IMEM (program then zeros), and UB, WMEM and ACC of `st` unless it is None."""
        words = list(program) + [0] * (self.imem_depth - len(program))
        await self.write_mem(MEM_IMEM, 0, words)
        if st is None:
            return
        await self.write_mem(MEM_UB, 0, [pack(r, DATA_W) for r in st.ub])
        await self.write_mem(MEM_WM, 0, [pack(r, DATA_W) for r in st.wm])
        await self.write_mem(MEM_ACC, 0, [pack(r, ACC_W) for r in st.acc])

    async def read_state(self, n_ub: int | None = None, n_wm: int | None = None,
                         n_acc: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """UB, WMEM and ACC read back through the host port, as [n, P] signed codes: the first n words of
        each memory (default: all of it)."""
        P = self.P

        async def read(mem: int, n: int, width: int) -> np.ndarray:
            return np.array([unpack(w, P, width) for w in await self.read_mem(mem, 0, n)]).reshape(-1, P)

        return (await read(MEM_UB, self.ub_depth if n_ub is None else n_ub, DATA_W),
                await read(MEM_WM, self.wm_depth if n_wm is None else n_wm, DATA_W),
                await read(MEM_ACC, self.acc_depth if n_acc is None else n_acc, ACC_W))

    # ---- running --------------------------------------------------------------------------------
    async def start(self, pc: int = 0) -> None:
        d = self.dut
        await FallingEdge(d.clk_i)
        d.pc_start_i.value = pc
        d.start_i.value = 1
        await FallingEdge(d.clk_i)
        d.start_i.value = 0
        assert int(d.busy_o.value) == 1, "busy_o not set after start_i"

    async def wait_done(self, timeout_cycles: int = 200_000) -> RunStatus:
        """Wait for done_o with one trigger (Python does not wake every cycle)."""
        d = self.dut
        timeout = Timer(timeout_cycles * CLOCK_PERIOD_NS, unit="ns")
        fired = await First(RisingEdge(d.done_o), timeout)
        assert fired is not timeout, f"core did not finish within {timeout_cycles} cycles (hang)"
        await FallingEdge(d.clk_i)
        assert int(d.busy_o.value) == 0, "busy_o still set with done_o"
        status = RunStatus(
            error=int(d.error_o.value),
            pc=int(d.pc_o.value),
            cycles=int(d.perf_cycles_o.value),
            rows=int(d.perf_rows_o.value),
            macs=int(d.perf_macs_o.value),
            wstall=int(d.perf_wstall_o.value),
        )
        await FallingEdge(d.clk_i)
        assert int(d.done_o.value) == 0, "done_o is not a one-cycle pulse"
        return status

    async def run(self, pc: int = 0, timeout_cycles: int = 200_000) -> RunStatus:
        await self.start(pc)
        return await self.wait_done(timeout_cycles)

    async def run_and_check(
        self, st: MachineState, program: list[int], what: str = "", load_data: bool = True
    ) -> tuple[RunStatus, MachineState]:
        """Load `st` and `program`, run, compare every memory and the status with the ISA simulator.

        Returns the RTL status and the ISA simulator's final state (st itself is not modified). With
        load_data False only IMEM is written: `st` must be what the core already holds (e.g. the state
        the previous run_and_check returned, registers included).
        """
        await self.load(st if load_data else None, program)
        status = await self.run()
        expected, code, pc = run_status(program, st.copy(), imem_depth=self.imem_depth)
        await self.compare(expected, code, pc, status, what)
        return status, expected

    async def compare(self, expected: MachineState, code: int, pc: int, status: RunStatus, what: str) -> None:
        tag = f"{what}: " if what else ""
        assert (status.error, status.pc) == (code, pc), (
            f"{tag}status (error {status.error}, pc {status.pc}) != ISA sim (error {code}, pc {pc})"
        )
        compare_memories(expected, *await self.read_state(), tag)


def compare_memories(expected: MachineState, ub: np.ndarray, wm: np.ndarray, acc: np.ndarray,
                     tag: str) -> None:
    """The words read back (a prefix of each memory, or all of it) equal the ISA simulator's."""
    mems = (("UB", ub, expected.ub), ("WMEM", wm, expected.wm), ("ACC", acc, expected.acc))
    for name, got, exp in mems:
        bad = np.flatnonzero(np.any(got != exp[:got.shape[0]], axis=1))
        assert bad.size == 0, (
            f"{tag}{name} differs from the ISA sim at {bad.size} words, first {int(bad[0])}: "
            f"got {got[bad[0]].tolist()} expected {exp[bad[0]].tolist()}"
        )
