"""VAE with the same encoder/decoder shapes as ALI: Gaussian q(z|x), Gaussian p(x|z)."""

from __future__ import annotations

import math
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
    PAPER_OPTIM,
    DecoderFields,
    EncoderFields,
    OptimFields,
)
from genzoo_plugins.common.game import lr_scale


@dataclass
class VAEConfig(OptimFields, EncoderFields, DecoderFields):
    """The VAE's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU."""

    x_log_std: float = math.log(0.05)  # fixed log sigma of p(x|z); the data's own σ on grid25
    lr: float = 1e-3
    beta1: float = 0.9  # no adversary to keep up with: Adam's usual momentum
    beta2: float = 0.999
    steps: int = 1200


class VAE(Model):
    """Variational autoencoder trained on the reparameterized ELBO."""

    name = "vae"
    Config = VAEConfig
    capabilities = frozenset({"sample", "encode", "reconstruct"})
    vectorized = True
    # the original code's networks with the Gaussian encoder its ELBO needs
    presets = {"paper": {**PAPER_DECODER, **PAPER_ENCODER, **PAPER_OPTIM,
                         "encoder": "gaussian"}}

    def __init__(self, config: VAEConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        c = config
        if c.encoder != "gaussian":
            raise GenzooError(f"the VAE needs encoder=gaussian (its ELBO uses q(z|x)'s "
                              f"density), got encoder={c.encoder}")
        if len(data.x_shape) != 1:
            raise GenzooError(f"{self.name}'s networks are the toy MLPs; data "
                              f"{data.name!r} has shape {data.x_shape}, use a toy dataset")
        init = ReplicaRNG(self.seeds, "init")
        x_dim = data.x_shape[0]
        self.decoder = toy_nets.decoder(init, c, x_dim)
        self.encoder = toy_nets.encoder(init, c, c, x_dim)
        self.opt = toy_nets.adam(self.parameters(), c.lr, (c.beta1, c.beta2))

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        c = self.config
        for group in self.opt.param_groups:
            group["lr"] = c.lr * lr_scale(step / total_steps, c.lr_decay, c.decay_start)
        x = batch.x
        mu, log_std = self.encoder.posterior(x)
        eps = self.noise.randn(*mu.shape[1:]).to(x.device)
        z = torch.addcmul(mu, log_std.exp(), eps)
        x_mean = self.decoder(z)
        s = c.x_log_std
        nll = 0.5 * ((x - x_mean) / math.exp(s)) ** 2 + s + 0.5 * math.log(2 * math.pi)
        kl = 0.5 * (mu**2 + (2 * log_std).exp() - 1) - log_std
        loss = nll.sum(-1).mean(1) + kl.sum(-1).mean(1)  # negative ELBO per replica
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.opt.step()
        return {"loss": loss.detach(), "kl": kl.sum(-1).mean(1).detach()}

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        rng = rng or self.noise
        return self.decode(rng.randn(n, self.config.z_dim).to(self.device))

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.encoder(x, rng or self.noise)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
