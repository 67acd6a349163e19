"""The Dataset interface the trainer and evaluators read from."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.core.model import DataSpec


@dataclass(frozen=True)
class Mixture:
    """A dataset's known structure: an equal-weight mixture of isotropic Gaussians, which the
    mode metrics (mode-coverage, inference, compare's figure) score against."""

    means: torch.Tensor  # (K, d): one row per mode
    std: float  # every mode's standard deviation


class Dataset:
    """A source of examples. Subclasses set ``spec`` and implement ``draw``; a dataset that is
    a finite set of examples (images on disk) also implements ``examples``, which the
    evaluators that score fixed held-out sets read (class agreement, icp, classification,
    svm-features, FID's reference images, reconstruction's selection)."""

    spec: DataSpec
    splits: tuple[str, ...] = ("train", "test")  # the splits draw() and examples() accept

    def draw(self, n: int, generator: torch.Generator,
             split: str = "train") -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` examples (n, *spec.x_shape) and their labels (n,) or None, drawn with
        ``generator`` so that the same generator state gives the same examples.
        ``split`` is "train" or "test" (held-out data for evaluation)."""
        raise NotImplementedError

    def examples(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The whole ``split`` in a fixed order, for a finite dataset: images as uint8
        (N, C, H, W) (points as float (N, *x_shape)) and labels (N,) / (N, A) or None. The
        default, None, says the dataset is a generator (the toy mixtures): evaluators draw
        from it instead, and those that need a fixed set do not apply."""
        return None

    def size(self, split: str = "train") -> int | None:
        """How many examples ``split`` holds; None for a generator. Image runs checkpoint
        and draw their grids once per epoch of the training split."""
        listed = self.examples(split)
        return None if listed is None else len(listed[0])

    def describe(self) -> dict[str, object]:
        """Settings recorded in a run's config.json."""
        return {"name": self.spec.name}

    def mixture(self) -> Mixture | None:
        """The Gaussian mixture the data is drawn from, when it is known (toy data), so that
        evaluators can score modes; None (the default) for data without one."""
        return None


def lists_examples(dataset: Dataset) -> bool:
    """Whether ``dataset`` is a finite set it can list (it implements ``examples``)."""
    return type(dataset).examples is not Dataset.examples
