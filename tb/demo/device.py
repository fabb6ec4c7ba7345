"""The demo's "device" seam: one compiled MLP living on the simulated TPU, driven by the host.

    dev = CoreDevice(env, train_mlp, infer_mlp)   # env: a reset CoreEnv (host port of tpu_core)
    await dev.load_params(params)                 # programs, constants and Q8.24 masters, once
    out = await dev.train_step(x, y)              # one SGD step on chip; returns the outputs H_L (Q8.8)
    out = await dev.infer(x)                      # forward pass of any number of rows, batch by batch
    params = await dev.read_params()              # the masters read back from ACC
    dev.counters()                                # hardware counters summed over runs + bytes moved

The weights stay on chip between steps: a training step moves only its batch in (X, Y) and the outputs
out (so the host can compute the loss); the training program refreshes the array's Q8.8 copies itself.
Inference uses a program compiled with the training batch size, hence the same memory layout: it reads
the weights where training keeps them and is loaded into IMEM right after the training program.

`AxiDevice` (the demo's default) drives `tpu_top` through tb/common/driver.py: CSRs over AXI4-Lite,
programs and data moved by the AXI4 DMA from host memory. `CoreDevice` talks to `tpu_core`'s word-wide
host port (tb/common/core_env.py).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from models.fixed_point import ACC_W, DATA_W
from models.isa_sim import MachineState
from models.mlp import CompiledMlp, Params
from tb.common.core_env import ERR_NONE, MEM_ACC, MEM_IMEM, MEM_UB, MEM_WM, CoreEnv, pack, unpack

COUNTERS = ("runs", "cycles", "rows", "macs", "wstall", "bytes_in", "bytes_out")


class Device(Protocol):
    """What the demo needs from a TPU holding one network."""

    transport: str  # "host-port" or "axi-dma": how programs and data move

    async def load_params(self, params: Params) -> None: ...

    async def train_step(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    async def infer(self, x: np.ndarray) -> np.ndarray: ...

    async def read_params(self) -> Params: ...

    def counters(self) -> dict[str, int]: ...


class DeviceError(RuntimeError):
    """The core stopped with an error code (never expected from the compiler's programs)."""


class CoreDevice:
    """A `Device` on tpu_core's host port: one word per clock in or out while the core is stopped."""

    transport = "host-port"

    def __init__(self, env: CoreEnv, train: CompiledMlp, infer: CompiledMlp) -> None:
        if train.layout != infer.layout or train.P != env.P:
            raise ValueError("training and inference programs must share one layout on the DUT's P")
        self.env, self.train, self.infer_mlp = env, train, infer
        self.infer_pc = len(train.words)
        if self.infer_pc + len(infer.words) > env.imem_depth:
            raise ValueError(f"programs need {self.infer_pc + len(infer.words)} IMEM words, "
                             f"the core has {env.imem_depth}")
        self._scratch = self._state()
        self._total = dict.fromkeys(COUNTERS, 0)
        self._ub_bytes = env.P * DATA_W // 8
        self._acc_bytes = env.P * ACC_W // 8

    def _state(self) -> MachineState:
        e = self.env
        return self.train.new_state(e.ub_depth, e.wm_depth, e.acc_depth)

    # ---- transfers --------------------------------------------------------------------------------
    async def _write(self, mem: int, base: int, rows: np.ndarray, width: int) -> None:
        await self.env.write_mem(mem, base, [pack(r, width) for r in rows])
        self._total["bytes_in"] += len(rows) * (8 if mem == MEM_IMEM else self.env.P * width // 8)

    async def _read(self, mem: int, base: int, n: int, width: int) -> np.ndarray:
        words = await self.env.read_mem(mem, base, n)
        self._total["bytes_out"] += n * self.env.P * width // 8
        return np.array([unpack(w, self.env.P, width) for w in words], dtype=np.int64)

    async def _run(self, pc: int) -> None:
        status = await self.env.run(pc, timeout_cycles=4_000_000)
        if status.error != ERR_NONE:
            raise DeviceError(f"core stopped with error {status.error} at pc {status.pc}")
        t = self._total
        t["runs"] += 1
        t["cycles"] += status.cycles
        t["rows"] += status.rows
        t["macs"] += status.macs
        t["wstall"] += status.wstall

    # ---- the Device interface ---------------------------------------------------------------------
    async def load_params(self, params: Params) -> None:
        """Both programs into IMEM, then the used part of UB, WMEM and ACC (constants, masters, tiles)."""
        lay = self.train.layout
        words = list(self.train.words) + list(self.infer_mlp.words)
        await self.env.write_mem(MEM_IMEM, 0, words)
        self._total["bytes_in"] += 8 * len(words)
        st = self._state()
        self.train.place_params(st, params)
        await self._write(MEM_UB, 0, st.ub[:lay.ub_words], DATA_W)
        await self._write(MEM_WM, 0, st.wm[:lay.wm_words], DATA_W)
        await self._write(MEM_ACC, 0, st.acc[:lay.acc_words], ACC_W)

    async def _batch_in(self, m: CompiledMlp, x: np.ndarray, y: np.ndarray | None) -> None:
        lay, s, sc = m.layout, m.sizes, self._scratch
        m.place_batch(sc, x, y)
        await self._write(MEM_UB, lay.x_ub, sc.ub[lay.x_ub:lay.x_ub + lay.kt(1) * lay.bp], DATA_W)
        if y is not None:
            n = lay.nt(len(s) - 1) * lay.bp
            await self._write(MEM_UB, lay.y_ub, sc.ub[lay.y_ub:lay.y_ub + n], DATA_W)

    async def _outputs(self, m: CompiledMlp) -> np.ndarray:
        lay, sc = m.layout, self._scratch
        base, n = lay.h_ub[-1], lay.nt(len(m.sizes) - 1) * lay.bp
        sc.ub[base:base + n] = await self._read(MEM_UB, base, n, DATA_W)
        return m.read_outputs(sc)

    async def train_step(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One SGD step on the batch (x, y) (Q8.8 codes); returns the forward pass's outputs H_L."""
        await self._batch_in(self.train, x, y)
        await self._run(0)
        return await self._outputs(self.train)

    async def infer(self, x: np.ndarray) -> np.ndarray:
        """Outputs H_L for every row of x: one inference run per batch, the last one zero padded."""
        m = self.infer_mlp
        B, n = m.batch, len(x)
        out = []
        for s in range(0, n, B):
            chunk = np.zeros((B, x.shape[1]), np.int64)
            chunk[:min(B, n - s)] = x[s:s + B]
            await self._batch_in(m, chunk, None)
            await self._run(self.infer_pc)
            out.append((await self._outputs(m))[:min(B, n - s)])
        return np.concatenate(out) if out else np.zeros((0, m.sizes[-1]), np.int64)

    async def read_params(self) -> Params:
        lay, sc = self.train.layout, self._scratch
        sc.acc[:lay.z_acc] = await self._read(MEM_ACC, 0, lay.z_acc, ACC_W)  # masters come first
        return self.train.read_params(sc)

    def counters(self) -> dict[str, int]:
        """Totals since construction: runs, cycles, array rows, MACs, weight stalls, bytes in and out."""
        return dict(self._total)


class AxiDevice:
    """A `Device` on tpu_top: a thin wrapper over the host driver's MLP calls (tb/common/driver.py).

    The driver owns the host-memory layout and the programs: each step is one program fetched by START
    (`SETH base`, `DMA IN` of X and Y, the compiled step, `DMA OUT` of the outputs H_L, HALT), and it
    checks that DMA_BYTES equals the bytes each run must move. Weights never leave the chip between
    steps. Counters are the CSR counters of each run (the driver clears them at START), summed here.
    """

    transport = "axi-dma"

    def __init__(self, drv, train: CompiledMlp, infer: CompiledMlp) -> None:
        if train.layout != infer.layout or train.P != drv.P:
            raise ValueError("training and inference programs must share one layout on the DUT's P")
        self.drv, self.train, self.infer_mlp = drv, train, infer
        self._total = dict.fromkeys(COUNTERS + ("dma_bytes", "dma_stall"), 0)

    def _count(self, runs: list) -> None:
        t = self._total
        for r in runs:
            c = r.counters
            t["runs"] += 1
            t["cycles"] += c["CYCLES"]
            t["rows"] += c["ARRAY_BUSY"]
            t["macs"] += c["MACS"]
            t["wstall"] += c["WSTALL"]
            t["dma_bytes"] += c["DMA_BYTES"]
            t["dma_stall"] += c["DMA_STALL"]
            t["bytes_in"] += r.bytes_in
            t["bytes_out"] += r.bytes_out

    async def load_params(self, params: Params) -> None:
        """The used part of UB, WMEM and ACC (constants, masters, Q8.8 tiles) by host DMA transfers."""
        await self.drv.load_params(self.train, params)

    async def train_step(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        runs: list = []
        r = await self.drv.mlp_train_step(self.train, x, y, info=runs)
        self._count(runs)
        return r.outputs

    async def infer(self, x: np.ndarray) -> np.ndarray:
        runs: list = []
        out = await self.drv.mlp_infer(self.infer_mlp, None, x, info=runs)
        self._count(runs)
        return out

    async def read_params(self) -> Params:
        return await self.drv.read_params(self.train)

    def counters(self) -> dict[str, int]:
        """Run totals from the CSR counters (cycles include each START's program fetch) + bytes moved."""
        return dict(self._total)
