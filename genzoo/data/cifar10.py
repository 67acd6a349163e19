"""CIFAR-10 (Krizhevsky & Hinton, 2009): the ``cifar-10-batches-py`` pickles.

They are pickles by format, so they are read with an unpickler that refuses every global except
the few numpy needs to rebuild a plain array: a tampered file cannot run code.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from genzoo.data.files import Download, FileSpec, Published, describe_located, flag, locate
from genzoo.data.images import ImageDataset
from genzoo.errors import GenzooError
from genzoo.model import DataSpec

_DIR = "cifar-10-batches-py"
_BATCHES = {"data_batch_1": "c99cafc152244af753f735de768cd75f",
            "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
            "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
            "data_batch_4": "634d18415352ddfa80567beed471001a",
            "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
            "test_batch": "40351d587109b95175f43aff81a1287e"}
_SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")

PUBLISHED = Published(
    name="cifar10",
    files=tuple(FileSpec(f"{_DIR}/{name}", md5) for name, md5 in _BATCHES.items()),
    page="https://www.cs.toronto.edu/~kriz/cifar.html",
    downloads=(Download("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                        "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                        extract=True),),
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Builds dicts, lists, bytes, str, ints and plain numpy arrays; refuses anything else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module == "_codecs":
            import codecs

            return codecs.encode
        if module == "numpy":
            return getattr(np, name)
        # numpy 2 moved numpy.core to numpy._core; the published files name the old path
        try:
            from numpy._core import multiarray, numeric
        except ImportError:  # numpy 1.x
            from numpy.core import multiarray, numeric  # type: ignore[no-redef]

        return getattr(multiarray if module.endswith("multiarray") else numeric, name)


def load_batch(path: os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise GenzooError(f"{path} is not a CIFAR-10 batch ({exc}); replace it with the "
                          f"published file") from None
    if not isinstance(entry, dict):
        raise GenzooError(f"{path} holds a {type(entry).__name__}, not a CIFAR-10 batch dict")
    data = entry.get(b"data", entry.get("data"))
    labels = entry.get(b"labels", entry.get("labels"))
    if data is None or labels is None:
        raise GenzooError(f"{path} lacks the keys b'data' and b'labels' of a CIFAR-10 batch")
    if isinstance(data, bytes | bytearray):
        data = np.frombuffer(data, dtype=np.uint8)
    data, labels = np.asarray(data), np.asarray(labels, dtype=np.int64).reshape(-1)
    if data.size != len(labels) * 3072 or (data.dtype != np.uint8 and (
            data.min(initial=0) < 0 or data.max(initial=0) > 255)) or \
            (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise GenzooError(f"{path} holds data {data.dtype} {data.shape} and {len(labels)} "
                          f"labels; a CIFAR-10 batch has (N, 3072) uint8 and labels 0..9")
    # each row is 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 plane
    return data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32), labels


class CIFAR10(ImageDataset):
    """CIFAR-10 32×32 colour images, 10 classes; train 50,000, test 10,000."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, download: Any = False,
                 verify: Any = True, **_: Any):
        self.located = locate(PUBLISHED, data_dir, download=flag(download), verify=flag(verify))
        super().__init__(DataSpec("cifar10", (3, 32, 32), kind="image", num_classes=10),
                         ("train", "test"), class_names=CLASS_NAMES,
                         info=describe_located(self.located))

    def _load_split(self, split: str) -> tuple[Any, Any]:
        # 180 MB of pickles load in well under a second: no decoded cache needed
        parts = [load_batch(self.located.paths[f"{_DIR}/{name}"]) for name in _SPLITS[split]]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
