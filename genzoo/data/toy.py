"""The toy mixtures of the paper's §4.5 and of PacGAN/VEEGAN, sampled on the fly."""

from __future__ import annotations

import math

import torch

from genzoo.core.model import DataSpec
from genzoo.data.base import Dataset, Mixture


class GaussianMixture(Dataset):
    """An equal-weight mixture of isotropic Gaussians in the plane.

    Labels are the component index, so evaluators can colour and score by mode. Points are
    drawn fresh on every call (an unbounded training set); held-out draws use their own
    generator, so they never repeat the training stream.
    """

    def __init__(self, name: str, means: torch.Tensor, std: float):
        self.means = means.to(torch.float32)
        self.std = float(std)
        self.spec = DataSpec(name=name, x_shape=(2,), kind="toy", num_classes=len(means))

    @property
    def num_modes(self) -> int:
        return len(self.means)

    def draw(self, n: int, generator: torch.Generator,
             split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        component = torch.randint(len(self.means), (n,), generator=generator)
        x = self.means[component] + self.std * torch.randn(n, 2, generator=generator)
        return x, component

    def describe(self) -> dict[str, object]:
        return {"name": self.spec.name, "modes": self.num_modes, "std": self.std}

    def mixture(self) -> Mixture:
        return Mixture(self.means, self.std)


def grid25() -> GaussianMixture:
    """25 Gaussians on the grid {-4,-2,0,2,4}², σ = 0.05 (ALI §4.5)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(axis, axis)
    return GaussianMixture("grid25", means, std=0.05)


def ring8() -> GaussianMixture:
    """8 Gaussians on the unit circle, σ = 0.01 (PacGAN / VEEGAN)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture("ring8", means, std=0.01)
