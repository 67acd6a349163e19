"""GANs that learn inference afterwards (§2.2): train the GAN, then an encoder for it.

Both phases run in the one training loop: steps [0, n1) train the GAN, steps [n1, total) train
the encoder with the decoder frozen (its weights, and its BatchNorm statistics, which it uses
in eval mode), where n1 = round((1 - encoder_fraction) * total). Learning-rate schedules run
over each phase separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.core.model import Batch
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import networks
from genzoo_plugins.common.config import PAPER_ENCODER, EncoderFields
from genzoo_plugins.gan.model import GAN, GANConfig
from genzoo_plugins.gan.model import PAPER_TOY as GAN_PAPER_TOY


@dataclass
class TwoPhaseFields:
    encoder_fraction: float = 0.25  # the last fraction of the steps trains the encoder


class TwoPhaseGAN(GAN):
    """A GAN plus an encoder G_z trained in a second phase against a frozen decoder."""

    capabilities = frozenset({"sample", "encode", "reconstruct", "features", "guide"})
    presets: dict = {}  # set per subclass, from the TwoPhaseConfig they extend

    def build(self, init: ReplicaRNG) -> None:
        super().build(init)
        self.encoder = networks.encoder(init, self.noise, self.config, self.data)

    def schedules(self) -> list[str]:
        return [*super().schedules(), "the encoder phase's first step"]

    def phase_start(self, total_steps: int) -> int:
        """The first step of the encoder phase."""
        frac = min(max(self.config.encoder_fraction, 0.0), 1.0)
        return round((1.0 - frac) * total_steps)

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        n1 = self.phase_start(total_steps)
        if step < n1:
            return self.game.step(self.pairs, batch.x, step, step / n1)
        self.decoder.eval()  # frozen: no BatchNorm statistics move either
        return self.encoder_step(batch.x, step - n1, (step - n1) / (total_steps - n1))

    def encoder_step(self, x: torch.Tensor, index: int, progress: float
                     ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.encoder(x, rng or self.noise)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return networks.encoder_features(self.encoder, x)


@dataclass
class TwoPhaseConfig(TwoPhaseFields, EncoderFields, GANConfig):
    """Settings of a GAN with an encoder trained afterwards."""


# the original toy code's settings (the ``paper`` preset on toy data)
PAPER_TOY = {**GAN_PAPER_TOY, **PAPER_ENCODER}
