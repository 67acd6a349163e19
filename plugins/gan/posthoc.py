"""Post-hoc learned inference (§2.2): after the GAN, train G_z in ALI's game, decoder frozen."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import networks, toy_nets
from genzoo_plugins.common.config import PAPER_JOINT, JointDiscriminatorFields
from genzoo_plugins.common.game import Game, Pairs
from genzoo_plugins.gan.model import presets_for
from genzoo_plugins.gan.two_phase import PAPER_TOY, TwoPhaseConfig, TwoPhaseGAN


@dataclass
class PosthocConfig(TwoPhaseConfig, JointDiscriminatorFields):
    """The GAN's settings plus the encoder's; the joint D shares the disc_* fields with D(x)."""


class GANPosthoc(TwoPhaseGAN):
    """GAN, then an encoder against a joint discriminator D(x, z) with the decoder frozen."""

    name = "gan-posthoc"
    Config = PosthocConfig
    presets = presets_for(PosthocConfig, {**PAPER_TOY, **PAPER_JOINT})

    def build(self, init: ReplicaRNG) -> None:
        super().build(init)
        c = self.config
        self.joint_discriminator = networks.joint_discriminator(init, self.noise, c, self.data)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_jd = toy_nets.adam(self.joint_discriminator.parameters(), lr_d,
                                    (c.beta1, c.beta2))
        self.opt_e = toy_nets.adam(self.encoder.parameters(), c.lr, (c.beta1, c.beta2))
        self.encoder_game = Game(self.joint_discriminator, self.opt_jd, self.opt_e, c,
                                 networks.x_dim(self.data), self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), "joint_discriminator": self.opt_jd,
                "encoder": self.opt_e}

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws G_x(z) with the joint D's logit at (G_x(z), z), as for ALI."""
        return self.score_latent(self.sample_prior(n, rng or self.noise))

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.decoder(z)
        return x, self.joint_discriminator(torch.cat([networks.flat(x), z], -1)).squeeze(-1)

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        z = self.encoder(x, rng or self.noise)
        return self.joint_discriminator(torch.cat([networks.flat(x), z], -1)).squeeze(-1)

    def joint_pairs(self, x: torch.Tensor) -> Pairs:
        """ALI's pairs with the decoder frozen: only (x, G_z(x)) carries a graph."""
        z = self.sample_prior(x.shape[1], self.noise)
        z_hat = self.encoder(x, self.noise)
        with torch.no_grad():
            x_fake = self.decoder(z)
        return (torch.cat([networks.flat(x), z_hat], dim=-1),
                torch.cat([networks.flat(x_fake), z], dim=-1))

    def encoder_step(self, x: torch.Tensor, index: int, progress: float
                     ) -> dict[str, torch.Tensor]:
        out = self.encoder_game.step(self.joint_pairs, x, index, progress)
        return {"loss_jd": out["loss_d"], "loss_e": out["loss_g"]}
