"""Command-line plumbing shared by the entry points: bad options end in one line and exit status 2.

    ap = Parser(description=...)            # argparse, but a usage error is one line, not usage + error
    args = ap.parse_args(argv)
    check(args.batch >= 1, "--batch", args.batch, "an integer >= 1")   # raises UsageError
    ...
    except UsageError as e: return usage_exit(ap.prog, e)

Every check runs before anything is built or simulated, so a bad option costs nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

USAGE_STATUS = 2  # argparse's own status for a usage error


class UsageError(Exception):
    """An option outside its allowed values: `option` names it, `allowed` says what is accepted."""

    def __init__(self, option: str, value: object, allowed: str) -> None:
        super().__init__(f"{option} {value}: expected {allowed}")
        self.option = option


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`prog: error: ...`, status 2) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_STATUS, f"{self.prog}: error: {message} (see --help)\n")


def check(ok: bool, option: str, value: object, allowed: str) -> None:
    if not ok:
        raise UsageError(option, value, allowed)


def is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def usage_exit(prog: str, err: UsageError) -> int:
    """Print the one line and return the status for sys.exit."""
    print(f"{prog}: error: {err}", file=sys.stderr, flush=True)
    return USAGE_STATUS
