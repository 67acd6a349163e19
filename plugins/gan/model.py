"""The GAN baseline of §4.5: ALI's decoder against a discriminator on x alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from genzoo.errors import GenzooError
from genzoo.model import Batch, DataSpec, Model
from genzoo.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets
from genzoo_plugins.common.config import (
    PAPER_DECODER,
    PAPER_DISCRIMINATOR,
    PAPER_GAME,
    DecoderFields,
    DiscriminatorFields,
    GameFields,
)
from genzoo_plugins.common.game import Game, Pairs


@dataclass
class GANConfig(GameFields, DiscriminatorFields, DecoderFields):
    """The GAN's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU.

    The same networks and game settings as ALI's defaults, with fewer steps: a GAN step costs
    nearly an ALI step (D dominates both) and the GAN's share of `genzoo compare`'s time
    budget is half of ALI's.
    """

    steps: int = 1200


class GAN(Model):
    """GAN (Goodfellow et al. 2014): decoder G_x(z) against a discriminator D(x)."""

    name = "gan"
    Config = GANConfig
    capabilities = frozenset({"sample"})
    vectorized = True
    presets = {"paper": {**PAPER_DECODER, **PAPER_DISCRIMINATOR, **PAPER_GAME}}

    def __init__(self, config: GANConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        if len(data.x_shape) != 1:
            raise GenzooError(f"{self.name}'s networks are the toy MLPs; data "
                              f"{data.name!r} has shape {data.x_shape}, use a toy dataset")
        self.build(ReplicaRNG(self.seeds, "init"), data.x_shape[0])

    def build(self, init: ReplicaRNG, x_dim: int) -> None:
        """Networks, optimizers and game; subclasses extend it, drawing from the same ``init``
        stream so that no two networks share initial weights."""
        c = self.config
        self.decoder = toy_nets.decoder(init, c, x_dim)
        self.discriminator = toy_nets.discriminator(init, c, x_dim, c.init_std, self.noise)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), lr_d, (c.beta1, c.beta2))
        self.opt_g = toy_nets.adam(self.decoder.parameters(), c.lr, (c.beta1, c.beta2))
        self.game = Game(self.discriminator, self.opt_d, self.opt_g, c, x_dim, self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def pairs(self, x: torch.Tensor) -> Pairs:
        """Real x and fake G_x(z), z ~ p(z): D's inputs (the fake ones with a graph)."""
        z = toy_nets.prior_sample(self.noise, x.shape[1], self.config, x.device)
        return x, self.decoder(z)

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        return self.game.step(self.pairs, batch.x, step, step / total_steps)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        rng = rng or self.noise
        return self.decoder(toy_nets.prior_sample(rng, n, self.config, self.device))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
