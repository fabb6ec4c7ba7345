"""Reference model of tpu_top as the host sees it (docs/csr.md, docs/host.md): the CSRs, the accept and
reject rules of CTRL, and the outcome of every program and host transfer.

It is a transaction-level model: a CSR write acts at once, and a run or a host transfer that a write
starts completes when the host observes its done (`complete()`): the model then records the outcome
computed by models.isa_sim on its own host memory and on-chip memories, and the AXI bursts
(`bursts`) the DMA must have presented (`log`: every burst in order; None where the bursts of an
aborted run after its fetch are not predicted). Timing-dependent values (CYCLES, WSTALL, DMA_STALL, the PC of
an aborted run) are not predicted; `read` returns None for them. An abort is modelled by its status
and the core's soft reset; the memory effects of the aborted work are those of the whole run or
transfer, so use it where they do not matter (a program without side effects, or data reloaded after).
The DMA window is the one the CSRs hold when START is written (change it only while idle).

    m = HostModel(P=4, depths={"IMEM": 256, "UB": 256, "WM": 64, "ACC": 64}, bus_bytes=8, host=host)
    resp = m.write(csr.offset("CTRL"), 1, strb=0xF)     # START: the run's outcome is now pending
    m.complete()                                         # the host saw DONE
    value, resp = m.read(csr.offset("STATUS"))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models import csr
from models.fixed_point import ACC_W, DATA_W
from models.hw import const
from models.isa_sim import HostMemory, MachineState, run_result

MASK32, MASK64 = (1 << 32) - 1, (1 << 64) - 1
SEL_IMEM, SEL_UB, SEL_WM, SEL_ACC = (const(n) for n in ("MemSelImem", "MemSelUb", "MemSelWm", "MemSelAcc"))
DMA_ERR = {n: const(n) for n in ("DmaErrNone", "DmaErrAlign", "DmaErrRange", "DmaErrLen", "DmaErrWindow",
                                  "DmaErrAbort")}
ERR = {n: const(n) for n in ("ErrNone", "ErrLen", "ErrDmaAddr", "ErrDmaWindow", "ErrAbort", "ErrIllegal",
                             "ErrPc")}
# On-chip address / length widths of the DMA command (tpu_top: HostAddrW and LenW).
MEM_ADDR_W, LEN_W = const("HostAddrW"), 16
TIMED = ("CYCLES", "WSTALL", "DMA_STALL")  # counters whose value depends on bus timing
ROWS = ("ARRAY_BUSY", "MACS")


class SparseBytes:
    """A zero-filled byte space of `size` bytes stored by 4 KiB page (host memory of a 2^32 bus)."""

    PAGE = 4096

    def __init__(self, size: int) -> None:
        self.size, self.pages = size, {}

    def __len__(self) -> int:
        return self.size

    def _span(self, s: slice) -> tuple[int, int]:
        lo, hi, _ = s.indices(self.size)
        return lo, hi

    def __getitem__(self, s: slice) -> bytes:
        lo, hi = self._span(s)
        out = bytearray()
        while lo < hi:
            page, off = divmod(lo, self.PAGE)
            n = min(hi - lo, self.PAGE - off)
            out += self.pages.get(page, bytes(self.PAGE))[off:off + n]
            lo += n
        return bytes(out)

    def __setitem__(self, s: slice, data: bytes) -> None:
        lo, hi = self._span(s)
        assert hi - lo == len(data), "SparseBytes keeps its size"
        i = 0
        while lo < hi:
            page, off = divmod(lo, self.PAGE)
            n = min(hi - lo, self.PAGE - off)
            buf = self.pages.setdefault(page, bytearray(self.PAGE))
            buf[off:off + n] = data[i:i + n]
            lo, i = lo + n, i + n


def bursts(addr: int, nbytes: int, bus_bytes: int, max_burst: int) -> list[tuple[int, int]]:
    """(address, beats) of every AXI burst of one transfer: at most max_burst beats, never across 4 KiB."""
    out, beats = [], -(-nbytes // bus_bytes)
    while beats:
        n = min(beats, max_burst, (0x1000 - (addr & 0xFFF)) // bus_bytes)
        out.append((addr, n))
        addr, beats = addr + n * bus_bytes, beats - n
    return out


@dataclass
class Outcome:
    """A run or host transfer the model accepted and whose done the host has not seen yet."""

    host: bool                    # a CTRL.DMA_START transfer (else a run: fetch + program)
    code: int                     # Err* (run) or DmaErr* (host transfer)
    pc: int | None                # run only; None: not predicted (an aborted run)
    bytes: int                    # DMA_BYTES it adds
    rows: int | None              # ARRAY_BUSY it adds; None: not predicted (see _run)
    bursts: list[tuple[str, int, int]] = field(default_factory=list)  # ("R" | "W", address, beats)
    fetch: int = 0                # how many of the bursts are the program fetch's


class HostModel:
    """The host-visible state of tpu_top (see the module docstring)."""

    def __init__(self, P: int, depths: dict[str, int], bus_bytes: int, host: HostMemory, max_burst: int = 16,
                 addr_w: int = 32, config: dict[str, int] | None = None) -> None:
        self.P, self.depths, self.bus_bytes = P, depths, bus_bytes
        self.max_burst, self.addr_w = max_burst, addr_w
        self.host = host
        self.state = MachineState.new(P, depths["UB"], depths["WM"], depths["ACC"])
        self.imem = [0] * depths["IMEM"]
        self._by_off = csr.by_offset()
        # Configuration read-back: `config` (e.g. csr.config_values(...)), else 0.
        self.regs = {r.name: csr.reset_value(r, config) if config or r.reset != csr.CONFIG else 0
                     for r in csr.registers().values()}
        self.busy = self.done = self.dma_done = False
        self.err = self.dma_err = self.pc = self.rej = self.dma_rej = self.irq_st = 0
        self.cnt = dict.fromkeys(csr.COUNTERS, 0)
        self.snap = dict.fromkeys(csr.COUNTERS, 0)
        self.pending: Outcome | None = None
        self.cnt_known = True  # False after a CNT_CLEAR in the middle of a run (until an idle one)
        self.rows_known = True  # False after a run whose ARRAY_BUSY is not predicted (until a CNT_CLEAR)
        self._before: tuple | None = None
        self.log: list[tuple[str, int, int]] = []  # every burst of every completed transfer, in order

    # ---- CSR access ------------------------------------------------------------------------------
    def reg64(self, name: str) -> int:
        return self.regs[f"{name}_HI"] << 32 | self.regs[f"{name}_LO"]

    def irq(self) -> int:
        """The irq_o level."""
        return int(bool(self.irq_st & self.regs["IRQ_ENABLE"]))

    def status(self) -> int:
        f = csr.FIELDS["STATUS"]
        v = (self.busy << f["BUSY"][0] | self.done << f["DONE"][0] | bool(self.err) << f["ERROR"][0]
             | self.busy << f["DMA_BUSY"][0] | self.dma_done << f["DMA_DONE"][0]
             | bool(self.dma_err) << f["DMA_ERROR"][0])
        return v | self.err << f["ERR_CODE"][0] | self.dma_err << f["DMA_ERR_CODE"][0]

    def read(self, off: int) -> tuple[int | None, int]:
        """(value, AXI response) of a read at byte offset `off`; value None: timing dependent."""
        reg = self._by_off.get(off & ~3)
        resp = csr.DECERR if reg is None else csr.OKAY
        if reg is None:
            return 0, resp
        name = reg.name
        for c in csr.COUNTERS:
            if name == f"{c}_LO":
                known = c not in TIMED and self.cnt_known and (self.rows_known or c not in ROWS)
                self.snap[c] = self.cnt[c] >> 32 if known else None
                return (self.cnt[c] & MASK32 if known else None), resp
            if name == f"{c}_HI":
                return self.snap[c], resp
        value = {"CTRL": 0, "STATUS": self.status(), "REJECTS": self.dma_rej << 16 | self.rej,
                 "IRQ_STATUS": self.irq_st, "PC": self.pc}.get(name, self.regs[name])
        return value, resp

    def write(self, off: int, data: int, strb: int = 0xF) -> int:
        """A CSR write (WSTRB `strb`); returns the AXI response and applies its effects."""
        reg = self._by_off.get(off & ~3)
        resp = csr.DECERR if reg is None else (csr.SLVERR if reg.access == csr.RO else csr.OKAY)
        if resp != csr.OKAY:
            return resp
        mask = sum(0xFF << 8 * i for i in range(4) if strb >> i & 1)
        bits = data & mask
        name = reg.name
        if name == "CTRL":
            self._ctrl(bits)
        elif name == "IRQ_STATUS":
            self.irq_st &= ~bits
        elif name == "DMA_CFG":
            if strb & 1:
                self.regs[name] = data & csr.writable_mask(name)
        else:
            keep = csr.writable_mask(name)
            self.regs[name] = (self.regs[name] & ~mask | data & mask) & keep
        return resp

    def _ctrl(self, bits: int) -> None:
        b = {n: bool(bits >> lsb & 1) for n, (lsb, _) in csr.FIELDS["CTRL"].items()}
        rej = dma_rej = False
        started = False
        if b["START"]:
            if self.busy or b["ABORT"]:
                rej = True
            else:
                self.pending, self.busy, started = self._run(), True, True
                self.done, self.err = False, 0
        if b["DMA_START"]:
            # The run owns the DMA: a DMA_START with an accepted START is rejected too.
            if self.busy or b["ABORT"]:
                dma_rej = True
            else:
                self.pending, self.busy = self._host_dma(), True
                self.dma_done, self.dma_err = False, 0
        if b["ABORT"] and self.busy and not started and self.pending is not None:
            # The aborted work's effects on memories are undone (see the module docstring); its bytes
            # and bursts are not predicted.
            p = self.pending
            self.pending = Outcome(p.host, DMA_ERR["DmaErrAbort"] if p.host else ERR["ErrAbort"], None,
                                   p.bytes, p.rows, p.bursts, p.fetch)
            self.cnt_known = False
            if self._before is not None:
                ub, wm, acc, pages = self._before
                self.state.ub[:], self.state.wm[:], self.state.acc[:] = ub, wm, acc
                if isinstance(self.host.data, SparseBytes):
                    self.host.data.pages = pages
        if rej or dma_rej:
            self.irq_st |= csr.bit("IRQ", "REJECT")
        if b["CNT_CLEAR"]:  # wins over the rejections of the same write
            self.cnt_known = not self.busy or started
            self.rows_known = self.cnt_known
            self.cnt = dict.fromkeys(csr.COUNTERS, 0)
            self.snap = dict.fromkeys(csr.COUNTERS, 0)
            self.rej = self.dma_rej = 0
        else:
            self.rej = min(self.rej + rej, 0xFFFF)
            self.dma_rej = min(self.dma_rej + dma_rej, 0xFFFF)

    # ---- completion ------------------------------------------------------------------------------
    def complete(self) -> Outcome:
        """The pending run or transfer ends (the host saw its done): status, irqs and counters update."""
        p = self.pending
        assert p is not None and self.busy, "nothing is running"
        self.pending, self.busy = None, False
        irq = csr.FIELDS["IRQ"]
        if p.host:
            self.dma_done, self.dma_err = True, p.code
            self.irq_st |= 1 << irq["DMA_DONE"][0] | bool(p.code) << irq["DMA_ERROR"][0]
        else:
            self.done, self.err, self.pc = True, p.code, p.pc
            if p.code == ERR["ErrAbort"]:
                self.core_reset()
            self.irq_st |= 1 << irq["DONE"][0] | bool(p.code) << irq["ERROR"][0]
        self.cnt["DMA_BYTES"] += p.bytes
        self.rows_known &= p.rows is not None
        self.cnt["ARRAY_BUSY"] += p.rows or 0
        self.cnt["MACS"] += (p.rows or 0) * self.P * self.P
        self.log += p.bursts if p.pc is not None or not p.code else [*p.bursts[:p.fetch], None]
        return p

    # ---- the transfers ---------------------------------------------------------------------------
    def word_bytes(self, sel: int) -> int:
        return 8 if sel == SEL_IMEM else self.P * (ACC_W if sel == SEL_ACC else DATA_W) // 8

    def _cmd_check(self, host: int, sel: int, mem: int, n: int, window: bool) -> int:
        """DmaErr* of a command before any bus activity (tpu_top's width check, then tpu_dma's)."""
        depth = {SEL_IMEM: "IMEM", SEL_UB: "UB", SEL_WM: "WM", SEL_ACC: "ACC"}[sel]
        nbytes = n * self.word_bytes(sel)
        if host >> self.addr_w or mem >> MEM_ADDR_W or n >> LEN_W:
            return DMA_ERR["DmaErrRange"]
        if n == 0:
            return DMA_ERR["DmaErrLen"]
        if host % self.bus_bytes:
            return DMA_ERR["DmaErrAlign"]
        if mem + n > self.depths[depth] or host + nbytes > 1 << self.addr_w:
            return DMA_ERR["DmaErrRange"]
        if window and self.host.outside(host, nbytes):
            return DMA_ERR["DmaErrWindow"]
        return DMA_ERR["DmaErrNone"]

    def _bursts(self, out: bool, host: int, nbytes: int) -> list[tuple[str, int, int]]:
        return [("W" if out else "R", a, n) for a, n in bursts(host, nbytes, self.bus_bytes, self.max_burst)]

    def window(self) -> tuple[int, int]:
        return self.reg64("DMA_WIN_BASE"), self.reg64("DMA_WIN_LIMIT")

    def _host_dma(self) -> Outcome:
        self._snapshot()
        cfg = self.regs["DMA_CFG"]
        out = bool(csr.field(cfg, "DMA_CFG", "DIR"))
        sel = csr.field(cfg, "DMA_CFG", "SEL")
        host, mem, n = self.reg64("DMA_HOST"), self.regs["DMA_MEM_ADDR"], self.regs["DMA_LEN"]
        code = self._cmd_check(host, sel, mem, n, window=False)
        if code:
            return Outcome(True, code, None, 0, 0)
        wb = self.word_bytes(sel)
        if sel == SEL_IMEM:
            if out:
                words = self.imem[mem:mem + n]
                self.host.data[host:host + n * 8] = b"".join(w.to_bytes(8, "little") for w in words)
            else:
                raw = self.host.data[host:host + n * 8]
                self.imem[mem:mem + n] = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, n * 8, 8)]
        else:
            arr = {SEL_UB: self.state.ub, SEL_WM: self.state.wm, SEL_ACC: self.state.acc}[sel]
            width = ACC_W if sel == SEL_ACC else DATA_W
            if out:
                self.host.write_words(host, arr[mem:mem + n], width)
            else:
                arr[mem:mem + n] = self.host.read_words(host, n, self.P, width)
        return Outcome(True, 0, None, n * wb, 0, self._bursts(out, host, n * wb))

    def _snapshot(self) -> None:
        pages = ({k: bytearray(v) for k, v in self.host.data.pages.items()}
                 if isinstance(self.host.data, SparseBytes) else None)
        self._before = (self.state.ub.copy(), self.state.wm.copy(), self.state.acc.copy(), pages)

    def _run(self) -> Outcome:
        self._snapshot()
        base, n = self.reg64("PROG_BASE"), self.regs["PROG_LEN"]
        self.host.window = self.window()
        code = self._cmd_check(base, SEL_IMEM, 0, n, window=True)
        if code:
            err = {DMA_ERR["DmaErrLen"]: ERR["ErrLen"], DMA_ERR["DmaErrWindow"]: ERR["ErrDmaWindow"]}
            return Outcome(False, err.get(code, ERR["ErrDmaAddr"]), 0, 0, 0)
        raw = self.host.data[base:base + n * 8]
        self.imem[:n] = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, n * 8, 8)]
        fetch = self._bursts(False, base, n * 8)
        base0 = self.state.host_base
        r = run_result(self.imem, self.state, imem_depth=self.depths["IMEM"], host=self.host, trace=True,
                       max_steps=1 << 20)
        moved, rows, bus, hbase = n * 8, 0, list(fetch), base0
        # The failing instruction is the last one traced, except for two codes: an illegal word is never
        # traced (it does not decode), and ErrPc follows an instruction that completed; in both the last
        # traced instruction did its work (its DMA moved its bytes, its MATMUL its rows).
        completed = r.error in (ERR["ErrIllegal"], ERR["ErrPc"])
        for i, (_, ins) in enumerate(r.trace):
            failed = r.error and not completed and i == len(r.trace) - 1
            if ins.op == "SETH":
                a = ins.args["addr"]
                hbase = (hbase & MASK32) | a << 32 if ins.has("HI") else a
            if ins.op == "MATMUL" and not failed:
                rows += ins.args["m"]
            if ins.op == "DMA" and not failed:
                width = ACC_W if ins.args["mem"] == SEL_ACC else DATA_W
                nbytes = ins.args["len"] * self.P * width // 8
                moved += nbytes
                bus += self._bursts(ins.has("OUT"), hbase + ins.args["hoff"], nbytes)
        # A failing DMA may have let a MATMUL after it issue and stream before its error came back (rule 2
        # of docs/isa.md: a MATMUL away from the DMA's range runs beside it); the ISA sim stops at the
        # DMA, so ARRAY_BUSY and MACS are not predicted after such a run (until a CNT_CLEAR).
        if r.error and not completed and r.trace and r.trace[-1][1].op == "DMA":
            later = [int(w) & 0xFF for w in self.imem[r.pc + 1:]]
            if const("OpMatmul") in later:
                rows = None
        return Outcome(False, r.error, r.pc, moved, rows, bus, len(fetch))

    def core_reset(self) -> None:
        """What CTRL.ABORT's soft reset of the core does: registers to reset values, memories kept."""
        st = MachineState.new(self.P, self.depths["UB"], self.depths["WM"], self.depths["ACC"])
        st.ub, st.wm, st.acc = self.state.ub, self.state.wm, self.state.acc
        self.state = st

    def memories(self) -> dict[str, np.ndarray]:
        """The on-chip memories as the model says they are (IMEM as 64-bit words)."""
        return {"IMEM": np.array(self.imem, dtype=object), "UB": self.state.ub, "WM": self.state.wm,
                "ACC": self.state.acc}
