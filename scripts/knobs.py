#!/usr/bin/env python3
"""Check the make knobs before anything is installed, built or simulated (the Makefile calls this first).

    SIM=icarus|verilator|both   SEED=<integer >= 0>   JOBS=<integer >= 1>   TEST=<pytest -k expression>
    WAVES=0|1 (empty: 0)

Reads them from the environment (the Makefile passes them when it is read). A bad value prints one
line naming the knob and what it accepts, and exits with status 2 (the Makefile then stops with that
line). Standard library only: it runs before the virtual environment exists (the TEST expression is
checked with pytest's own parser when pytest is importable).
"""

from __future__ import annotations

import os
import re
import sys

SIMS = ("icarus", "verilator", "both")


def problems(env: dict[str, str]) -> list[str]:
    """One message per bad knob (empty when all are good)."""
    out = []
    sim = env.get("SIM", "")
    if sim not in ("", *SIMS):
        out.append(f"SIM={sim!r}: expected one of {', '.join(SIMS)}")
    seed = env.get("SEED", "")
    if seed and not re.fullmatch(r"[0-9]+", seed):
        out.append(f"SEED={seed!r}: expected a non-negative integer (or empty: a random seed)")
    jobs = env.get("JOBS", "")
    if jobs and not (re.fullmatch(r"[0-9]+", jobs) and int(jobs) >= 1):
        out.append(f"JOBS={jobs!r}: expected a positive integer (pytest-xdist workers)")
    waves = env.get("WAVES", "")
    if waves not in ("", "0", "1"):
        out.append(f"WAVES={waves!r}: expected 0 or 1")
    test = env.get("TEST", "")
    if test:
        why = _k_expression_error(test)
        if why:
            out.append(f"TEST={test!r}: expected a pytest -k expression ({why})")
    return out


def _k_expression_error(text: str) -> str:
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # no pytest yet (fresh machine): pytest itself reports a bad expression later
        return ""
    try:
        Expression.compile(text)
    except SyntaxError as e:  # pytest >= 8 raises SyntaxError (older versions: ParseError, a subclass)
        return str(e.msg if hasattr(e, "msg") and e.msg else e)
    return ""


def main() -> int:
    bad = problems(dict(os.environ))
    if bad:
        print(bad[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
