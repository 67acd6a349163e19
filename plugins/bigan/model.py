"""BiGAN (Donahue et al. 2016): ALI's game with a deterministic encoder z = G_z(x)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo_plugins.ali.model import ALI, ALIConfig


@dataclass
class BiGANConfig(ALIConfig):
    """ALI's settings with the encoder deterministic by default."""

    encoder: Literal["gaussian", "noise_input", "deterministic"] = "deterministic"


class BiGAN(ALI):
    """BiGAN: ALI with a deterministic encoder (same networks, losses and presets)."""

    name = "bigan"
    Config = BiGANConfig
    presets = {"paper": {**ALI.presets["paper"], "encoder": "deterministic"}}
