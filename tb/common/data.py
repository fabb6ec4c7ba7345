"""models.datasets.digits, cached as an .npz so that simulations do not import scikit-learn.

Importing scikit-learn (and SciPy under it) costs seconds of the simulator's wall time for an 8x8 image
table; the demo and the training tests each load the digits in every simulation. `digits(seed)` returns
exactly what models.datasets.digits(seed) returns: the first call computes it and stores it under
sim_build/datasets/, keyed by the scikit-learn version and the source of the code that makes it (so the
cache can never be stale), and later calls load that file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import fields
from importlib.metadata import version
from pathlib import Path

import numpy as np

from models import datasets
from models.datasets import Dataset
from tb.common.tools import BUILD, ROOT

CACHE = BUILD / "datasets"


def _key(seed: int, test_fraction: float) -> str:
    h = hashlib.sha256(f"{version('scikit-learn')} {seed} {test_fraction!r}".encode())
    for src in ("models/datasets.py", "models/fixed_point.py"):
        h.update((ROOT / src).read_bytes())
    return h.hexdigest()[:16]


def digits(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """models.datasets.digits(seed, test_fraction), from the cache when it holds it."""
    path = CACHE / f"digits.{_key(seed, test_fraction)}.npz"
    if path.is_file():
        with np.load(path) as f:
            return Dataset(**{k: f[k] for k in f.files})
    ds = datasets.digits(seed, test_fraction)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.{os.getpid()}.npz")  # parallel simulations may write it at once: same bytes
    np.savez(tmp, **{f.name: getattr(ds, f.name) for f in fields(ds)})
    tmp.replace(path)
    return ds
