"""Training data for the on-chip training demos, as Q8.8 codes.

* `xor()`: the four XOR points, one output (target 0.0 or 1.0).
* `digits(seed)`: scikit-learn's bundled 8x8 digits (1797 images, no download): pixels / 16 in [0, 1]
  (exact in Q8.8), one-hot targets of value 1.0, a fixed seeded stratified split (25% held out).
* `batches(x, y, batch, rng)`: one epoch of shuffled full batches (the program's batch size is fixed; the
  last incomplete batch of an epoch is dropped, a different one each epoch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from models.fixed_point import quantize


@dataclass(frozen=True)
class Dataset:
    """Q8.8 inputs and targets with integer labels; train and held-out test parts."""

    x_train: np.ndarray
    y_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels_test: np.ndarray


def one_hot(labels: np.ndarray, n: int) -> np.ndarray:
    """Q8.8 one-hot codes (1.0 = 256) for integer labels."""
    return quantize(np.eye(n)[np.asarray(labels)])


def xor() -> Dataset:
    """XOR: inputs (0/1, 0/1), target a xor b; train and test are the same four points."""
    a = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    labels = np.array([0, 1, 1, 0])
    x, y = quantize(a), quantize(labels[:, None].astype(float))
    return Dataset(x, y, labels, x, y, labels)


def digits(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """The 8x8 digits, pixels / 16, one-hot targets, a seeded stratified train/test split."""
    from sklearn.datasets import load_digits  # imported late: only the digits demo needs scikit-learn

    d = load_digits()
    x = quantize(d.data / 16.0)
    labels = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test[rng.choice(idx, int(round(len(idx) * test_fraction)), replace=False)] = True
    y = one_hot(labels, 10)
    return Dataset(x[~test], y[~test], labels[~test], x[test], y[test], labels[test])


def batches(x: np.ndarray, y: np.ndarray, batch: int, rng: np.random.Generator,
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch: shuffled full batches of `batch` rows (the remainder is dropped)."""
    order = rng.permutation(len(x))
    for s in range(0, len(x) - batch + 1, batch):
        idx = order[s:s + batch]
        yield x[idx], y[idx]
