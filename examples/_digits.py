"""The 8x8 handwritten digits bundled with scikit-learn, as irgrad tensors.

1797 images of 0-9, split 80/20 into train and test with a fixed seed. Pixel values
are scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

import irgrad as torch


def load_digits_split(seed: int = 0):
    """(x_train, y_train, x_test, y_test): float32 images (N, 1, 8, 8) and int64 labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - only without the examples extra
        raise SystemExit('these examples need scikit-learn: pip install -e ".[examples]"') from exc
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    return (
        torch.from_numpy(images[train]),
        torch.from_numpy(labels[train]),
        torch.from_numpy(images[test]),
        torch.from_numpy(labels[test]),
    )


def accuracy(model, x, y) -> float:
    """Fraction of correct predictions, in eval mode and without autograd."""
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    model.train()
    return (predicted == y).float().mean().item()
