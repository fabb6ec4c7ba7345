"""Host-memory layouts and DMA programs for Systole as an AXI peripheral (docs/host.md).

The DMA moves whole on-chip words, packed little endian (models.isa_sim.pack_rows). A program loads its
own operands with `DMA IN`, computes, and writes its results back with `DMA OUT`; the host only places
buffers and reads them back. `gemm_dma_program` is the GEMM the driver's `matmul` runs:

    SETH base                            ; every buffer is an offset from base (< 16 MiB)
    DMA IN, UB, 0, kt*M, x_off           ; X image (GemmLayout UB words)
    DMA IN, WM, 0, kt*nt*P, w_off        ; W image (GemmLayout WMEM tiles)
    <gemm_body>                          ; the first LDW waits for the WMEM DMA (range interlock)
    DMA OUT, ACC, 0, nt*M, y_off         ; Y image (AccW words)
    HALT

Transfers longer than the DMA length field are split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.fixed_point import ACC_W, DATA_W
from models.isa import OPS
from models.programs import GemmLayout, gemm_body

DMA_MAX_WORDS = OPS["DMA"].field("len").max
HOFF_MAX = OPS["DMA"].field("hoff").max
ALIGN = 64  # buffer alignment in host memory: a multiple of every supported bus width


def align(n: int, a: int = ALIGN) -> int:
    return -(-n // a) * a


def word_bytes(mem: str, P: int) -> int:
    """Bytes of one on-chip word of `mem` (UB, WM or ACC) in host memory."""
    return P * (ACC_W if mem == "ACC" else DATA_W) // 8


def dma_lines(direction: str, mem: str, addr: int, n: int, hoff: int, P: int) -> list[str]:
    """`DMA` instructions moving n words at on-chip `addr` <-> host offset `hoff`, split to fit the fields."""
    out, wb, chunk = [], word_bytes(mem, P), 2048  # 2048 words keep every chunk ALIGN-aligned
    done = 0
    while done < n:
        k = min(chunk, n - done, DMA_MAX_WORDS)
        off = hoff + done * wb
        if off > HOFF_MAX:
            raise ValueError(f"host offset {off} does not fit the DMA offset field (max {HOFF_MAX})")
        out.append(f"DMA {direction}, {mem}, {addr + done}, {k}, {off}")
        done += k
    return out


def seth_lines(base: int) -> list[str]:
    lines = [f"SETH {base & 0xFFFFFFFF}"]
    if base >> 32:
        lines.append(f"SETH {base >> 32}, HI")
    return lines


@dataclass(frozen=True)
class GemmBuffers:
    """Host byte offsets (from `base`) of the X, W and Y images of a GEMM and their sizes."""

    lay: GemmLayout
    base: int
    x_off: int
    w_off: int
    y_off: int

    @property
    def x_bytes(self) -> int:
        return self.lay.kt * self.lay.M * word_bytes("UB", self.lay.P)

    @property
    def w_bytes(self) -> int:
        return self.lay.kt * self.lay.nt * self.lay.P * word_bytes("WM", self.lay.P)

    @property
    def y_bytes(self) -> int:
        return self.lay.nt * self.lay.M * word_bytes("ACC", self.lay.P)

    @property
    def end(self) -> int:
        """One past the last host byte used (absolute address)."""
        return self.base + self.y_off + self.y_bytes


def gemm_buffers(lay: GemmLayout, base: int) -> GemmBuffers:
    """Consecutive, ALIGN-aligned X, W and Y images from host address `base` (itself aligned)."""
    x_off = 0
    w_off = align(x_off + lay.kt * lay.M * word_bytes("UB", lay.P))
    y_off = align(w_off + lay.kt * lay.nt * lay.P * word_bytes("WM", lay.P))
    return GemmBuffers(lay, base, x_off, w_off, y_off)


def x_image(x: np.ndarray, lay: GemmLayout) -> np.ndarray:
    """X (M x K codes) -> the UB words of GemmLayout [kt*M, P], zero padded."""
    P = lay.P
    xp = np.zeros((lay.M, lay.kt * P), np.int64)
    xp[:, : lay.K] = x
    return np.concatenate([xp[:, i * P:(i + 1) * P] for i in range(lay.kt)], axis=0)


def w_image(w: np.ndarray, lay: GemmLayout) -> np.ndarray:
    """W (K x N codes) -> the WMEM tiles of GemmLayout [kt*nt*P, P], zero padded."""
    P = lay.P
    wp = np.zeros((lay.kt * P, lay.nt * P), np.int64)
    wp[: lay.K, : lay.N] = w
    tiles = [wp[i * P:(i + 1) * P, j * P:(j + 1) * P] for j in range(lay.nt) for i in range(lay.kt)]
    return np.concatenate(tiles, axis=0)


def y_from_image(img: np.ndarray, lay: GemmLayout) -> np.ndarray:
    """ACC words [nt*M, P] of GemmLayout -> Y (M x N AccW codes)."""
    blocks = [img[j * lay.M:(j + 1) * lay.M] for j in range(lay.nt)]
    return np.concatenate(blocks, axis=1)[:, : lay.N]


def gemm_dma_program(buf: GemmBuffers) -> str:
    """Assembly text: load X and W, run the tiled GEMM, write Y back (module docstring)."""
    lay, P = buf.lay, buf.lay.P
    lines = [f"; GEMM {lay.M}x{lay.K}x{lay.N} with data in host memory at 0x{buf.base:x}, P={P}"]
    lines += seth_lines(buf.base)
    lines += dma_lines("IN", "UB", lay.x_ub, lay.kt * lay.M, buf.x_off, P)
    lines += dma_lines("IN", "WM", lay.w_wm, lay.kt * lay.nt * P, buf.w_off, P)
    lines += gemm_body(lay)
    lines += dma_lines("OUT", "ACC", lay.y_acc, lay.nt * lay.M, buf.y_off, P)
    lines.append("HALT")
    return "\n".join(lines) + "\n"


def gemm_dma_bytes(lay: GemmLayout, program_words: int) -> int:
    """Payload bytes the DMA moves for one gemm_dma_program run: the fetch, X, W and Y."""
    buf = gemm_buffers(lay, 0)
    return 8 * program_words + buf.x_bytes + buf.w_bytes + buf.y_bytes
