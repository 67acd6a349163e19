"""Learned inverse mapping (§2.2): after the GAN, fit G_z to minimise E|z - G_z(G_x(z))|^2."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets
from genzoo_plugins.common.game import lr_scale
from genzoo_plugins.gan.model import presets_for
from genzoo_plugins.gan.two_phase import PAPER_TOY, TwoPhaseConfig, TwoPhaseGAN


@dataclass
class InverseConfig(TwoPhaseConfig):
    """The GAN's settings plus the encoder's and its phase's share of the steps."""


class GANInverse(TwoPhaseGAN):
    """GAN, then an encoder regressing z from G_x(z) with the decoder frozen."""

    name = "gan-inverse"
    Config = InverseConfig
    presets = presets_for(InverseConfig, PAPER_TOY)

    def build(self, init: ReplicaRNG) -> None:
        super().build(init)
        c = self.config
        self.opt_e = toy_nets.adam(self.encoder.parameters(), c.lr, (c.beta1, c.beta2))

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), "encoder": self.opt_e}

    def encoder_step(self, x: torch.Tensor, index: int, progress: float
                     ) -> dict[str, torch.Tensor]:
        c = self.config
        for group in self.opt_e.param_groups:
            group["lr"] = c.lr * lr_scale(progress, c.lr_decay, c.decay_start)
        z = self.sample_prior(x.shape[1], self.noise)
        with torch.no_grad():
            x_fake = self.decoder(z)
        loss = (z - self.encoder(x_fake, self.noise)).square().sum(-1).mean(1)
        self.opt_e.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.opt_e.step()
        return {"loss_e": loss.detach()}
