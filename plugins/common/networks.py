"""Which networks a model gets: the toy MLPs for points, the convolutional nets for images.

Every model builds its G_x, G_z and D through these functions, so the same model class (and
the same Game) trains on both kinds of data. Pairs handed to a discriminator are flat:
``flat(x)`` is a no-op on toy points (R, B, 2) and flattens images (R, B, C, H, W) to
(R, B, C·H·W); image discriminators unflatten them again.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from genzoo.core.model import DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo.layers import BatchNorm, Maxout
from genzoo_plugins.common import image_nets, toy_nets


def is_image(data: DataSpec) -> bool:
    return data.kind == "image"


def x_dim(data: DataSpec) -> int:
    """Features of one flat example (what D's pairs hold before z)."""
    return math.prod(data.x_shape)


def flat(x: torch.Tensor) -> torch.Tensor:
    """(R, B, *x_shape) -> (R, B, features)."""
    return x.flatten(2)


def decoder(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec) -> nn.Module:
    """G_x: z (R, B, z_dim) -> x (R, B, *x_shape)."""
    if is_image(data):
        return image_nets.decoder(init, noise, c, data)
    return toy_nets.decoder(init, c, x_dim(data))


def encoder(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec) -> nn.Module:
    """G_z: x (R, B, *x_shape) -> z; ``forward(x, rng)`` samples, ``posterior(x)`` for the
    Gaussian encoder, ``features(x)`` for linear probes."""
    if is_image(data):
        return image_nets.encoder(init, noise, c, data)
    return toy_nets.encoder(init, c, c, x_dim(data))


def discriminator(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec) -> nn.Module:
    """D(x) on flat x (R, B, features) -> logits (R, B, 1)."""
    if is_image(data):
        return image_nets.discriminator(init, noise, c, data, joint=False)
    return toy_nets.discriminator(init, c, x_dim(data), c.init_std, noise)


def joint_discriminator(init: ReplicaRNG, noise: ReplicaRNG, c: Any,
                        data: DataSpec) -> nn.Module:
    """D(x, z) on concat(flat x, z) (R, B, features + z_dim) -> logits (R, B, 1)."""
    if is_image(data):
        return image_nets.discriminator(init, noise, c, data, joint=True)
    return toy_nets.JointDiscriminator(init, c, x_dim(data), c.z_dim, c.init_std, noise)


def encoder_features(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The L2-SVM representation (R, B, d): the posterior mean (z itself for deterministic
    encoders, z at zero noise for the noise-input one) and the encoder's hidden layers.

    Hidden layers are taken before their nonlinearity (after BatchNorm), as the original
    code's preprocess_representations took them. Images: every hidden layer, max-pooled to a
    4×4 grid (``image_nets.EncoderNet.features``, 8,960-d for Table 4). Toy MLPs: every hidden
    layer as it is.
    """
    if isinstance(encoder, image_nets.Encoder):
        return encoder.features(x)
    if encoder.kind == "noise_input":
        x = torch.cat([x, x.new_zeros(*x.shape[:2], encoder.noise_dim)], dim=-1)
    hidden: list[torch.Tensor] = []
    layers = list(encoder.net)
    for layer, nxt in zip(layers, [*layers[1:], None], strict=True):
        if isinstance(layer, BatchNorm) and layer.relu:  # the ReLU fused into it
            x = layer.normalize(x)
            hidden.append(x.clone())
            x = torch.relu(x)
            continue
        x = layer(x)
        if isinstance(nxt, (nn.ReLU, nn.LeakyReLU, Maxout)):
            hidden.append(x.clone())  # the activation after it may work in place
    mean = x[..., : encoder.z_dim]  # gaussian: (mu, log sigma); otherwise z itself
    return torch.cat([mean, *hidden], dim=-1)
