"""ALI (Dumoulin et al. 2016): an encoder and a decoder against a discriminator on (x, z)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch, DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import networks, toy_nets
from genzoo_plugins.common.conditioning import ConditionFields
from genzoo_plugins.common.config import (
    PAPER_DECODER,
    PAPER_ENCODER,
    PAPER_GAME,
    PAPER_JOINT,
    AveragingFields,
    DecoderFields,
    EncoderFields,
    GameFields,
    ImageFields,
    JointDiscriminatorFields,
    UnaryFields,
)
from genzoo_plugins.common.game import Game, Pairs
from genzoo_plugins.common.image_presets import by_kind, image_default, image_paper, toy_default


@dataclass
class ALIConfig(ImageFields, AveragingFields, GameFields, UnaryFields, JointDiscriminatorFields,
                EncoderFields, DecoderFields, ConditionFields):
    """ALI's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU."""


# the original toy code's settings (the ``paper`` preset on toy data)
PAPER_TOY = {**PAPER_DECODER, **PAPER_ENCODER, **PAPER_JOINT, **PAPER_GAME}


class ALI(Model):
    """Adversarially learned inference: G_z(x) and G_x(z) against D(x, z) (Eq. 1 and 4).

    The step, top to bottom: ``pairs`` makes (x, G_z(x)) and (G_x(z), z) with their graphs;
    ``Game.step`` (plugins/common/game.py) updates D on Eq. 1 and G_x, G_z on Eq. 4; the
    moving averages of G_x and G_z follow (``ema_decay``).

    A config asking for conditional ALI (``condition``, §4.4) or semi-supervised ALI
    (``labels``, §4.3) builds the subclass of that name (``variants.py``) in place of this
    class, for ali and for every model built on it.
    """

    name = "ali"
    Config = ALIConfig
    capabilities = frozenset({"sample", "encode", "reconstruct", "features", "guide"})
    vectorized = True
    presets = {"default": by_kind(ALIConfig, toy_default, image_default),
               "paper": by_kind(ALIConfig, PAPER_TOY, image_paper)}
    game_class: type[Game] = Game
    variants = True  # whether a config can build the conditional and semi-supervised ones

    def __new__(cls, config: ALIConfig | None = None, data: DataSpec | None = None,
                seeds: Sequence[int] = (0,)) -> ALI:
        from genzoo_plugins.ali import variants

        # without a config (copy and pickle make the object first): the class as it is
        return super().__new__(cls if config is None else variants.for_config(cls, config))

    def __init__(self, config: ALIConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        c = config
        if c.disc_pack != 1:  # one logit per PacGAN group: no density ratio per (x, z)
            self.capabilities = self.capabilities - {"guide"}
        init = ReplicaRNG(self.seeds, "init")
        self.decoder = networks.decoder(init, self.noise, c, data)
        self.encoder = networks.encoder(init, self.noise, c, data)
        self.discriminator = networks.joint_discriminator(init, self.noise, c, data)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), lr_d, (c.beta1, c.beta2))
        self.opt_g = toy_nets.adam([*self.encoder.parameters(), *self.decoder.parameters()],
                                   c.lr, (c.beta1, c.beta2))
        # the moving averages of G_x and G_z that evaluation uses (ema_decay > 0); built after
        # every trained network, so their weights start from the same values either way
        self.ema: nn.ModuleDict | None = None
        if c.ema_decay > 0:
            spare = ReplicaRNG(self.seeds, "init_extra")  # values replaced just below
            self.ema = nn.ModuleDict({
                "decoder": networks.decoder(spare, self.noise, c, data),
                "encoder": networks.encoder(spare, self.noise, c, data)})
            self.ema.load_state_dict({f"{k}.{n}": t for k in ("decoder", "encoder")
                                      for n, t in getattr(self, k).state_dict().items()})
            self.ema.requires_grad_(False)
        self.game = self.game_class(self.discriminator, self.opt_d, self.opt_g, c,
                                    networks.x_dim(data), self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def pairs(self, x: torch.Tensor) -> Pairs:
        """(x, z_hat ~ q(z|x)) and (x_tilde ~ p(x|z), z ~ p(z)): D's inputs, with graphs."""
        z = self.sample_prior(x.shape[1], self.noise)
        return (torch.cat([networks.flat(x), self._enc(x, self.noise)], dim=-1),
                torch.cat([networks.flat(self._dec(z)), z], dim=-1))

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        metrics = self._game_step(batch, step, step / total_steps)
        self._update_ema()
        return metrics

    def _game_step(self, batch: Batch, step: int, progress: float) -> dict[str, torch.Tensor]:
        return self.game.step(self.pairs, batch.x, step, progress)

    def _net(self, name: str) -> nn.Module:
        """G_x or G_z: the trained one in training mode, else its moving average if kept."""
        if self.ema is not None and not self.training:
            return self.ema[name]
        return getattr(self, name)

    def _enc(self, x: torch.Tensor, rng: ReplicaRNG) -> torch.Tensor:
        return self._net("encoder")(x, rng)

    def _dec(self, z: torch.Tensor) -> torch.Tensor:
        return self._net("decoder")(z)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        for name in ("decoder", "encoder"):
            live, avg = getattr(self, name), self.ema[name]
            torch._foreach_lerp_(list(avg.parameters()), list(live.parameters()),
                                 1.0 - self.config.ema_decay)
            for a, b in zip(avg.buffers(), live.buffers(), strict=True):
                a.copy_(b)  # BatchNorm's running statistics: the trained network's

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._dec(self.sample_prior(n, rng or self.noise))

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws G_x(z) with D's logit at their pair (G_x(z), z): log q(x, z) / p(x, z)."""
        return self.score_latent(self.sample_prior(n, rng or self.noise))

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G_x(z) and D's logit at the pair (G_x(z), z)."""
        x = self._dec(z)
        return x, self.discriminator(torch.cat([networks.flat(x), z], -1))[..., 0]

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        """D's logit at real pairs (x, z ~ q(z | x))."""
        z = self._enc(x, rng or self.noise)
        return self.discriminator(torch.cat([networks.flat(x), z], -1))[..., 0]

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._enc(x, rng or self.noise)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._dec(z)

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._dec(self._enc(x, rng or self.noise))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return networks.encoder_features(self._net("encoder"), x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        raise GenzooError(f"this {self.name} run cannot classify: train it semi-supervised "
                          f"with --labels N")
