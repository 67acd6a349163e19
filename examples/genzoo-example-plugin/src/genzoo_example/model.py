"""A diagonal Gaussian fitted by maximum likelihood: the smallest useful genzoo model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genzoo import Batch, DataSpec, Model, ReplicaRNG


@dataclass
class GaussianConfig:
    lr: float = 0.05  # Adam step size; the likelihood is smooth, so a large one is fine
    init_std: float = 1.0  # initial standard deviation of every dimension
    steps: int = 200  # suggested training length (the CLI's default --steps)
    batch_size: int = 256  # suggested examples per step (the CLI's default --batch-size)


class Gaussian(Model):
    """A diagonal Gaussian N(mean, diag(std²)) fitted to the data by maximum likelihood."""

    name = "gaussian"
    Config = GaussianConfig
    capabilities = frozenset({"sample"})
    # Not vectorized: genzoo builds one instance per seed and stacks them, so this class only
    # ever sees R = 1. It still keeps the replica axis in every tensor, as the API requires.
    vectorized = False
    presets = {"quick": {"steps": 50, "lr": 0.1}}

    def __init__(self, config: GaussianConfig, data: DataSpec, seeds=(0,)):
        super().__init__(config, data, seeds)  # sets self.seeds and the noise stream
        dim = math.prod(data.x_shape)
        # Initial weights come from the seed's "init" stream, so seed s always starts the same.
        init = ReplicaRNG(self.seeds, "init")
        self.mean = nn.Parameter(init.randn(1, dim) * 0.1)  # (R, 1, dim)
        self.log_std = nn.Parameter(torch.full((self.replicas, 1, dim),
                                               math.log(config.init_std)))
        self.opt = torch.optim.Adam(self.parameters(), lr=config.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}  # the trainer checkpoints it, so a resume is exact

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        x = batch.x.flatten(2)  # (R, B, dim)
        z = (x - self.mean) / self.log_std.exp()
        nll = (0.5 * z**2 + self.log_std + 0.5 * math.log(2 * math.pi)).sum(-1).mean(1)  # (R,)
        self.opt.zero_grad(set_to_none=True)
        nll.sum().backward()  # replicas are independent: the sum keeps their gradients apart
        self.opt.step()
        return {"nll": nll.detach()}

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        rng = rng or self.noise
        eps = rng.randn(n, self.mean.shape[-1]).to(self.mean.device)
        x = self.mean + self.log_std.exp() * eps
        return x.reshape(self.replicas, n, *self.data.x_shape)
