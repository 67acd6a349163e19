"""The Dataset interface the trainer and evaluators read from."""

from __future__ import annotations

import torch

from genzoo.core.model import DataSpec


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
