"""The toy-experiment networks of §4.5 (REFERENCE.md), replica-batched.

Every network maps (R, B, in) -> (R, B, out). The paper's shapes are the defaults of the
``paper`` presets; the sizes are config fields so a default preset can trade them for speed.
"""

from __future__ import annotations

import torch
from torch import nn

from genzoo.layers import mlp
from genzoo.rng import ReplicaRNG


def decoder(rng: ReplicaRNG, z_dim: int, x_dim: int, hidden: int, layers: int, *,
            batchnorm: bool, init_std: float | None) -> nn.Sequential:
    """G_x: z -> layers × [Linear hidden, BN, ReLU] -> Linear x_dim."""
    return mlp(rng, [z_dim] + [hidden] * layers + [x_dim], batchnorm=batchnorm,
               init_std=init_std)


def encoder(rng: ReplicaRNG, in_dim: int, out_dim: int, hidden: int, layers: int, *,
            batchnorm: bool, init_std: float | None) -> nn.Sequential:
    """G_z: x (optionally with noise concatenated) -> layers × [Linear, BN, ReLU] -> Linear."""
    return mlp(rng, [in_dim] + [hidden] * layers + [out_dim], batchnorm=batchnorm,
               init_std=init_std)


def discriminator(rng: ReplicaRNG, in_dim: int, units: int, layers: int, pieces: int, *,
                  dropout_in: float, dropout_hidden: float, init_std: float | None,
                  dropout_rng: ReplicaRNG | None) -> nn.Sequential:
    """D: input -> layers × maxout(units, pieces) -> Linear 1 (a logit), with dropout."""
    dropout = (dropout_in,) + (dropout_hidden,) * layers
    return mlp(rng, [in_dim] + [units] * layers + [1], batchnorm=False, init_std=init_std,
               maxout_pieces=pieces, dropout=dropout, dropout_rng=dropout_rng,
               activation="leaky_relu")


def adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam over replica-stacked parameters: elementwise, so each replica is independent."""
    return torch.optim.Adam(list(params), lr=lr, betas=betas, foreach=True)
