"""The CSR map of tpu_csr, read from its single source of truth (rtl/tpu_pkg.sv via models.hw).

Offsets and bit positions come from the package; this module adds what the package cannot say
(register names as the host sees them, access type, reset value) and the helpers a host driver
needs. docs/csr.md's tables are checked against this module by models/tests/test_csr_map.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.hw import const

RW, RO, WO, W1C = "RW", "RO", "WO", "W1C"
CONFIG = "config"  # reset value set by the top's parameters (configuration read-back)

# Name as the host sees it -> (tpu_pkg localparam, access, reset value or CONFIG)
_MAP: dict[str, tuple[str, str, int | str]] = {
    "CTRL": ("CsrCtrl", WO, 0),
    "STATUS": ("CsrStatus", RO, 0),
    "REJECTS": ("CsrRejects", RO, 0),
    "IRQ_ENABLE": ("CsrIrqEnable", RW, 0),
    "IRQ_STATUS": ("CsrIrqStatus", W1C, 0),
    "PROG_BASE_LO": ("CsrProgBaseLo", RW, 0),
    "PROG_BASE_HI": ("CsrProgBaseHi", RW, 0),
    "PROG_LEN": ("CsrProgLen", RW, 0),
    "DMA_HOST_LO": ("CsrDmaHostLo", RW, 0),
    "DMA_HOST_HI": ("CsrDmaHostHi", RW, 0),
    "DMA_MEM_ADDR": ("CsrDmaMemAddr", RW, 0),
    "DMA_LEN": ("CsrDmaLen", RW, 0),
    "DMA_CFG": ("CsrDmaCfg", RW, 0),
    "PC": ("CsrPc", RO, 0),
    "DMA_WIN_BASE_LO": ("CsrDmaWinBaseLo", RW, 0),
    "DMA_WIN_BASE_HI": ("CsrDmaWinBaseHi", RW, 0),
    "DMA_WIN_LIMIT_LO": ("CsrDmaWinLimitLo", RW, 0),
    "DMA_WIN_LIMIT_HI": ("CsrDmaWinLimitHi", RW, 0),
    "DMA_TIMEOUT": ("CsrDmaTimeout", RW, const("DmaTimeoutReset")),
    "VERSION": ("CsrVersion", RO, const("CsrVersionValue")),
    "CFG_ARRAY": ("CsrCfgArray", RO, CONFIG),
    "CFG_IMEM": ("CsrCfgImem", RO, CONFIG),
    "CFG_UB": ("CsrCfgUb", RO, CONFIG),
    "CFG_WMEM": ("CsrCfgWmem", RO, CONFIG),
    "CFG_ACC": ("CsrCfgAcc", RO, CONFIG),
    "CFG_DMA": ("CsrCfgDma", RO, CONFIG),
    "CYCLES_LO": ("CsrCycLo", RO, 0),
    "CYCLES_HI": ("CsrCycHi", RO, 0),
    "ARRAY_BUSY_LO": ("CsrArrayBusyLo", RO, 0),
    "ARRAY_BUSY_HI": ("CsrArrayBusyHi", RO, 0),
    "MACS_LO": ("CsrMacsLo", RO, 0),
    "MACS_HI": ("CsrMacsHi", RO, 0),
    "WSTALL_LO": ("CsrWstallLo", RO, 0),
    "WSTALL_HI": ("CsrWstallHi", RO, 0),
    "DMA_BYTES_LO": ("CsrDmaBytesLo", RO, 0),
    "DMA_BYTES_HI": ("CsrDmaBytesHi", RO, 0),
    "DMA_STALL_LO": ("CsrDmaStallLo", RO, 0),
    "DMA_STALL_HI": ("CsrDmaStallHi", RO, 0),
}

# Performance counters in register order: (name, increment source)
COUNTERS = ("CYCLES", "ARRAY_BUSY", "MACS", "WSTALL", "DMA_BYTES", "DMA_STALL")

# Bit fields: register -> field -> (lsb, width), from the package's bit constants.
FIELDS: dict[str, dict[str, tuple[int, int]]] = {
    "CTRL": {"START": (const("CtrlStart"), 1), "DMA_START": (const("CtrlDmaStart"), 1),
             "CNT_CLEAR": (const("CtrlCntClear"), 1), "ABORT": (const("CtrlAbort"), 1)},
    "STATUS": {"BUSY": (const("StatBusy"), 1), "DONE": (const("StatDone"), 1),
               "ERROR": (const("StatError"), 1), "DMA_BUSY": (const("StatDmaBusy"), 1),
               "DMA_DONE": (const("StatDmaDone"), 1), "DMA_ERROR": (const("StatDmaError"), 1),
               "ERR_CODE": (const("StatErrLsb"), 8), "DMA_ERR_CODE": (const("StatDmaErrLsb"), 8)},
    "REJECTS": {"START": (0, 16), "DMA_START": (16, 16)},
    "IRQ": {"DONE": (const("IrqDone"), 1), "ERROR": (const("IrqError"), 1),
            "DMA_DONE": (const("IrqDmaDone"), 1), "DMA_ERROR": (const("IrqDmaError"), 1),
            "REJECT": (const("IrqReject"), 1)},
    "DMA_CFG": {"DIR": (0, 1), "SEL": (4, 2)},
    "CFG_ARRAY": {"P": (0, 8), "DATA_W": (8, 8), "FRAC_W": (16, 8), "ACC_W": (24, 8)},
    "CFG_DMA": {"BUS_W": (0, 16), "MAX_BURST": (16, 16)},
}  # fmt: skip

# AXI responses
OKAY, SLVERR, DECERR = 0, 2, 3


@dataclass(frozen=True)
class Reg:
    name: str
    offset: int
    access: str
    reset: int | str
    param: str


def registers() -> dict[str, Reg]:
    """Every register by host name, offsets from tpu_pkg.sv."""
    return {n: Reg(n, const(p), acc, rst, p) for n, (p, acc, rst) in _MAP.items()}


def offset(name: str) -> int:
    """Byte offset of register `name`."""
    return const(_MAP[name][0])


def by_offset() -> dict[int, Reg]:
    return {r.offset: r for r in registers().values()}


def field(value: int, reg: str, name: str) -> int:
    """Extract field `name` of register `reg` (IRQ_ENABLE/IRQ_STATUS use reg="IRQ")."""
    lsb, width = FIELDS[reg][name]
    return (value >> lsb) & ((1 << width) - 1)


def bit(reg: str, name: str) -> int:
    """The mask of a one-bit field."""
    lsb, width = FIELDS[reg][name]
    assert width == 1, f"{reg}.{name} is not a single bit"
    return 1 << lsb


def config_values(p: int, data_w: int, frac_w: int, acc_w: int, depths: dict[str, int], bus_w: int,
                  max_burst: int) -> dict[str, int]:
    """Expected configuration read-back registers for a given set of top-level parameters."""
    return {
        "CFG_ARRAY": p | data_w << 8 | frac_w << 16 | acc_w << 24,
        "CFG_IMEM": depths["IMEM"], "CFG_UB": depths["UB"], "CFG_WMEM": depths["WMEM"],
        "CFG_ACC": depths["ACC"], "CFG_DMA": bus_w | max_burst << 16,
    }  # fmt: skip


def reset_value(reg: Reg, config: dict[str, int]) -> int:
    """Reset value of `reg`; configuration registers take their value from `config`."""
    return config[reg.name] if reg.reset == CONFIG else int(reg.reset)


def expected_response(off: int, write: bool) -> int:
    """AXI response for an access: DECERR unmapped, SLVERR for writes to RO registers, else OKAY."""
    reg = by_offset().get(off & ~3)
    if reg is None:
        return DECERR
    if write and reg.access == RO:
        return SLVERR
    return OKAY


def writable_mask(name: str) -> int:
    """Bits of an RW register that hold what is written (the others read 0)."""
    if name == "IRQ_ENABLE":
        return (1 << const("IrqW")) - 1
    if name == "DMA_CFG":
        return sum(((1 << w) - 1) << lsb for lsb, w in FIELDS["DMA_CFG"].values())
    return 0xFFFFFFFF
