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
    """A source of examples. Subclasses set ``spec`` and implement ``draw``."""

    spec: DataSpec

    def draw(self, n: int, generator: torch.Generator,
             split: str = "train") -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` examples (n, *spec.x_shape) and their labels (n,) or None, drawn with
        ``generator`` so that the same generator state gives the same examples.
        ``split`` is "train" or "test" (held-out data for evaluation)."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        """Settings recorded in a run's config.json."""
        return {"name": self.spec.name}

    def mixture(self) -> Mixture | None:
        """The Gaussian mixture the data is drawn from, when it is known (toy data), so that
        evaluators can score modes; None (the default) for data without one."""
        return None
