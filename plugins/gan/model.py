"""The GAN baseline of §4.5: ALI's decoder, a discriminator on x alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genzoo.model import Batch, DataSpec, Model
from genzoo.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets


@dataclass
class GANConfig:
    z_dim: int = 2  # latent size; the toy prior p(z) is a 2-d standard normal
    hidden: int = 400  # decoder width
    decoder_layers: int = 4  # hidden layers of G_x
    disc_units: int = 200  # maxout units per discriminator layer
    disc_pieces: int = 5  # maxout pieces
    disc_layers: int = 3  # hidden layers of D
    batchnorm: bool = True  # BatchNorm in the decoder, as in the original code
    dropout_in: float = 0.2  # dropout on D's input
    dropout_hidden: float = 0.5  # dropout on D's hidden layers
    init_std: float | None = 0.02  # N(0, init_std) weights; None = PyTorch's default init
    lr: float = 1e-4
    beta1: float = 0.8
    beta2: float = 0.999
    generator_loss: Literal["nonsaturating", "saturating"] = "nonsaturating"  # Eq. 4 vs Eq. 1
    steps: int = 2000  # suggested training length (CLI default)
    batch_size: int = 100  # suggested batch size per seed (CLI default)


class GAN(Model):
    """GAN (Goodfellow et al. 2014): decoder G_x(z) against a discriminator D(x)."""

    name = "gan"
    Config = GANConfig
    capabilities = frozenset({"sample"})
    vectorized = True
    presets = {"paper": {"steps": 200_000, "batch_size": 100}}

    def __init__(self, config: GANConfig, data: DataSpec, seeds=(0,)):
        super().__init__(config, data, seeds)
        c = config
        init = ReplicaRNG(self.seeds, "init")
        x_dim = data.x_shape[0]
        self.decoder = toy_nets.decoder(init, c.z_dim, x_dim, c.hidden, c.decoder_layers,
                                        batchnorm=c.batchnorm, init_std=c.init_std)
        self.discriminator = toy_nets.discriminator(
            init, x_dim, c.disc_units, c.disc_layers, c.disc_pieces, dropout_in=c.dropout_in,
            dropout_hidden=c.dropout_hidden, init_std=c.init_std, dropout_rng=self.noise)
        betas = (c.beta1, c.beta2)
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), c.lr, betas)
        self.opt_g = toy_nets.adam(self.decoder.parameters(), c.lr, betas)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        x = batch.x
        z = self.noise.randn(x.shape[1], self.config.z_dim).to(x.device)
        fake = self.decoder(z)
        d_real, d_fake = self.discriminator(x), self.discriminator(fake.detach())
        loss_d = (F.softplus(-d_real) + F.softplus(d_fake)).mean(dim=(1, 2))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()  # replicas' losses are independent: summing keeps them apart
        self.opt_d.step()

        d_fake = self.discriminator(fake)
        if self.config.generator_loss == "nonsaturating":
            loss_g = F.softplus(-d_fake).mean(dim=(1, 2))
        else:
            loss_g = -F.softplus(d_fake).mean(dim=(1, 2))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.sum().backward()
        self.opt_g.step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        rng = rng or self.noise
        return self.decoder(rng.randn(n, self.config.z_dim).to(self.device))
