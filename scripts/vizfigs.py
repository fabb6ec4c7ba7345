"""The pictures of `make viz` (matplotlib, Agg backend), each drawn from what a trace showed.

    staircase(frames, path_gif, path_strip, ...)   # picture 1: the PE grid once per cycle
    dbuf_timeline(events, ..., path)               # picture 2: shift / commit / swap / compute per PE
    unit_gantt(lanes, counters, path)              # picture 3: tpu_top's units over one training step
    perfetto_json(lanes, counters, path)           # picture 3 as Chrome trace events (ui.perfetto.dev)
    roofline(points, roofs, path)                  # picture 4

The inputs are plain data (tb/viz/trace.py reads them from the FST); nothing here simulates or models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

TILE_COLOURS = ("#dfe9f7", "#fde3c8", "#daf2d7", "#f4d9f0")  # active weight of tile 1, 2, 3, 4
TILE_EDGE = ("#2f6db5", "#d9730d", "#2e8b3a", "#a0409a")


@dataclass
class Frame:
    """The array after one edge, as the trace showed it ([i][j] arrays, signed codes)."""

    edge: int
    x: np.ndarray
    valid: np.ndarray
    switch: np.ndarray
    active: np.ndarray
    shadow: np.ndarray
    psum: np.ndarray
    tile: np.ndarray  # tile of the active weight: switches seen by the PE so far
    x_in: list[int | None]  # entering each row at the next edge (None: no valid input)
    w_in: list[int | None]  # entering each column's transit chain at the next edge
    y_out: list[int] | None  # the de-skewed result row registered by this edge


def _cell(ax, f: Frame, i: int, j: int, p: int) -> None:
    x0, y0 = j, p - 1 - i
    t = int(f.tile[i, j])
    face = TILE_COLOURS[(t - 1) % len(TILE_COLOURS)] if t else "#f2f2f2"
    ax.add_patch(
        Rectangle(
            (x0 + 0.04, y0 + 0.04),
            0.92,
            0.92,
            facecolor=face,
            edgecolor="#c0392b" if f.switch[i, j] else "#888888",
            lw=3.2 if f.switch[i, j] else 0.8,
        )
    )
    if f.valid[i, j]:
        ax.text(
            x0 + 0.5, y0 + 0.62, f"x={int(f.x[i, j])}", ha="center", va="center", fontsize=10, weight="bold"
        )
    else:
        ax.text(x0 + 0.5, y0 + 0.62, "·", ha="center", va="center", fontsize=10, color="#999999")
    ax.text(
        x0 + 0.1, y0 + 0.86, f"w{int(f.active[i, j])}", ha="left", va="center", fontsize=6, color="#333333"
    )
    ax.text(
        x0 + 0.9, y0 + 0.86, f"s{int(f.shadow[i, j])}", ha="right", va="center", fontsize=6, color="#888888"
    )
    ax.text(
        x0 + 0.5,
        y0 + 0.3,
        f"Σ={int(f.psum[i, j])}",
        ha="center",
        va="center",
        fontsize=7,
        color="#1f3b73" if f.valid[i, j] else "#888888",
    )


def draw_frame(ax, f: Frame, p: int, title: str | None = None) -> None:
    """One transparency: the P x P grid plus the values at its edges."""
    ax.clear()
    ax.set_xlim(-1.2, p + 0.9)
    ax.set_ylim(-1.5, p + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    for i in range(p):
        for j in range(p):
            _cell(ax, f, i, j, p)
    for i, v in enumerate(f.x_in):  # left edge: the skewed input entering row i
        ax.text(
            -0.55,
            p - 1 - i + 0.5,
            "" if v is None else f"{v} →",
            ha="center",
            va="center",
            fontsize=9,
            color="#2f6db5",
        )
    for j, v in enumerate(f.w_in):  # top edge: weights shifting into the transit chains
        ax.text(
            j + 0.5,
            p + 0.35,
            "" if v is None else f"{v} ↓",
            ha="center",
            va="center",
            fontsize=8,
            color="#7a5c00",
        )
    for i in range(p):  # right edge: the input leaving row i (the last PE's register)
        if f.valid[i, p - 1]:
            ax.text(p + 0.4, p - 1 - i + 0.5, f"→{int(f.x[i, p - 1])}", ha="center", va="center", fontsize=7,
                    color="#999999")
    for j in range(p):  # bottom edge: the partial sum leaving column j
        if f.valid[p - 1, j]:
            ax.text(
                j + 0.5,
                -0.3,
                f"↓{int(f.psum[p - 1, j])}",
                ha="center",
                va="center",
                fontsize=7,
                color="#1f3b73",
            )
    if f.y_out is not None:
        ax.text(
            p / 2,
            -1.0,
            "y = [" + ", ".join(str(v) for v in f.y_out) + "]",
            ha="center",
            va="center",
            fontsize=7.5,
            color="#1f3b73",
            weight="bold",
        )
    ax.set_title(title or f"after edge {f.edge}", fontsize=10)


def staircase(
    frames: Sequence[Frame], p: int, gif: Path, strip: Path, strip_frames: Sequence[int], caption: str
) -> tuple[Path, Path]:
    """An animated GIF of every frame and a static strip of `strip_frames` (indices into frames)."""
    fig, ax = plt.subplots(figsize=(5.0, 5.5))
    legend = (
        "x: input held (bold: valid this cycle), w: active weight, s: shadow weight, Σ: partial sum;\n"
        "colour: tile of the active weight; red border: the switch passes (shadow -> active)"
    )

    def update(k: int):
        draw_frame(ax, frames[k], p, f"{caption}\nafter edge {frames[k].edge}")
        ax.text(p / 2 - 0.15, -1.45, legend, ha="center", va="top", fontsize=5.5, color="#555555")
        return []

    anim = FuncAnimation(fig, update, frames=len(frames), blit=False)
    anim.save(gif, writer=PillowWriter(fps=2), dpi=90)
    plt.close(fig)

    n = len(strip_frames)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols, 4.1 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    for ax, k in zip(axes, strip_frames, strict=False):
        draw_frame(ax, frames[k], p)
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(f"{caption}: consecutive cycles\n{legend}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(strip, dpi=90)
    plt.close(fig)
    return gif, strip


EVENT_STYLE = {  # how each double-buffering event is drawn in a cell
    "shift": dict(color="#b08d00", label="weight shifts in (transit)"),
    "commit": dict(color="#2e8b3a", label="commit to shadow"),
    "swap": dict(color="#c0392b", label="swap shadow -> active (the switch)"),
    "compute": dict(color="#2f6db5", label="compute (multiply-add)"),
}


def dbuf_timeline(
    events: dict[str, np.ndarray],
    tile: np.ndarray,
    y_valid: Sequence[int],
    p: int,
    bound: int,
    bound_label: str,
    caption: str,
    path: Path,
) -> Path:
    """Rows: PE[i][j] (and the de-skewed outputs), columns: edges; `bound` edges are marked."""
    n = events["compute"].shape[0]
    rows = p * p
    fig, ax = plt.subplots(figsize=(max(8.0, 0.42 * n + 2.5), 0.34 * (rows + 1) + 2.2))
    for i in range(p):
        for j in range(p):
            r = i * p + j
            y = rows - r
            for k in range(n):
                if events["compute"][k, i, j]:
                    t = int(tile[k, i, j])
                    ax.add_patch(
                        Rectangle(
                            (k, y - 0.4),
                            1,
                            0.8,
                            facecolor=TILE_COLOURS[(t - 1) % 4],
                            edgecolor=TILE_EDGE[(t - 1) % 4],
                            lw=0.8,
                        )
                    )
                    ax.text(
                        k + 0.5, y, str(t), ha="center", va="center", fontsize=6, color=TILE_EDGE[(t - 1) % 4]
                    )
                if events["shift"][k, i, j]:
                    ax.add_patch(
                        Rectangle((k + 0.1, y + 0.28), 0.8, 0.12, color=EVENT_STYLE["shift"]["color"])
                    )
                if events["commit"][k, i, j]:
                    ax.plot(k + 0.5, y + 0.15, marker="s", ms=4.5, color=EVENT_STYLE["commit"]["color"])
                if events["swap"][k, i, j]:
                    ax.plot(k + 0.5, y - 0.22, marker="D", ms=4.5, color=EVENT_STYLE["swap"]["color"])
    for k in range(n):
        if y_valid[k]:
            ax.add_patch(Rectangle((k, -0.4), 1, 0.8, facecolor="#555555"))
    ax.axvline(bound, color="#c0392b", lw=1.6, ls="--")
    ax.text(bound - 0.1, rows + 0.9, bound_label, ha="right", va="bottom", fontsize=8.5, color="#c0392b")
    ax.set_yticks([rows - r for r in range(rows)] + [0])
    ax.set_yticklabels([f"PE[{r // p}][{r % p}]" for r in range(rows)] + ["y_valid_o"], fontsize=7)
    ax.set_xticks(range(0, n + 1, 2))
    ax.set_xlim(0, n + 0.5)
    ax.set_ylim(-0.8, rows + 1.6)
    ax.set_xlabel("edge (from the first weight shift)")
    handles = [
        plt.Line2D([], [], color=s["color"], marker=m, ls="", ms=6, label=s["label"])
        for s, m in (
            (EVENT_STYLE["shift"], "_"),
            (EVENT_STYLE["commit"], "s"),
            (EVENT_STYLE["swap"], "D"),
            (EVENT_STYLE["compute"], "s"),
        )
    ]
    handles.append(
        plt.Line2D([], [], color="#555555", marker="s", ls="", ms=6, label="result row (de-skewed)")
    )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5, frameon=False)
    ax.set_title(caption, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


LANE_COLOURS = {
    "program fetch": "#7f7f7f",
    "DMA in": "#2f6db5",
    "DMA out": "#17a2b8",
    "LDW": "#b08d00",
    "MATMUL": "#d9730d",
    "VEC": "#2e8b3a",
    "COPY": "#a0409a",
    "weight stall": "#c0392b",
    "DMA stall": "#e377c2",
}


def segments(level: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True in a bool array."""
    lv = np.concatenate([[False], np.asarray(level, bool), [False]])
    d = np.flatnonzero(lv[1:] != lv[:-1])
    return [(int(a), int(b)) for a, b in zip(d[::2], d[1::2], strict=True)]


def unit_gantt(
    lanes: dict[str, np.ndarray], table: list[tuple[str, int, int]], caption: str, path: Path
) -> Path:
    """A Gantt chart of the lanes (cycles of the run) with the counters' table beside it.

    `table` rows: (counter, hardware value read over AXI, what the trace adds up to)."""
    names = list(lanes)
    n = len(next(iter(lanes.values())))
    fig = plt.figure(figsize=(14, 0.45 * len(names) + 2.2))
    ax = fig.add_axes((0.09, 0.17, 0.64, 0.7))
    for r, name in enumerate(names):
        segs = segments(lanes[name])
        ax.broken_barh(
            [(a, b - a) for a, b in segs],
            (len(names) - 1 - r - 0.38, 0.76),
            facecolors=LANE_COLOURS.get(name, "#444444"),
        )
        busy = int(np.asarray(lanes[name]).sum())
        ax.text(n * 1.005, len(names) - 1 - r, f"{busy} ({100 * busy / n:.0f}%)", va="center", fontsize=7)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(list(reversed(names)), fontsize=8)
    ax.set_xlim(0, n)
    ax.set_xlabel("cycle of the run (from the accepted CTRL.START)")
    ax.set_title(caption, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    tx = fig.add_axes((0.80, 0.3, 0.19, 0.45))
    tx.axis("off")
    cells = [[c, f"{hw:,}", f"{tr:,}", "=" if hw == tr else "≠"] for c, hw, tr in table]
    t = tx.table(
        cellText=cells,
        colLabels=["counter", "CSR", "trace", ""],
        loc="center",
        cellLoc="right",
        colWidths=[0.42, 0.25, 0.25, 0.08],
    )
    t.auto_set_font_size(False)
    t.set_fontsize(7.5)
    t.scale(1, 1.35)
    tx.set_title("hardware counters (read over AXI)\nand the trace's totals", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def perfetto_json(
    lanes: dict[str, np.ndarray], clock_ns: float, counters: dict[str, int], title: str, path: Path
) -> Path:
    """Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing): one thread per lane, one complete
    ("X") event per busy interval, timestamps in microseconds of simulated time."""
    us = clock_ns / 1000.0
    events: list[dict] = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": title}}]
    for tid, name in enumerate(lanes, start=1):
        events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name", "args": {"name": name}})
        events.append(
            {"ph": "M", "pid": 1, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}}
        )
        for a, b in segments(lanes[name]):
            events.append(
                {
                    "ph": "X",
                    "pid": 1,
                    "tid": tid,
                    "name": name,
                    "ts": round(a * us, 6),
                    "dur": round((b - a) * us, 6),
                    "args": {"first_cycle": a, "cycles": b - a},
                }
            )
    n = len(next(iter(lanes.values())))
    events.append(
        {
            "ph": "X",
            "pid": 1,
            "tid": 0,
            "name": "run",
            "ts": 0,
            "dur": round(n * us, 6),
            "args": {"counters": counters},
        }
    )
    events.append(
        {"ph": "M", "pid": 1, "tid": 0, "name": "thread_name", "args": {"name": "run (CSR counters)"}}
    )
    path.write_text(
        json.dumps(
            {
                "traceEvents": events,
                "displayTimeUnit": "ns",
                "otherData": {"title": title, "clock_ns": clock_ns, "counters": counters},
            }
        )
    )
    return path


@dataclass
class Point:
    """A measured workload on the roofline."""

    label: str
    kind: str  # "on chip", "end to end", "demo train", "demo infer"
    P: int
    macs: int
    cycles: int
    bus_bytes_moved: int  # 0: data already on chip (drawn at the intensity of its end-to-end run)
    intensity: float  # MACs per byte moved over the bus


KIND_STYLE = {
    "on chip": dict(marker="o", mfc="none"),
    "end to end (serial)": dict(marker="s"),
    "end to end (overlap)": dict(marker="^"),
    "digits train step": dict(marker="*", ms=13),
    "digits inference": dict(marker="P", ms=11),
}
P_COLOURS = {2: "#7f7f7f", 4: "#2f6db5", 8: "#d9730d", 16: "#2e8b3a"}


def roofline(points: Sequence[Point], bus_bytes: int, caption: str, path: Path) -> Path:
    """Compute roofs P^2 MACs/cycle (one per P) and the bus roof bus_bytes * intensity, log-log."""
    fig, ax = plt.subplots(figsize=(9, 6))
    xs = [p.intensity for p in points if p.intensity > 0]
    lo, hi = min(xs + [0.1]) / 2, max(xs + [10.0]) * 2
    grid = np.geomspace(lo, hi, 200)
    ax.plot(grid, bus_bytes * grid, color="#444444", lw=1.2, label=f"bus roof: {bus_bytes} B/cycle × MAC/B")
    for P in sorted({p.P for p in points}):
        c = P_COLOURS.get(P, "#000000")
        ax.plot(grid, np.minimum(P * P, bus_bytes * grid), color=c, lw=2.2, alpha=0.5)
        ax.axhline(P * P, color=c, lw=0.8, ls=":")
        ax.text(hi / 1.05, P * P * 1.06, f"compute roof P²={P * P} (P={P})", ha="right", fontsize=8, color=c)
    seen = set()
    for p in points:
        style = dict(KIND_STYLE.get(p.kind, {"marker": "x"}))
        key = (p.kind, p.P)
        ax.plot(
            p.intensity,
            p.macs / p.cycles,
            ls="",
            color=P_COLOURS.get(p.P, "#000000"),
            ms=style.pop("ms", 7),
            label=f"{p.kind}, P={p.P}" if key not in seen else None,
            **style,
        )
        seen.add(key)
        if p.kind.startswith("digits"):
            ax.annotate(
                p.label,
                (p.intensity, p.macs / p.cycles),
                textcoords="offset points",
                xytext=(6, -10),
                fontsize=7.5,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity: MACs per byte moved over the bus (DMA_BYTES)")
    ax.set_ylabel("MACs per cycle (MACS / CYCLES)")
    ax.set_title(caption, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, loc="lower right")
    if any(p.kind == "on chip" for p in points):
        ax.text(0.01, 0.99, "on chip: the same GEMM with its data already in the memories (no bus traffic),\n"
                "drawn at the intensity of its end-to-end run: the gap down to the squares is the DMA's cost",
                transform=ax.transAxes, ha="left", va="top", fontsize=7, color="#555555")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
