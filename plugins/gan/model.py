"""The GAN baseline of §4.5: ALI's decoder against a discriminator on x alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from genzoo.core.model import Batch, DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import networks, toy_nets
from genzoo_plugins.common.config import (
    PAPER_DECODER,
    PAPER_DISCRIMINATOR,
    PAPER_GAME,
    DecoderFields,
    DiscriminatorFields,
    GameFields,
    ImageFields,
)
from genzoo_plugins.common.game import Game, Pairs
from genzoo_plugins.common.image_presets import by_kind, image_default, image_paper, toy_default


@dataclass
class GANConfig(ImageFields, GameFields, DiscriminatorFields, DecoderFields):
    """The GAN's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU.

    The same networks and game settings as ALI's defaults, with fewer steps: a GAN step costs
    nearly an ALI step (D dominates both) and the GAN's share of `genzoo compare`'s time
    budget is half of ALI's.
    """

    steps: int = 900  # 0.6 of ALI's 1500 steps, each about 0.9 of an ALI step's FLOPs


# the original toy code's settings (the ``paper`` preset on toy data)
PAPER_TOY = {**PAPER_DECODER, **PAPER_DISCRIMINATOR, **PAPER_GAME}


def presets_for(config_cls: type, toy_paper: dict) -> dict:
    """The ``default`` and ``paper`` presets of a GAN (or two-phase GAN) with ``config_cls``."""
    return {"default": by_kind(config_cls, toy_default, image_default),
            "paper": by_kind(config_cls, toy_paper, image_paper)}


class GAN(Model):
    """GAN (Goodfellow et al. 2014): decoder G_x(z) against a discriminator D(x)."""

    name = "gan"
    Config = GANConfig
    capabilities = frozenset({"sample", "guide"})
    vectorized = True
    presets = presets_for(GANConfig, PAPER_TOY)

    def __init__(self, config: GANConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        self.build(ReplicaRNG(self.seeds, "init"))
        if config.disc_pack != 1:  # one logit per PacGAN group, not per sample
            self.capabilities = self.capabilities - {"guide"}

    def build(self, init: ReplicaRNG) -> None:
        """Networks, optimizers and game; subclasses extend it, drawing from the same ``init``
        stream so that no two networks share initial weights."""
        c, data = self.config, self.data
        self.decoder = networks.decoder(init, self.noise, c, data)
        self.discriminator = networks.discriminator(init, self.noise, c, data)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), lr_d, (c.beta1, c.beta2))
        self.opt_g = toy_nets.adam(self.decoder.parameters(), c.lr, (c.beta1, c.beta2))
        self.game = Game(self.discriminator, self.opt_d, self.opt_g, c, networks.x_dim(data),
                         self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def pairs(self, x: torch.Tensor) -> Pairs:
        """Real x and fake G_x(z), z ~ p(z): D's inputs (the fake ones with a graph)."""
        z = self.sample_prior(x.shape[1], self.noise)
        return networks.flat(x), networks.flat(self.decoder(z))

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        return self.game.step(self.pairs, batch.x, step, step / total_steps)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.decoder(self.sample_prior(n, rng))

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws G_x(z) with D's logit at each: log p_data(x) / p_model(x)."""
        x = self.sample(n, rng)
        return x, self.score_data(x)

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.discriminator(networks.flat(x)).squeeze(-1)

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.decoder(z)
        return x, self.score_data(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
