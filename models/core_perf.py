"""Analytical cycle model of the Systole core (docs/core.md, "Cycle model").

The numbers here are exact: the core's performance counters must equal them for the programs of
`models.programs.gemm_program` (tb/core asserts it). Derivation, with s the edge that samples start_i:

* the first LDW issues at s+1 (the IMEM read of pc 0 happens at s itself) and reads WMEM at s+2 .. s+P+1;
  the array samples each row one edge after its read, so the first weight shift is at edge s+3;
* from then on the array runs its fastest legal schedule (docs/architecture.md):
  `stream_cycles(T, M, P) = (T-1)*max(M, P) + M + 3P` edges up to the one that registers the last
  result row on y (P edges of weights, the rows, and the array latency 2P, models.array_model);
* one edge later the last ACC write happens, and the done edge follows one edge after that.

So `gemm_cycles = 2 + stream_cycles + 2`: fetch/issue and the WMEM read before the first shift, the ACC
write-back and the HALT/done edge after the last result. For M >= P that is `T*M + 3P + 4`.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.array_model import stream_cycles
from models.host_layout import GemmBuffers, dma_lines, seth_lines, word_bytes

# Edges of the core that are not array edges: issue + WMEM read before, ACC write + done after.
CORE_OVERHEAD = 4


def _tiles(n: int, p: int) -> int:
    return -(-n // p)


def _check(M: int, K: int, N: int, P: int) -> None:
    if min(M, K, N) < 1 or P < 2:
        raise ValueError(f"GEMM {M}x{K}x{N} on P={P}: dimensions must be >= 1 and P >= 2")


def gemm_tiles(K: int, N: int, P: int) -> int:
    """Weight tiles of a K x N matrix on a P x P array: ceil(K/P) * ceil(N/P)."""
    return _tiles(K, P) * _tiles(N, P)


def gemm_cycles(M: int, K: int, N: int, P: int) -> int:
    """Exact cycles (start to done, the core's perf_cycles_o) of `gemm_program(M, K, N, P)`."""
    _check(M, K, N, P)
    return stream_cycles(gemm_tiles(K, N, P), M, P) + CORE_OVERHEAD


def gemm_stall_cycles(M: int, K: int, N: int, P: int) -> int:
    """Exact weight-load stall cycles (perf_wstall_o) of `gemm_program(M, K, N, P)`.

    The first MATMUL waits for the first LDW (P - 2 cycles). A later MATMUL with SWAP waits only when
    M < P: the array is free after M rows but the next tile needs P edges to shift in; it is decoded
    two edges after the previous MATMUL issued (the LDW in between issues first), so it waits
    P - max(M, 2) cycles.
    """
    _check(M, K, N, P)
    t = gemm_tiles(K, N, P)
    return (P - 2) + (t - 1) * max(0, P - max(M, 2))


def gemm_rows(M: int, K: int, N: int, P: int) -> int:
    """Rows entering the array (perf_rows_o, the array-busy cycles): M per tile."""
    _check(M, K, N, P)
    return gemm_tiles(K, N, P) * M


def baseline_cycles(M: int, K: int, N: int, P: int) -> int:
    """Without double buffering (SCALE-Sim weight stationary): every tile loads, streams and drains
    alone, tiles * stream_cycles(1, M, P) = tiles * (3P + M)."""
    _check(M, K, N, P)
    return gemm_tiles(K, N, P) * stream_cycles(1, M, P)


def ideal_cycles(M: int, K: int, N: int, P: int) -> float:
    """The compute floor M*K*N / P^2 (every PE busy every cycle, no padding)."""
    _check(M, K, N, P)
    return M * K * N / (P * P)


def mac_efficiency(M: int, K: int, N: int, P: int) -> float:
    """Fraction of the ideal MAC rate reached: ideal_cycles / gemm_cycles."""
    return ideal_cycles(M, K, N, P) / gemm_cycles(M, K, N, P)


# ---- End to end: data starting in host memory (tb/top/bench_top.py, scripts/bench.py) ----------------

def gemm_dma_overlap_program(buf: GemmBuffers, bus_bytes: int = 8) -> str:
    """Like `host_layout.gemm_dma_program`, but the DMA of X block k+1 overlaps the compute of block k.

    The tiles run K-block outer, N-block inner (`Y[n] += X[k] . W[k, n]`), so compute on block k needs
    only X block k (UB words `x_addr(k)`, M of them) and W, which is loaded whole first (it is small).
    A DMA issues only when every unit is idle (docs/isa.md §4a rule 1), so each `DMA IN X[k+1]` is
    placed before the MATMULs of block k: they read another UB range, so they run while it transfers,
    and the first MATMUL of block k+1 waits for it (range interlock, rule 2).

        SETH base
        DMA IN, WM, all of W               ; then X block 0
        DMA IN, UB, x_addr(0), M
        for k: [DMA IN, UB, x_addr(k+1), M]  then  for n: LDW w(k, n); MATMUL x(k), y(n), M[, ACC], SWAP
        DMA OUT, ACC, all of Y
        HALT

    Each X block starts at host offset x_off + k*M*(UB word bytes), which must be a multiple of
    `bus_bytes` (the DMA's alignment rule); otherwise ValueError.
    """
    lay, P = buf.lay, buf.lay.P
    ub_b = word_bytes("UB", P)
    if lay.kt > 1 and (lay.M * ub_b) % bus_bytes:
        raise ValueError(f"X blocks of {lay.M * ub_b} bytes are not aligned to the {bus_bytes}-byte bus")
    lines = [f"; GEMM {lay.M}x{lay.K}x{lay.N}, P={P}: X block k+1 moves in while block k computes"]
    lines += seth_lines(buf.base)
    lines += dma_lines("IN", "WM", lay.w_wm, lay.kt * lay.nt * P, buf.w_off, P)
    lines += dma_lines("IN", "UB", lay.x_addr(0), lay.M, buf.x_off, P)
    for i in range(lay.kt):
        if i + 1 < lay.kt:
            lines += dma_lines("IN", "UB", lay.x_addr(i + 1), lay.M, buf.x_off + (i + 1) * lay.M * ub_b, P)
        for j in range(lay.nt):
            flags = (", ACC" if i else "") + ", SWAP"
            lines.append(f"LDW {lay.w_addr(i, j)}")
            lines.append(f"MATMUL {lay.x_addr(i)}, {lay.y_addr(j)}, {lay.M}{flags}")
    lines += dma_lines("OUT", "ACC", lay.y_acc, lay.nt * lay.M, buf.y_off, P)
    lines.append("HALT")
    return "\n".join(lines) + "\n"


# DMA timing with a bus that never back-pressures (cocotbext-axi AxiRam, no pauses). One transfer's busy
# window (tpu_dma busy_o) lasts beats + latency edges: the R or W beats stream one per edge across burst
# boundaries (MaxOutstanding = 4 bursts cover the slave's latency), plus the DMA's own pipeline and the
# slave's first-beat / write-response latency. DMA_STALL counts that slave latency exactly.
DMA_IN_LATENCY = 6  # host -> chip: AR presented, 2 edges to the first R beat, last word written, done
DMA_OUT_LATENCY = 7  # chip -> host: first word read from memory and packed, AW, last W, 1 edge to B, done
DMA_IN_STALL = 2  # DMA_STALL cycles of one host -> chip transfer (waiting for the first R beat)
DMA_OUT_STALL = 1  # DMA_STALL cycles of one chip -> host transfer (waiting for the B response)
DMA_GAP = 2  # from one DMA's last busy edge to the next DMA's first (done -> issue -> command register)
FETCH_TO_CORE = 1  # the fetch's last busy edge -> the core's start edge
RUN_START = 3  # core start edge -> first DMA's busy edge, with one SETH before it (one more per SETH)
RUN_TAIL = 3  # CSR START -> the fetch's first busy edge (1); last DMA's end -> HALT's done edge (2)
MAX_BURST = 16  # tpu_top's MaxBurst default


def dma_beats(nbytes: int, bus_bytes: int) -> int:
    """Bus beats of one transfer of `nbytes` payload bytes: ceil(nbytes / bus_bytes)."""
    return -(-nbytes // bus_bytes)


def dma_bursts(addr: int, nbytes: int, bus_bytes: int, max_burst: int = MAX_BURST) -> list[int]:
    """Beats of each INCR burst of a transfer: at most max_burst, split at every 4 KiB boundary."""
    out, left = [], dma_beats(nbytes, bus_bytes)
    while left:
        n = min(left, max_burst, (4096 - addr % 4096) // bus_bytes)
        out.append(n)
        addr, left = addr + n * bus_bytes, left - n
    return out


def dma_cycles(nbytes: int, bus_bytes: int, out: bool) -> int:
    """Edges tpu_dma is busy for one transfer with no back-pressure (burst splits cost nothing)."""
    return dma_beats(nbytes, bus_bytes) + (DMA_OUT_LATENCY if out else DMA_IN_LATENCY)


@dataclass(frozen=True)
class Transfer:
    """One DMA of a program (or the fetch): direction, payload bytes, host byte address."""

    out: bool
    nbytes: int
    addr: int


@dataclass
class E2eModel:
    """Predicted counters of one end-to-end GEMM program (see `e2e_model`)."""

    cycles: int  # CSR CYCLES, fetch included
    gemm_part: int  # edges from the end of transfer `gemm_after` to the output DMA's start
    gemm_after: int  # index in `transfers` of the input DMA the GEMM part starts after
    transfers: list[Transfer]  # in order, the fetch first
    windows: list[int]  # busy edges of each transfer
    dma_bytes: int
    dma_stall: int


def _transfers(lines: list[str], base: int, P: int) -> list[Transfer]:
    out = []
    for line in lines:
        direction, mem, _, n, hoff = (f.strip() for f in line.split(None, 1)[1].split(","))
        out.append(Transfer(direction == "OUT", int(n) * word_bytes(mem, P), base + int(hoff)))
    return out


def e2e_model(buf: GemmBuffers, variant: str, program_words: int, bus_bytes: int,
              prog_base: int = 0) -> E2eModel:
    """Exact CSR counters of `host_layout.gemm_dma_program` ("serial") or `gemm_dma_overlap_program`
    ("overlap") fetched from `prog_base`, with a bus that never back-pressures (docs/core.md, Benchmarks).

    Times are edges from the fetch's first busy edge. A DMA starts DMA_GAP edges after the previous one
    ends. Serial: the first LDW touches the WMEM range of the last input DMA, so the GEMM starts as a
    cold `gemm_program` one edge after that DMA ends, and the output DMA starts `gemm_cycles + 1` edges
    after it. Overlap: a block of the K loop is a cold GEMM of nt tiles whose LDW issues one edge after
    the DMA of the next X block issues; the next DMA issues when that block has drained and the DMA has
    finished; the last two blocks stream as one GEMM of 2*nt tiles unless the last X block arrives after
    its first MATMUL would issue, which then shifts the rest of the stream.
    """
    lay, P = buf.lay, buf.lay.P
    fetch = Transfer(False, 8 * program_words, prog_base)
    x_lines = dma_lines("IN", "UB", lay.x_ub, lay.kt * lay.M, buf.x_off, P)
    w_lines = dma_lines("IN", "WM", lay.w_wm, lay.kt * lay.nt * P, buf.w_off, P)
    y_tr = _transfers(dma_lines("OUT", "ACC", lay.y_acc, lay.nt * lay.M, buf.y_off, P), buf.base, P)
    n_seth = len(seth_lines(buf.base))
    g = gemm_cycles(lay.M, lay.kt * P, lay.nt * P, P)
    t = dma_cycles(fetch.nbytes, bus_bytes, False) + FETCH_TO_CORE + RUN_START + n_seth - 1

    def run(trs: list[Transfer], t: int) -> int:
        for k, tr in enumerate(trs):
            t += (DMA_GAP if k else 0) + dma_cycles(tr.nbytes, bus_bytes, tr.out)
        return t

    if variant == "serial":
        ins = _transfers(x_lines + w_lines, buf.base, P)
        t = run(ins, t)
        gemm_part = g + 1
        t += gemm_part
    elif variant == "overlap":
        ub_b = word_bytes("UB", P)
        if lay.M > 2048:  # dma_lines splits at 2048 words
            raise ValueError("the overlap model needs one DMA per X block (M <= 2048)")
        blocks = [Transfer(False, lay.M * ub_b, buf.base + buf.x_off + i * lay.M * ub_b)
                  for i in range(lay.kt)]
        ins = _transfers(w_lines, buf.base, P) + blocks[:1]
        t = run(ins, t)
        e_first = t
        g_blk = gemm_cycles(lay.M, P, lay.nt * P, P)
        step = max(lay.M, P)
        if lay.kt == 1:
            s_last = t - dma_cycles(ins[-1].nbytes, bus_bytes, False)  # start of the X0 DMA
            first_mm = max(s_last - 2 + P, t)  # the LDW overlapped the X0 DMA; the MATMUL waits for it
            t = first_mm - P + g + 2
        else:
            s = t + DMA_GAP  # start of the DMA of X block 1
            for k in range(1, lay.kt - 1):  # block k-1 computes while X block k moves
                s += max(g_blk, dma_cycles(blocks[k].nbytes, bus_bytes, False) + DMA_GAP)
            d = dma_cycles(blocks[-1].nbytes, bus_bytes, False)
            delay = max(0, s + d - (s - 2 + P + lay.nt * step))
            t = s + gemm_cycles(lay.M, 2 * P, lay.nt * P, P) + delay
        gemm_part = t - e_first
    else:
        raise ValueError(f"unknown variant {variant!r}")
    t = run(y_tr, t)
    trs = [fetch, *ins, *(blocks[1:] if variant == "overlap" else []), *y_tr]
    return E2eModel(
        cycles=t + RUN_TAIL,
        gemm_part=gemm_part,
        gemm_after=len(ins),
        transfers=trs,
        windows=[dma_cycles(tr.nbytes, bus_bytes, tr.out) for tr in trs],
        dma_bytes=sum(tr.nbytes for tr in trs),
        dma_stall=sum(DMA_OUT_STALL if tr.out else DMA_IN_STALL for tr in trs),
    )
