"""BiGAN (Donahue et al. 2016): ALI's game with a deterministic encoder z = G_z(x); BigBiGAN's
unary scores (Donahue & Simonyan 2019) on ALI's networks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genzoo.core.model import DataSpec
from genzoo_plugins.ali.model import ALI, PAPER_TOY, ALIConfig
from genzoo_plugins.common.image_presets import by_kind, image_default, image_paper, toy_default


@dataclass
class BiGANConfig(ALIConfig):
    """ALI's settings with the encoder deterministic by default."""

    encoder: Literal["gaussian", "noise_input", "deterministic"] = "deterministic"


class BiGAN(ALI):
    """BiGAN: ALI with a deterministic encoder (same networks, losses and presets)."""

    name = "bigan"
    Config = BiGANConfig
    presets = {"default": by_kind(BiGANConfig, toy_default, image_default, encoder="deterministic"),
               "paper": by_kind(BiGANConfig, {**PAPER_TOY, "encoder": "deterministic"},
                                image_paper, encoder="deterministic")}


@dataclass
class BigBiGANConfig(ALIConfig):
    """ALI's settings with BigBiGAN's unary scores on."""

    unary_scores: bool = True


# On points the unary heads sit on D's x and z branches, which ALI's toy D leaves out
TOY_BRANCHES = {"disc_x_layers": 2, "disc_z_layers": 2}


def _toy_with_branches(data: DataSpec) -> dict[str, Any]:
    return {**toy_default(data), **TOY_BRANCHES}


class BigBiGAN(ALI):
    """BigBiGAN's game (Donahue & Simonyan 2019) on ALI's networks: D's joint score s_xz plus
    the unary scores s_x and s_z, each with its own loss; ALI's stochastic encoder, which its
    authors found to learn better features than a deterministic one. The same model as
    ``ali --set unary_scores=true`` (on points, with D's branches), named so that a compare
    can put it beside ali."""

    name = "bigbigan"
    Config = BigBiGANConfig
    presets = {"default": by_kind(BigBiGANConfig, _toy_with_branches, image_default,
                                  unary_scores=True),
               "paper": by_kind(BigBiGANConfig, {**PAPER_TOY, **TOY_BRANCHES,
                                                 "update_order": "d_then_g"},
                                image_paper, unary_scores=True)}
