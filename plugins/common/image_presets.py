"""Presets that depend on the data: the toy settings on points, image settings on images.

Each model's ``default`` and ``paper`` presets are ``by_kind(toy, image)`` callables of the
DataSpec. On toy data they return the toy presets (the ``default`` one is the Config's own
defaults plus a dataset's own, ``TOY_BY_DATASET``). On images:

- ``default``: on a dataset with a paper table (svhn, cifar10, celeba, tinyimagenet64) the
  table's networks and settings (what ``paper`` gives); elsewhere (mnist5k, digits, faces,
  folder:) a small DCGAN-style network that trains recognisable mnist5k digits on a 2-core
  CPU in a few minutes.
- ``paper``: the table of the dataset (Tables 3-6) with its printed initialisation, Adam
  settings (β2 = 10⁻³ as printed, see image_specs), batch size and epochs; elsewhere the
  generic network at width 64 with Table 4's (SVHN's) settings.

Both use the ``d_then_g`` update order: the tables' discriminators have BatchNorm, which the
Game's one-backward ``simultaneous`` order (the original code's) cannot handle correctly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from genzoo.core.model import DataSpec
from genzoo_plugins.common import image_specs

Layer = Mapping[str, Any] | Callable[[DataSpec], Mapping[str, Any]]

# Settings every image preset shares: a plain alternating game with none of the toy aids.
_GAME = {"update_order": "d_then_g", "generator_loss": "nonsaturating", "d_steps": 1,
         "instance_noise": 0.0, "r1_gamma": 0.0, "lr_d": None, "lr_decay": "none",
         "decay_start": 0.0, "batchnorm": True}

# The small default network for images without a table (mnist5k, whose digits the dataset
# pads to 32×32: about 0.11 s a step at batch 64 on 2 cores). DCGAN's settings (Radford et
# al.: N(0, 0.02), Adam 2e-4 for both sides, β1 0.5, BatchNorm with real and fake
# statistics apart) and 4,000 steps. Measured on mnist5k (docs/tuning.md, mnist5k):
# FID-1k 180 after 1,000 steps of the previous settings (D at 1e-4 with dropout 0.2), 189
# with these at 1,000 steps, 40.6 with these at 4,000 steps; the steps are what moved it.
SMALL = {**_GAME, "image_net": "dcgan", "image_width": 32, "image_disc_bn": "split",
         "z_dim": 64, "init_std": 0.02, "bn_momentum": 0.1, "dropout_in": 0.0,
         "dropout_hidden": 0.0, "lr": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
         "batch_size": 64, "steps": 4000, "encoder": "gaussian"}


def table_settings(spec: image_specs.NetSpec) -> dict[str, Any]:
    """A paper table's printed settings as config values."""
    return {**_GAME, "image_net": spec.name, "image_disc_bn": "joint", "z_dim": spec.z_dim,
            "init_std": spec.init_std,
            "bn_momentum": 0.05, "lr": spec.lr, "beta1": spec.beta1, "beta2": spec.beta2,
            "batch_size": spec.batch_size, "steps": spec.steps, "encoder": "gaussian"}


# The paper preset on images without a table: the generic network, wider, with Table 4's
# settings and its D dropout 0.2 (10,000 steps: the data's size is not known here).
GENERIC_PAPER = {**table_settings(image_specs.SVHN), "image_net": "dcgan", "image_width": 64,
                 "image_disc_bn": "split", "dropout_in": 0.2, "dropout_hidden": 0.2,
                 "steps": 10_000}


def image_default(data: DataSpec) -> dict[str, Any]:
    spec = image_specs.TABLES.get(data.name)
    return table_settings(spec) if spec is not None else dict(SMALL)


def image_paper(data: DataSpec) -> dict[str, Any]:
    spec = image_specs.TABLES.get(data.name)
    return table_settings(spec) if spec is not None else dict(GENERIC_PAPER)


# The toy defaults are tuned on grid25 (modes 2 apart, σ 0.05). ring8's modes are 0.77 apart
# with σ 0.01, so D's Fourier features need about four times the frequency to resolve them:
# ALI, 3 seeds, 1,500 steps: disc_fourier_scale 0.5 (grid25's) 18 % high quality (10 seeds),
# 1.3 79.0 %, 2.0 80.1 %, 3.0 76.1 %, 5.0 73.3 % (docs/tuning.md, grid25).
TOY_BY_DATASET: dict[str, dict[str, Any]] = {"ring8": {"disc_fourier_scale": 2.0}}


def toy_default(data: DataSpec) -> dict[str, Any]:
    """The ``default`` preset on toy data: the Config's defaults, plus the dataset's own."""
    return dict(TOY_BY_DATASET.get(data.name, {}))


def by_kind(config_cls: type, toy: Layer, image: Callable[[DataSpec], Mapping[str, Any]],
            **model_image: Any) -> Callable[[DataSpec], dict[str, Any]]:
    """A preset giving ``toy`` on toy data and ``image`` (then ``model_image``) on images,
    keeping only the settings ``config_cls`` has (the VAE has no game, the GAN no encoder)."""
    names = {f.name for f in dataclasses.fields(config_cls)}

    def preset(data: DataSpec) -> dict[str, Any]:
        if data.kind != "image":
            values = dict(toy(data) if callable(toy) else toy)
        else:
            values = {**image(data), **model_image}
        return {k: v for k, v in values.items() if k in names}

    return preset
