"""Shared by the model tests: the bundled models and tiny settings that train in milliseconds."""

from __future__ import annotations

import dataclasses
from typing import Any

from genzoo.core import plugins
from genzoo.core.model import Model
from genzoo.data.toy import GaussianMixture, grid25
from genzoo.training.trainer import Trainer, TrainSettings

BUNDLED = ["ali", "alice", "bigan", "gan", "gan-inverse", "gan-posthoc", "vae"]

# Small networks with every optional piece switched on in one of the two variants: BatchNorm,
# maxout, dropout (masks from each replica's own stream), the noise-input encoder; branches,
# Fourier features, R1, several D steps, instance noise and learning-rate decay.
TINY: dict[str, Any] = {
    "decoder_hidden": 16, "decoder_layers": 2, "encoder_hidden": 16, "encoder_layers": 1,
    "disc_units": 8, "disc_layers": 2, "disc_branch_units": 8, "steps": 8, "batch_size": 32}
TINY_PAPERLIKE = {**TINY, "batchnorm": True, "disc_activation": "maxout", "disc_pieces": 3,
                  "dropout_in": 0.2, "dropout_hidden": 0.5, "encoder": "noise_input",
                  "init_std": 0.02}
TINY_DEFAULTLIKE = {**TINY, "batchnorm": False, "disc_activation": "leaky_relu",
                    "dropout_in": 0.0, "dropout_hidden": 0.0, "init_std": None,
                    "encoder": "gaussian", "disc_x_layers": 1, "disc_z_layers": 1,
                    "r1_gamma": 0.1, "r1_every": 2, "lr_decay": "linear", "decay_start": 0.5,
                    "d_steps": 2, "instance_noise": 0.3, "disc_fourier": 4}
# PacGAN groups of 4 in D, and Fourier features of z in the decoder
PACKED = {**TINY_DEFAULTLIKE, "disc_pack": 4, "decoder_fourier": 4,
          "decoder_fourier_scale": 2.0}


def model_class(name: str) -> type[Model]:
    return plugins.registry().model(name)


def fit_overrides(cls: type[Model], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that ``cls``'s Config has (the VAE, for one, has no discriminator)."""
    names = {f.name for f in dataclasses.fields(cls.Config)}
    out = {k: v for k, v in overrides.items() if k in names}
    if cls.name == "vae" and out.get("encoder", "gaussian") != "gaussian":
        out["encoder"] = "gaussian"  # its ELBO needs q(z|x)'s density
    return out


def build(name: str, seeds: list[int], overrides: dict[str, Any] | None = None,
          data: GaussianMixture | None = None) -> Model:
    cls = model_class(name)
    data = data or grid25()
    config = cls.make_config(data.spec, "default", fit_overrides(cls, overrides or TINY))
    return cls(config, data.spec, seeds)


def train(model: Model, steps: int, batch_size: int = 32,
          data: GaussianMixture | None = None) -> Trainer:
    trainer = Trainer(model, data or grid25(),
                      TrainSettings(steps=steps, batch_size=batch_size, log_every=1,
                                    checkpoint_every=0))
    trainer.fit()
    return trainer


def assert_trains_alike(plain: dict[str, Any], extended: dict[str, Any], steps: int,
                        extra_prefix: str, atol: float = 0.0) -> None:
    """ali built with ``extended`` trains its weights as ali with ``plain`` does (to ``atol``),
    and adds only the weights named ``extra_prefix*``."""
    import torch

    a, b = build("ali", [0, 1], plain), build("ali", [0, 1], extended)
    train(a, steps)
    train(b, steps)
    mine = b.state_dict()
    for name, p in a.state_dict().items():
        torch.testing.assert_close(p, mine[name], rtol=0, atol=atol, msg=name)
    assert {n for n in mine if n not in a.state_dict()} == {
        n for n in mine if n.startswith(extra_prefix)}
