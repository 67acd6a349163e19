"""CIFAR-10 (Krizhevsky & Hinton, 2009): the ``cifar-10-batches-py`` pickles.

They are pickles by format, so they are read with an unpickler that refuses every global except
the few numpy needs to rebuild a plain array: a tampered file cannot run code.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.files import Download, FileSpec, Published, describe_located, flag, locate
from genzoo.data.images import ImageDataset

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

    def __init__(self, file: Any, limit: int, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.limit = limit  # bytes: no array built here may be larger than the file itself

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module == "_codecs":
            import codecs

            return codecs.encode
        if module == "numpy":
            return self._bounded(np.ndarray) if name == "ndarray" else getattr(np, name)
        # numpy 2 moved numpy.core to numpy._core; the published files name the old path
        try:
            from numpy._core import multiarray, numeric
        except ImportError:  # numpy 1.x
            from numpy.core import multiarray, numeric  # type: ignore[no-redef]

        found = getattr(multiarray if module.endswith("multiarray") else numeric, name)
        return self._bounded(found) if name == "_reconstruct" else found

    def _bounded(self, build: Any) -> Any:
        """``build(subtype_or_shape, shape, dtype, ...)`` refused when the array it would
        allocate is larger than the file (a crafted batch could ask for terabytes)."""
        def checked(*args: Any, **kwargs: Any) -> Any:
            if build is not np.ndarray:  # _reconstruct(subtype, shape, dtype)
                args = (getattr(args[0], "wrapped", args[0]), *args[1:])
            shape = args[1] if build is not np.ndarray else args[0]
            dtype = np.dtype(args[2] if build is not np.ndarray else
                             (args[1] if len(args) > 1 else kwargs.get("dtype", float)))
            count = int(np.prod(shape if isinstance(shape, tuple) else (shape,), dtype=object))
            if count * dtype.itemsize > self.limit:
                raise pickle.UnpicklingError(f"an array of shape {shape} would be larger than "
                                             f"the file ({self.limit} bytes)")
            return build(*args, **kwargs)
        checked.wrapped = build  # type: ignore[attr-defined]  # the class, where one is named
        return checked


def load_batch(path: os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayOnlyUnpickler(f, limit=os.fstat(f.fileno()).st_size,
                                        encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, MemoryError) as exc:
        raise GenzooError(f"{path} is not a CIFAR-10 batch ({exc}); replace it with the "
                          f"published file") from None
    if not isinstance(entry, dict):
        raise GenzooError(f"{path} holds a {type(entry).__name__}, not a CIFAR-10 batch dict")
    data = entry.get(b"data", entry.get("data"))
    labels = entry.get(b"labels", entry.get("labels"))
    if data is None or labels is None:
        raise GenzooError(f"{path} lacks the keys b'data' and b'labels' of a CIFAR-10 batch")
    data, labels = _checked_batch(path, data, labels)
    # each row is 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 plane
    return data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32), labels


def _checked_batch(path: os.PathLike[str], data: Any,
                   labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """The batch's arrays, checked against the format before anything is converted.

    Types and sizes are checked first: a pickle can refer to one object many times, so a list
    of references to one 2 MB bytes object would become gigabytes under ``np.asarray``."""
    wrong = (f"{path} is not a CIFAR-10 batch: a batch has b'data' (N, 3072) uint8 and "
             f"b'labels' N integers 0..9")
    if isinstance(data, bytes | bytearray):
        data = np.frombuffer(data, dtype=np.uint8)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.size % 3072 \
            or data.ndim not in (1, 2) or (data.ndim == 2 and data.shape[1] != 3072):
        shape = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else \
            type(data).__name__
        raise GenzooError(f"{wrong}; its data is {shape}")
    n = data.size // 3072
    if data.nbytes > os.path.getsize(path):
        raise GenzooError(f"{wrong}; its data ({data.nbytes:,} bytes) is larger than the file")
    if isinstance(labels, np.ndarray):
        ok = labels.ndim == 1 and labels.dtype.kind in "iu" and len(labels) == n
    else:
        ok = isinstance(labels, list) and len(labels) == n and all(
            type(v) is int for v in labels)
    if not ok:
        raise GenzooError(f"{wrong}; it has {n} images and labels of another length or type")
    labels = np.asarray(labels, dtype=np.int64)
    if n and (labels.min() < 0 or labels.max() > 9):
        raise GenzooError(f"{wrong}; its labels run {labels.min()}..{labels.max()}")
    return data, labels


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
