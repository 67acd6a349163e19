"""ALI (Dumoulin et al. 2016): an encoder and a decoder against a discriminator on (x, z)."""

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
    PAPER_ENCODER,
    PAPER_GAME,
    PAPER_JOINT,
    DecoderFields,
    EncoderFields,
    GameFields,
    JointDiscriminatorFields,
)
from genzoo_plugins.common.game import Game, Pairs


@dataclass
class ALIConfig(GameFields, JointDiscriminatorFields, EncoderFields, DecoderFields):
    """ALI's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU."""


class ALI(Model):
    """Adversarially learned inference: G_z(x) and G_x(z) against D(x, z) (Eq. 1 and 4)."""

    name = "ali"
    Config = ALIConfig
    capabilities = frozenset({"sample", "encode", "reconstruct"})
    vectorized = True
    presets = {"paper": {**PAPER_DECODER, **PAPER_ENCODER, **PAPER_JOINT, **PAPER_GAME}}

    def __init__(self, config: ALIConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        if len(data.x_shape) != 1:
            raise GenzooError(f"{self.name}'s networks are the toy MLPs; data "
                              f"{data.name!r} has shape {data.x_shape}, use a toy dataset")
        c = config
        init = ReplicaRNG(self.seeds, "init")
        x_dim = data.x_shape[0]
        self.decoder = toy_nets.decoder(init, c, x_dim)
        self.encoder = toy_nets.encoder(init, c, c, x_dim)
        self.discriminator = toy_nets.JointDiscriminator(init, c, x_dim, c.z_dim, c.init_std,
                                                         self.noise)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), lr_d, (c.beta1, c.beta2))
        self.opt_g = toy_nets.adam([*self.encoder.parameters(), *self.decoder.parameters()],
                                   c.lr, (c.beta1, c.beta2))
        self.game = Game(self.discriminator, self.opt_d, self.opt_g, c, x_dim, self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def pairs(self, x: torch.Tensor) -> Pairs:
        """(x, z_hat ~ q(z|x)) and (x_tilde ~ p(x|z), z ~ p(z)): D's inputs, with graphs."""
        z = toy_nets.prior_sample(self.noise, x.shape[1], self.config, x.device)
        z_hat = self.encoder(x, self.noise)
        return torch.cat([x, z_hat], dim=-1), torch.cat([self.decoder(z), z], dim=-1)

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        return self.game.step(self.pairs, batch.x, step, step / total_steps)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        rng = rng or self.noise
        return self.decoder(toy_nets.prior_sample(rng, n, self.config, self.device))

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.encoder(x, rng or self.noise)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
