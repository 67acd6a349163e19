"""The base of every image dataset: one uint8 tensor (N, C, H, W) per split, decoded once.

``draw`` indexes that tensor with the caller's generator (examples drawn with replacement, so
the same generator state gives the same batch, and a resumed run continues the same stream) and
converts only the drawn batch to float in [0, 1]. ``examples(split)`` gives a whole split in its
published order for evaluation; ``batches`` walks it in float batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.base import Dataset

Labels = torch.Tensor | None


def to_float(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 images to float32 in [0, 1] (x / 255, correctly rounded).

    numpy does it single-threaded: for a batch this small, torch's thread pool costs more than
    it saves, and on a busy machine its OpenMP barriers made a draw ~500x slower
    (bench/data_throughput.py: about 2,000 against 1,000,000 images/s at batch 100)."""
    arr = x.numpy() if isinstance(x, torch.Tensor) else x
    return torch.from_numpy(np.divide(arr, np.float32(255.0), dtype=np.float32))


class ImageDataset(Dataset):
    """Images in memory (or memory-mapped from the decoded cache). Subclasses implement
    ``_load_split(split) -> (uint8 array (N, C, H, W), labels (N,) / (N, A) or None)``."""

    def __init__(self, spec: DataSpec, splits: Sequence[str], *,
                 class_names: Sequence[str] = (), info: Mapping[str, Any] | None = None):
        if spec.kind != "image" or len(spec.x_shape) != 3:
            raise ValueError(f"an image dataset needs kind='image' and x_shape (C, H, W), got "
                             f"{spec}")
        self.spec = spec
        self.splits = tuple(splits)
        self.class_names = tuple(class_names)  # label k is class_names[k] when known
        self._info = dict(info or {})
        self._loaded: dict[str, tuple[torch.Tensor, Labels]] = {}

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Names of the binary attributes when labels are attribute vectors (CelebA)."""
        return self.spec.attributes

    def _load_split(self, split: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def examples(self, split: str = "train") -> tuple[torch.Tensor, Labels]:
        """The whole ``split`` in its published order: uint8 images (N, C, H, W) and int64
        labels ((N,) class indices, (N, A) 0/1 attributes) or None when unlabelled."""
        if split not in self.splits:
            raise GenzooError(f"dataset {self.spec.name!r} has splits "
                              f"{', '.join(self.splits)}; there is no {split!r} split")
        if split not in self._loaded:
            x, y = self._load_split(split)
            x = torch.as_tensor(x)
            if x.dtype != torch.uint8 or tuple(x.shape[1:]) != self.spec.x_shape:
                raise GenzooError(f"dataset {self.spec.name!r} split {split!r} decoded to "
                                  f"{x.dtype} {tuple(x.shape)}, not uint8 (N, "
                                  f"{', '.join(map(str, self.spec.x_shape))}); its files are "
                                  f"not in the expected format")
            labels = None if y is None else torch.as_tensor(np.asarray(y)).to(torch.int64)
            if labels is not None and len(labels) != len(x):
                raise GenzooError(f"dataset {self.spec.name!r} split {split!r} has {len(x)} "
                                  f"images but {len(labels)} labels")
            self._loaded[split] = (x, labels)
        return self._loaded[split]

    def size(self, split: str = "train") -> int:
        return len(self.examples(split)[0])

    def draw(self, n: int, generator: torch.Generator,
             split: str = "train") -> tuple[torch.Tensor, Labels]:
        x, y = self.examples(split)
        if len(x) == 0:
            raise GenzooError(f"dataset {self.spec.name!r} split {split!r} is empty")
        idx = torch.randint(len(x), (n,), generator=generator).numpy()
        return (to_float(np.take(x.numpy(), idx, axis=0)),
                None if y is None else torch.from_numpy(np.take(y.numpy(), idx, axis=0)))

    def batches(self, split: str = "test",
                batch_size: int = 500) -> Iterator[tuple[torch.Tensor, Labels]]:
        """The whole ``split`` in order, as float batches in [0, 1] (for evaluation)."""
        x, y = self.examples(split)
        for start in range(0, len(x), batch_size):
            stop = start + batch_size
            yield to_float(x[start:stop]), None if y is None else y[start:stop]

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.spec.name, "x_shape": list(self.spec.x_shape),
                                  "num_classes": self.spec.num_classes,
                                  "splits": list(self.splits)}
        if self.spec.attributes:
            out["attributes"] = len(self.spec.attributes)
        return {**out, **self._info}


class ArrayDataset(ImageDataset):
    """An image dataset whose splits are already arrays (the datasets shipped in packages)."""

    def __init__(self, spec: DataSpec, data: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
                 *, class_names: Sequence[str] = (), info: Mapping[str, Any] | None = None):
        super().__init__(spec, tuple(data), class_names=class_names, info=info)
        self._data = dict(data)

    def _load_split(self, split: str) -> tuple[Any, Any]:
        return self._data[split]


def holdout_by_class(labels: np.ndarray, fraction: float) -> np.ndarray:
    """A boolean test mask: for each class, its last ``round(fraction * count)`` examples in
    source order. Deterministic and class-balanced, whatever order the source is in."""
    labels = np.asarray(labels)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        n_test = int(round(fraction * len(idx)))
        if n_test:
            test[idx[-n_test:]] = True
    return test
