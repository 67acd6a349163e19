"""VAE with the same encoder/decoder shapes as ALI: Gaussian q(z|x), Gaussian p(x|z)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genzoo.model import Batch, DataSpec, Model
from genzoo.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets


@dataclass
class VAEConfig:
    z_dim: int = 2  # latent size; the prior is a standard normal
    hidden: int = 400  # width of encoder and decoder
    decoder_layers: int = 4  # hidden layers of the decoder
    encoder_layers: int = 2  # hidden layers of the encoder
    batchnorm: bool = True
    init_std: float | None = 0.02  # N(0, init_std) weights; None = PyTorch's default init
    x_log_std: float = math.log(0.05)  # fixed log σ of p(x|z); the data's own σ on grid25
    lr: float = 1e-4
    beta1: float = 0.8
    beta2: float = 0.999
    steps: int = 2000  # suggested training length (CLI default)
    batch_size: int = 100  # suggested batch size per seed (CLI default)


class VAE(Model):
    """Variational autoencoder trained on the reparameterized ELBO."""

    name = "vae"
    Config = VAEConfig
    capabilities = frozenset({"sample", "encode", "reconstruct"})
    vectorized = True
    presets = {"paper": {"steps": 200_000, "batch_size": 100}}

    def __init__(self, config: VAEConfig, data: DataSpec, seeds=(0,)):
        super().__init__(config, data, seeds)
        c = config
        init = ReplicaRNG(self.seeds, "init")
        x_dim = data.x_shape[0]
        self.decoder = toy_nets.decoder(init, c.z_dim, x_dim, c.hidden, c.decoder_layers,
                                        batchnorm=c.batchnorm, init_std=c.init_std)
        self.encoder = toy_nets.encoder(init, x_dim, 2 * c.z_dim, c.hidden, c.encoder_layers,
                                        batchnorm=c.batchnorm, init_std=c.init_std)
        self.opt = toy_nets.adam(self.parameters(), c.lr, (c.beta1, c.beta2))

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.encoder(x).chunk(2, dim=-1)
        return mu, log_std.clamp(-10, 5)

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        x = batch.x
        mu, log_std = self.posterior(x)
        eps = self.noise.randn(*mu.shape[1:]).to(x.device)
        z = mu + log_std.exp() * eps
        x_mean = self.decoder(z)
        s = self.config.x_log_std
        nll = (0.5 * ((x - x_mean) / math.exp(s)) ** 2 + s + 0.5 * math.log(2 * math.pi))
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
        rng = rng or self.noise
        mu, log_std = self.posterior(x)
        return mu + log_std.exp() * rng.randn(*mu.shape[1:]).to(x.device)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
