"""Semi-supervised training data: a class-balanced labelled subset of the train split.

``LabelledSubset(base, n, seed)`` keeps n/K examples of each of the K classes of ``base``'s
train split (chosen by ``seed``; the same seed gives the same subset). Its ``draw(n, g)``
returns 2n examples: n drawn from the whole train split with their labels hidden (y = -1),
then n drawn from the labelled subset with their labels. Both come from the caller's generator
``g``, so the trainer's one loop, its checkpointed data stream and resume stay as they are.
Other splits are the base dataset's.
"""

from __future__ import annotations

import numpy as np
import torch

from genzoo.core.errors import GenzooError
from genzoo.data.base import Dataset
from genzoo.data.images import ImageDataset, to_float

UNLABELLED = -1


def balanced_subset(labels: torch.Tensor, n: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices (sorted) of n examples, n / num_classes of each class, chosen by ``seed``."""
    if n <= 0 or n % num_classes:
        raise GenzooError(f"--labels must be a positive multiple of the {num_classes} classes "
                          f"(a class-balanced subset), got {n}")
    per_class = n // num_classes
    labels = torch.as_tensor(labels).reshape(-1)
    g = torch.Generator().manual_seed(
        int(np.random.SeedSequence([int(seed), 7]).generate_state(1)[0]))
    picked = []
    for k in range(num_classes):
        idx = torch.nonzero(labels == k).reshape(-1)
        if len(idx) < per_class:
            raise GenzooError(f"--labels {n} needs {per_class} examples of class {k}; the "
                              f"train split has {len(idx)}")
        picked.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return torch.cat(picked).sort().values


class LabelledSubset(Dataset):
    """``base`` with a labelled subset: draws are [unlabelled batch; labelled batch]."""

    def __init__(self, base: Dataset, n: int, seed: int):
        spec = base.spec
        if not isinstance(base, ImageDataset) or spec.num_classes <= 0 or spec.attributes:
            raise GenzooError(f"semi-supervised training (--labels) needs an image dataset with "
                              f"class labels; {spec.name!r} has none")
        x, y = base.examples("train")
        if y is None:
            raise GenzooError(f"dataset {spec.name!r} has no labels in its train split")
        self.base, self.spec, self.n = base, spec, n
        self.index = balanced_subset(y, n, spec.num_classes, seed)
        self._x, self._y = x.numpy(), y.numpy()

    def draw(self, n: int, generator: torch.Generator,
             split: str = "train") -> tuple[torch.Tensor, torch.Tensor | None]:
        if split != "train":
            return self.base.draw(n, generator, split)
        x_u, _ = self.base.draw(n, generator)
        pick = self.index[torch.randint(len(self.index), (n,), generator=generator)].numpy()
        x_l = to_float(np.take(self._x, pick, axis=0))
        y_l = torch.from_numpy(np.take(self._y, pick, axis=0))
        y_u = torch.full((n,), UNLABELLED, dtype=y_l.dtype)
        return torch.cat([x_u, x_l]), torch.cat([y_u, y_l])

    def describe(self) -> dict[str, object]:
        return {**self.base.describe(), "labelled": self.n}
