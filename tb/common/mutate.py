"""Mutated copies of RTL sources, for tests that show a check fires on a deliberately broken design.

`mutate()` copies the given sources into a build-private folder and applies textual replacements, each
of which must match exactly once in its file (a replacement that no longer matches means the RTL moved
on and the negative test must be updated, not silently weakened). The runner then builds the copy in
its own build directory (`runner.run(..., variant=...)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tb.common.tools import BUILD


def mutate(name: str, sources: Sequence[Path],
           edits: Mapping[str, Sequence[tuple[str, str]]]) -> list[Path]:
    """Copy `sources` to sim_build/mutants/<name>/, apply `edits` ({file name: [(old, new), ...]}),
    return the new source list (same order). Raises ValueError when an `old` text does not occur exactly
    once, or when an edit names a file that is not among the sources."""
    folder = BUILD / "mutants" / name
    folder.mkdir(parents=True, exist_ok=True)
    by_name = {Path(s).name: Path(s) for s in sources}
    unknown = set(edits) - set(by_name)
    if unknown:
        raise ValueError(f"mutant {name}: edits for files not among the sources: {sorted(unknown)}")
    out = []
    for src in sources:
        src = Path(src)
        text = src.read_text()
        for old, new in edits.get(src.name, ()):
            count = text.count(old)
            if count != 1:
                raise ValueError(f"mutant {name}: {old!r} occurs {count} times in {src.name}, expected once")
            text = text.replace(old, new)
        dst = folder / src.name
        if not dst.is_file() or dst.read_text() != text:
            dst.write_text(text)
        out.append(dst)
    return out
