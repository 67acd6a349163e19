"""Tiny image models for the image-evaluator and image-compare tests (a plain module that
pytest puts on the path), independent of the bundled models' image networks.

- ``tiny-ae``: a linear autoencoder trained by MSE, not vectorized (the host stacks seeds);
  its decoder is affine in z, so decoded interpolations are exactly linear in t.
- ``mean-image``: samples a learned mean image plus noise; it cannot encode or reconstruct
  (the image compare gives it dashes, `genzoo evaluate --metric reconstruction` refuses it).
- ``Identity`` / ``Constant``: reconstructors with known scores, for direct evaluator calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.core.hookspecs import hookimpl
from genzoo.core.model import Batch, DataSpec, Model
from genzoo.core.rng import ReplicaRNG


@dataclass
class TinyAEConfig:
    z_dim: int = 8
    lr: float = 0.02
    steps: int = 30
    batch_size: int = 32


class TinyAE(Model):
    """x -> W_e x + b_e -> W_d z + b_d, trained to reconstruct by mean squared error."""

    name = "tiny-ae"
    Config = TinyAEConfig
    capabilities = frozenset({"sample", "encode", "reconstruct"})

    def __init__(self, config: TinyAEConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        dim = math.prod(data.x_shape)
        init = ReplicaRNG(self.seeds, "init")
        self.w_enc = nn.Parameter(init.randn(dim, config.z_dim)[0] / math.sqrt(dim))
        self.b_enc = nn.Parameter(torch.zeros(config.z_dim))
        self.w_dec = nn.Parameter(init.randn(config.z_dim, dim)[0] / math.sqrt(config.z_dim))
        self.b_dec = nn.Parameter(torch.full((dim,), 0.3))
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        loss = (self.reconstruct(batch.x) - batch.x).square().mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach().reshape(1)}

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return x.flatten(2) @ self.w_enc + self.b_enc

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.w_dec + self.b_dec).reshape(*z.shape[:2], *self.data.x_shape)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        z = (rng or self.noise).randn(n, self.config.z_dim).to(self.b_dec.device)
        return self.decode(z)


@dataclass
class MeanImageConfig:
    lr: float = 0.1
    steps: int = 10
    batch_size: int = 16


class MeanImage(Model):
    """Learns the mean image; samples it plus a little noise. No encoder."""

    name = "mean-image"
    Config = MeanImageConfig
    capabilities = frozenset({"sample"})

    def __init__(self, config: MeanImageConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        self.mean = nn.Parameter(torch.full(data.x_shape, 0.5))
        self.opt = torch.optim.SGD([self.mean], lr=config.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"sgd": self.opt}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        loss = (batch.x - self.mean).square().mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach().reshape(1)}

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        noise = (rng or self.noise).randn(n, *self.data.x_shape).to(self.mean.device)
        return (self.mean + 0.05 * noise).clamp(0, 1)


class ImagePlugin:
    """Registers the two tiny image models, as a third-party plugin would."""

    @staticmethod
    @hookimpl
    def genzoo_register_models(models) -> None:
        models.add(TinyAE)
        models.add(MeanImage)


@dataclass
class NoConfig:
    pass


class Identity(Model):
    """Reconstructs perfectly: encode is the flattened image, decode reshapes it back, so
    latent interpolation is pixel interpolation. ``replicas`` seeds in one instance."""

    name = "identity"
    Config = NoConfig
    capabilities = frozenset({"encode", "reconstruct"})
    vectorized = True

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return x.flatten(2).clone()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(*z.shape[:2], *self.data.x_shape)


class Constant(Identity):
    """Ignores its input: every reconstruction is the same grey image."""

    name = "constant"

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.full_like(x, 0.4)
