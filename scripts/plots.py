"""Figures of the demo (matplotlib, Agg backend: no display needed), drawn from its JSON log.

    training_plot(log, "out/demo/training.png")          # digits loss/accuracy, XOR loss
    digits_grid(log, x_test, "out/demo/digits.png")      # sample held-out digits with the chip's predictions
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def training_plot(log: dict, path: Path) -> Path:
    """Digits: per-step loss and per-epoch held-out accuracy (chip, golden, float32); XOR: loss per epoch."""
    dig, xor = log.get("digits"), log.get("xor")
    panels = [p for p in (dig, xor) if p]
    fig, axes = plt.subplots(1, max(1, len(panels) + (1 if dig else 0)), figsize=(5 * (len(panels) + 1), 4))
    axes = np.atleast_1d(axes)
    k = 0
    if dig:
        ax = axes[k]
        k += 1
        loss = dig["step_loss"]
        ax.plot(np.arange(1, len(loss) + 1), loss, lw=0.8, color="tab:blue", label="batch loss (chip)")
        spe = dig.get("steps_per_epoch") or max(1, len(loss) // max(1, len(dig["history"])))
        ep = [h["train_loss"] for h in dig["history"]]
        ax.plot(spe * np.arange(1, len(ep) + 1), ep, "o-", color="tab:orange", label="epoch mean")
        ax.set(title=f"digits {'-'.join(map(str, dig.get('sizes', [])))}: training loss", xlabel="SGD step",
               ylabel="MSE loss")
        ax.legend()
        ax = axes[k]
        k += 1
        e = [h["epoch"] for h in dig["history"]]
        for key, style, label in (("test_accuracy_chip", "o-", "chip"), ("test_accuracy_golden", "x--",
                                  "golden model"), ("test_accuracy_float32", "s:", "float32")):
            ax.plot(e, [100 * h[key] for h in dig["history"]], style, label=label)
        ax.plot(e, [100 * h["train_accuracy"] for h in dig["history"]], ".-", color="grey", alpha=0.6,
                label="train batches (chip)")
        ax.set(title="digits: held-out accuracy", xlabel="epoch", ylabel="accuracy (%)")
        ax.set_xticks(e)
        ax.legend()
    if xor:
        ax = axes[k]
        ax.plot(np.arange(1, len(xor["loss"]) + 1), xor["loss"], color="tab:green")
        ax.set(title="XOR 2-2-1: loss per epoch (chip)", xlabel="epoch (one step of 4 points)",
               ylabel="MSE loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def digits_grid(log: dict, images: np.ndarray, path: Path, n: int = 32) -> Path:
    """`n` held-out 8x8 digits with the chip's prediction (green right, red wrong): the first ones, plus
    up to a quarter of the grid of misclassified ones so that the mistakes show too."""
    dig = log["digits"]
    pred, lab = dig["test_predictions"], dig["test_labels"]
    wrong = [i for i in range(len(pred)) if pred[i] != lab[i]][: n // 4]
    pick = sorted(set(wrong) | set(range(min(n, len(pred)) - len(wrong))))
    pred, lab, images = [pred[i] for i in pick], [lab[i] for i in pick], [images[i] for i in pick]
    n = len(pick)
    cols = 8
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.45))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(np.asarray(images[i], float).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ok = pred[i] == lab[i]
        title = f"{pred[i]}" + ("" if ok else f" ({lab[i]})")
        ax.set_title(title, color="green" if ok else "red", fontsize=10)
    acc = 100 * dig["test_accuracy_chip"]
    fig.suptitle(f"held-out digits: chip prediction (red: wrong, true label in brackets); accuracy {acc:.1f}%"
                 f" of {len(dig['test_predictions'])}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
