"""BiGAN (Donahue et al. 2016): ALI's game with a deterministic encoder z = G_z(x)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
