"""Synthetic SVHN-format files for the benches that must run offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_svhn(root: Path, train: int, test: int = 100, seed: int = 0) -> None:
    """``root/svhn/{train,test}_32x32.mat``: uniform random pixels (X 32x32x3xN uint8) and
    labels 1..10, the published files' layout."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("test", test)):
        savemat(root / "svhn" / f"{split}_32x32.mat",
                {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                 "y": rng.integers(1, 11, (n, 1)).astype(np.uint8)})
