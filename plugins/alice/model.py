"""ALICE (Li et al., NeurIPS 2017): ALI with conditional-entropy terms on the generator side.

ALI's joint game is non-identifiable: every coupling of x and z whose two joints match fools
D alike, so nothing forces x -> z -> x back to x. ALICE bounds the conditional entropies
H(x|z) and H(z|x) with a cycle-consistency term, either

- ``explicit`` (default): λ_x·E mean|G_x(G_z(x)) − x|^p + λ_z·E mean|G_z(G_x(z)) − z|^p, the
  mean over the example's values and then over the batch, as in the authors' code: p = 1 (L1)
  on images, whose pixels count on [-1, 1] as there (cifar_R.py, celebA_alice.py), and p = 2
  on points (ALICE_l2.py), both with λ = 1; or
- ``adversarial``: D_xx learns to tell (x, x) from (x, G_x(G_z(x))) and D_zz (z, z) from
  (z, G_z(G_x(z))); the generator side adds λ_x and λ_z times their non-saturating losses on
  the reconstructed pairs (the authors' code weights them 0.1).

``cycle_x_updates`` / ``cycle_z_updates`` say which networks each cycle trains: both (the
authors' code), or one of the pair (the other's weights are held fixed inside the term while
its input gradient still flows). Everything else is ALI's: the same networks, game, presets
and capabilities; ALICE is a subclass that hands the Game one extra loss (``Game.extra_g``).
ALICE reduces to ALI at λ_x = λ_z = 0.

Runs written while λ weighed a sum (squared errors summed over the example's values, pixels
on [0, 1]) are read through ``upgrade_config``: the same loss, rescaled onto the mean
(λ_x·numel/4 on images, λ_x·numel on points, λ_z·z_dim, norm l2, both cycles training
both networks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch, DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.ali.model import ALI, PAPER_TOY, ALIConfig
from genzoo_plugins.common import networks, toy_nets
from genzoo_plugins.common.game import Pairs, d_loss
from genzoo_plugins.common.image_presets import by_kind, image_default, image_paper, toy_default

# the authors' weights: 1 on the explicit terms (all their code), 0.1 on the adversarial ones
DEFAULT_WEIGHT = {"explicit": 1.0, "adversarial": 0.1}
Updates = Literal["both", "encoder", "decoder"]


@dataclass
class ALICEConfig(ALIConfig):
    """ALI's settings plus the conditional-entropy terms."""

    # explicit: L1/L2 cycle terms; adversarial: D_xx and D_zz judge the cycles
    conditional_entropy: Literal["explicit", "adversarial"] = "explicit"
    # weights on the authors' scale (a mean over the example's values, pixels on [-1, 1]):
    # --set lambda_x=1 is their λ = 1; None = 1 (explicit), 0.1 (adversarial)
    lambda_x: float | None = None  # the x -> z -> x term
    lambda_z: float | None = None  # the z -> x -> z term
    cycle_norm: Literal["l1", "l2"] | None = None  # explicit term; None = l1 images, l2 points
    # which networks each term trains: both (the authors' code, the paper preset) or one;
    # the z -> x -> z term on G_z alone keeps G_x's samples sharp (grid25: 67.5 % high
    # quality against 36.2 % with both; mnist5k FID-1k 59.8 against 79.1; docs/tuning.md)
    cycle_x_updates: Updates = "both"
    cycle_z_updates: Updates = "encoder"


# The default preset on toy data (docs/tuning.md, ALICE): Fourier features of x for G_z and
# of z for D let G_z spread a mode over its cell of p(z) and let D see whether it does; with
# λ = 0.02 q(z) covers p(z) by component (grid25, 10 seeds: latent_recall 47.0 %, against
# 1.5 % for 25 small blobs at λ = 0.1 without them) and 99.6 % of reconstructions stay in
# their mode.
# On images the authors' λ = 1.
TOY_DEFAULT = {"lambda_x": 0.02, "lambda_z": 0.02, "encoder_fourier": 32,
               "encoder_fourier_scale": 12.0, "disc_z_fourier": 16, "disc_z_fourier_scale": 4.0}
# the authors' code: both cycles train both networks
PAPER_UPDATES = {"cycle_x_updates": "both", "cycle_z_updates": "both"}


def _toy_default(data: DataSpec) -> dict[str, Any]:
    return {**toy_default(data), **TOY_DEFAULT}


class ALICE(ALI):
    """ALI + conditional entropy: G_z, G_x and D(x, z) as ALI, plus the cycle terms (and, in
    the adversarial variant, D_xx and D_zz)."""

    name = "alice"
    Config = ALICEConfig
    variants = False  # unsupervised only: the refusal below says so
    presets = {"default": by_kind(ALICEConfig, _toy_default, image_default),
               "paper": by_kind(ALICEConfig, {**PAPER_TOY, **PAPER_UPDATES}, image_paper,
                                **PAPER_UPDATES)}

    def __init__(self, config: ALICEConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        if config.labels or config.condition != "none":
            raise GenzooError("alice is unsupervised: drop --labels and --condition (ali "
                              "has the conditional and semi-supervised games)")
        super().__init__(config, data, seeds)
        c = config
        kind = c.conditional_entropy
        if kind not in DEFAULT_WEIGHT:
            raise GenzooError(f"conditional_entropy must be explicit or adversarial, got "
                              f"{kind!r}")
        self.lambda_x = DEFAULT_WEIGHT[kind] if c.lambda_x is None else float(c.lambda_x)
        self.lambda_z = DEFAULT_WEIGHT[kind] if c.lambda_z is None else float(c.lambda_z)
        if self.lambda_x < 0 or self.lambda_z < 0:
            raise GenzooError("lambda_x and lambda_z must be >= 0")
        self.cycle_norm = c.cycle_norm or ("l1" if data.kind == "image" else "l2")
        if self.cycle_norm not in ("l1", "l2"):
            raise GenzooError(f"cycle_norm must be l1 or l2, got {self.cycle_norm!r}")
        for name in ("cycle_x_updates", "cycle_z_updates"):
            if getattr(c, name) not in ("both", "encoder", "decoder"):
                raise GenzooError(f"{name} must be both, encoder or decoder, got "
                                  f"{getattr(c, name)!r}")
        self.x_span = _x_span(data)
        self.cycle_d: nn.ModuleDict | None = None
        if kind == "adversarial":
            init = ReplicaRNG(self.seeds, "init_extra")
            doubled = dataclasses.replace(data, x_shape=_doubled(data.x_shape))
            self.cycle_d = nn.ModuleDict({
                "xx": networks.discriminator(init, self.noise, c, doubled),
                "zz": toy_nets.discriminator(init, c, 2 * c.z_dim, c.init_std, self.noise)})
            lr_d = c.lr if c.lr_d is None else c.lr_d
            self.opt_cycle = toy_nets.adam(self.cycle_d.parameters(), lr_d,
                                           (c.beta1, c.beta2))
        self._last: tuple[torch.Tensor, ...] | None = None  # the step's (x, z_hat, z, x_tilde)
        self._cycle_inputs: tuple[torch.Tensor, ...] = ()  # adversarial: what D_xx, D_zz learn
        self._terms: dict[str, torch.Tensor] = {}
        # at λ_x = λ_z = 0 nothing is added (and no cycle is computed): ALICE is ALI exactly
        if self.lambda_x or self.lambda_z:
            self.game.extra_g = self.cycle_loss

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = super().optimizers()
        if self.cycle_d is not None:
            opts["cycle_discriminators"] = self.opt_cycle
        return opts

    def pairs(self, x: torch.Tensor) -> Pairs:
        """ALI's pairs; keeps x, G_z(x), z and G_x(z) (with their graphs) for the cycles."""
        z = self.sample_prior(x.shape[1], self.noise)
        z_hat = self._enc(x, self.noise)
        x_tilde = self._dec(z)
        self._last = (x, z_hat, z, x_tilde)
        return (torch.cat([networks.flat(x), z_hat], dim=-1),
                torch.cat([networks.flat(x_tilde), z], dim=-1))

    def cycles(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, G_x(G_z(x)), z, G_z(G_x(z))) of the step's last pairs, with graphs into the
        networks ``cycle_x_updates`` and ``cycle_z_updates`` name."""
        if self._last is None:
            raise GenzooError("alice: no pairs were made this step")
        x, z_hat, z, x_tilde = self._last
        c = self.config
        if c.cycle_x_updates == "decoder":
            z_hat = z_hat.detach()
        with _held(self.decoder, c.cycle_x_updates == "encoder"):
            x_rec = self._dec(z_hat)
        if c.cycle_z_updates == "encoder":
            x_tilde = x_tilde.detach()
        # G_z's running statistics stay those of real x, as in ALI: mixed with G_x(z)'s they
        # can wreck its evaluation-mode codes (mnist5k, λ = 10, seed 1: 37.6 % class agreement
        # against 92.0 % with real-only statistics; docs/tuning.md)
        with _held(self.encoder, c.cycle_z_updates == "decoder"), _statistics_kept(self.encoder):
            z_rec = self._enc(x_tilde, self.noise)
        return x, x_rec, z, z_rec

    def cycle_loss(self) -> torch.Tensor:
        """The generator side's conditional-entropy terms, per replica (R,)."""
        x, x_rec, z, z_rec = self.cycles()
        if self.cycle_d is None:
            cx = explicit_term(x, x_rec, self.cycle_norm, self.x_span)
            cz = explicit_term(z, z_rec, self.cycle_norm)
        else:
            self._cycle_inputs = (x, x_rec.detach(), z, z_rec.detach())
            cx = _nonsaturating(self._cycle_logits("xx", x, x_rec))
            cz = _nonsaturating(self._cycle_logits("zz", z, z_rec))
        self._terms = {"cycle_x": cx.detach(), "cycle_z": cz.detach()}
        return self.lambda_x * cx + self.lambda_z * cz

    @classmethod
    def upgrade_config(cls, recorded: dict[str, Any], data: DataSpec) -> dict[str, Any]:
        """A run recorded before ``cycle_norm`` existed weighed squared errors *summed* over
        the example's values (pixels on [0, 1]): the same loss as a mean on the authors'
        scale is λ·numel/span² (x) and λ·z_dim (z), with the l2 norm; and both of its
        cycles trained both networks."""
        if "cycle_z_updates" not in recorded:
            recorded = dict(recorded, cycle_x_updates="both", cycle_z_updates="both")
        if "cycle_norm" in recorded or recorded.get("conditional_entropy") == "adversarial":
            return recorded
        numel = 1
        for n in data.x_shape:
            numel *= int(n)
        span = _x_span(data)
        z_dim = int(recorded.get("z_dim", 2))
        out = dict(recorded, cycle_norm="l2")
        for key, size in (("lambda_x", numel / span**2), ("lambda_z", z_dim)):
            old = recorded.get(key)
            out[key] = (DEFAULT_WEIGHT["explicit"] if old is None else float(old)) * size
        return out

    def _cycle_logits(self, which: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D_xx or D_zz's logits (R, B) on the pairs (a, b)."""
        assert self.cycle_d is not None
        return self.cycle_d[which](torch.cat([networks.flat(a), networks.flat(b)],
                                             dim=-1)).squeeze(-1)

    def cycle_d_loss(self, which: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D_xx's (D_zz's) loss, per replica: real (a, a) against reconstructed (a, b)."""
        both = torch.cat([a, a], dim=1), torch.cat([a, b], dim=1)
        logits = self._cycle_logits(which, *both)
        n = a.shape[1]
        return d_loss(logits[:, :n], logits[:, n:])

    def _update_cycle_discriminators(self) -> dict[str, torch.Tensor]:
        x, x_rec, z, z_rec = self._cycle_inputs
        loss_xx = self.cycle_d_loss("xx", x, x_rec)
        loss_zz = self.cycle_d_loss("zz", z, z_rec)
        self.opt_cycle.zero_grad(set_to_none=True)
        (loss_xx.sum() + loss_zz.sum()).backward()
        self.opt_cycle.step()
        return {"loss_dxx": loss_xx.detach(), "loss_dzz": loss_zz.detach()}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        metrics = super().train_step(batch, step, total_steps)
        metrics.update(self._terms)
        if self.cycle_d is not None:
            # D_xx and D_zz learn from the cycles the generator side was judged on this step
            metrics.update(self._update_cycle_discriminators())
        self._last = None
        return metrics


def explicit_term(a: torch.Tensor, b: torch.Tensor, norm: str = "l2",
                  span: float = 1.0) -> torch.Tensor:
    """mean |a − b|^p over each example's values, then over the batch; (R, B, ...) -> (R,).
    ``span`` scales the differences first (2: pixels on [0, 1] counted on [-1, 1])."""
    d = (a - b).flatten(2)
    if span != 1.0:
        d = d * span
    return (d.abs() if norm == "l1" else d.square()).mean(-1).mean(1)


def _x_span(data: DataSpec) -> float:
    """How much a difference of x counts: pixels are on [0, 1] here and on [-1, 1] in the
    authors' code, so image differences count twice and λ means their λ."""
    return 2.0 if data.kind == "image" else 1.0


@contextmanager
def _held(net: nn.Module, hold: bool) -> Iterator[None]:
    """Within it (if ``hold``), ``net``'s weights are constants of what it computes: gradients
    reach its input but not its parameters (its BatchNorm statistics still update)."""
    params = [p for p in net.parameters() if p.requires_grad] if hold else []
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextmanager
def _statistics_kept(net: nn.Module) -> Iterator[None]:
    """Within it, ``net``'s BatchNorm layers normalise by the batch as in training but leave
    their running statistics as they were (momentum 0)."""
    layers = [m for m in net.modules() if hasattr(m, "running_mean") and hasattr(m, "momentum")]
    saved = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(layers, saved, strict=True):
            m.momentum = momentum


def _nonsaturating(logits_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss for making D take its pairs (logits (R, B)) for real ones."""
    return torch.nn.functional.softplus(-logits_fake).mean(1)


def _doubled(x_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one (x, x') pair for D_xx: images side by side in channels, points
    concatenated."""
    return (2 * x_shape[0], *x_shape[1:])
