"""SVHN's cropped digits (Netzer et al., 2011): ``train_32x32.mat``, ``test_32x32.mat`` and the
optional ``extra_32x32.mat``, read with scipy. X is 32×32×3×N uint8, y is (N, 1) with 10
meaning the digit 0."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.cache import cached_arrays, stamp
from genzoo.data.files import Download, FileSpec, Published, describe_located, flag, locate
from genzoo.data.images import ImageDataset

_URL = "http://ufldl.stanford.edu/housenumbers/"
_MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373", "test": "eb5a983be6a315427106f1b164d9cef3",
        "extra": "a93ce644f1a588dc4d68dda5feec44a7"}

PUBLISHED = Published(
    name="svhn",
    files=(FileSpec("train_32x32.mat", _MD5["train"]), FileSpec("test_32x32.mat", _MD5["test"]),
           FileSpec("extra_32x32.mat", _MD5["extra"], optional=True)),
    page=_URL,
    # extra (1.3 GB) is optional and not used by the paper's protocols: fetched only by hand
    downloads=tuple(Download(_URL + f"{s}_32x32.mat", f"{s}_32x32.mat", _MD5[s])
                    for s in ("train", "test")),
)


class SVHN(ImageDataset):
    """SVHN 32×32 digits, 10 classes (label 10 of the files is mapped to 0)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, download: Any = False,
                 verify: Any = True, cache: Any = True, **_: Any):
        self.located = locate(PUBLISHED, data_dir, download=flag(download), verify=flag(verify))
        splits = [s for s in ("train", "test", "extra")
                  if self.located.paths.get(f"{s}_32x32.mat") is not None]
        self._cache = flag(cache)
        super().__init__(DataSpec("svhn", (3, 32, 32), kind="image", num_classes=10), splits,
                         class_names=[str(d) for d in range(10)],
                         info=describe_located(self.located))

    def _load_split(self, split: str) -> tuple[Any, Any]:
        path = self.located.paths[f"{split}_32x32.mat"]

        def build(alloc: Any) -> None:
            from scipy.io import loadmat
            from scipy.io.matlab import MatReadError

            try:
                mat = loadmat(path, variable_names=["X", "y"])
                x, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
            except (ValueError, KeyError, TypeError, OSError, NotImplementedError,
                    MatReadError) as exc:
                raise GenzooError(f"{path} is not an SVHN .mat file ({exc!r}); expected X "
                                  f"32x32x3xN uint8 and y (N, 1)") from None
            if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8 \
                    or len(y) != x.shape[3] or len(y) and not (1 <= y.min() and y.max() <= 10):
                raise GenzooError(f"{path} holds X {x.dtype} {x.shape} and y {y.shape}; an "
                                  f"SVHN file has X 32x32x3xN uint8 and labels 1..10")
            alloc("x", (x.shape[3], 3, 32, 32), np.uint8)[...] = x.transpose(3, 2, 0, 1)
            alloc("y", (len(y),), np.int64)[...] = y % 10  # the files' 10 is the digit 0

        arrays = cached_arrays(f"svhn-{split}", {"sources": stamp([path])}, build,
                               enabled=self._cache)
        return arrays["x"], arrays["y"]
