"""The toy-experiment networks of §4.5 (REFERENCE.md), replica-batched.

Every network maps (R, B, in) -> (R, B, out); sizes come from the shared config fields in
``genzoo_plugins.common.config``, so the ``paper`` presets rebuild the original code's networks
and the ``default`` presets trade them for speed.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG
from genzoo.layers import mlp
from genzoo_plugins.common.config import (
    DecoderFields,
    DiscriminatorFields,
    EncoderFields,
    JointDiscriminatorFields,
)


def decoder(rng: ReplicaRNG, c: DecoderFields, x_dim: int) -> nn.Sequential:
    """G_x: z -> [Fourier features] -> decoder_layers x [Linear, (BN), ReLU] -> Linear x_dim.

    Fourier features of z let a small G_x make the sharp z -> x transitions that put almost
    no mass between the modes (a ReLU MLP on z itself needs thousands of steps to grow them).
    """
    return _fourier_mlp(rng, c.z_dim, c.z_dim, (c.decoder_fourier, c.decoder_fourier_scale),
                        [c.decoder_hidden] * c.decoder_layers + [x_dim], c.batchnorm,
                        c.bn_momentum, c.init_std)


def _fourier_mlp(rng: ReplicaRNG, in_dim: int, featured: int, fourier: tuple[int, float],
                 sizes: list[int], batchnorm: bool, bn_momentum: float,
                 init_std: float | None) -> nn.Sequential:
    """An MLP in_dim -> sizes, behind Fourier features of the first ``featured`` input columns
    (the rest pass through after them) when ``fourier`` = (count, scale) has a count."""
    n, scale = fourier
    first = [FourierFeatures(rng, featured, n, scale)] if n > 0 else []
    net = mlp(rng, [in_dim + 2 * max(n, 0)] + sizes, batchnorm=batchnorm,
              bn_momentum=bn_momentum, init_std=init_std)
    return nn.Sequential(*first, *net) if first else net


class Encoder(nn.Module):
    """G_z: x -> z, stochastic (Gaussian or noise input) or deterministic (BiGAN).

    ``forward(x, rng)`` returns a sample z (R, B, z_dim) differentiable in the encoder's
    weights; ``rng`` is the replicas' noise stream (unused by a deterministic encoder).
    """

    def __init__(self, rng: ReplicaRNG, c: EncoderFields, x_dim: int, z_dim: int,
                 batchnorm: bool, bn_momentum: float, init_std: float | None):
        super().__init__()
        self.kind, self.z_dim, self.noise_dim = c.encoder, z_dim, c.encoder_noise_dim
        in_dim = x_dim + (self.noise_dim if self.kind == "noise_input" else 0)
        out_dim = 2 * z_dim if self.kind == "gaussian" else z_dim
        # Fourier features of x alone: the noise input's columns pass through after them
        self.net = _fourier_mlp(rng, in_dim, x_dim, (c.encoder_fourier, c.encoder_fourier_scale),
                                [c.encoder_hidden] * c.encoder_layers + [out_dim], batchnorm,
                                bn_momentum, init_std)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log sigma of q(z|x) (gaussian encoder only)."""
        mu, log_sigma = self.net(x).chunk(2, dim=-1)
        return mu, log_sigma.clamp(-12.0, 6.0)  # keeps exp() finite early in training

    def forward(self, x: torch.Tensor, rng: ReplicaRNG) -> torch.Tensor:
        if self.kind == "gaussian":
            mu, log_sigma = self.posterior(x)
            eps = rng.randn(*mu.shape[1:]).to(x.device)
            return torch.addcmul(mu, log_sigma.exp(), eps)  # Eq. 2, the reparameterization
        if self.kind == "noise_input":
            eps = rng.randn(x.shape[1], self.noise_dim).to(x.device)
            return self.net(torch.cat([x, eps], dim=-1))
        return self.net(x)


def encoder(rng: ReplicaRNG, c: EncoderFields, d: DecoderFields, x_dim: int) -> Encoder:
    """G_z with the generator side's BatchNorm and init settings."""
    return Encoder(rng, c, x_dim, d.z_dim, d.batchnorm, d.bn_momentum, d.init_std)


class FourierFeatures(nn.Module):
    """x -> [x, sin(x W), cos(x W)] with a fixed random W (R, in, n) per replica.

    Given more columns than W has rows, the extra ones pass through after the features:
    (x, z) -> [x, sin(x W), cos(x W), z], a joint D's front in one pass.
    """

    def __init__(self, rng: ReplicaRNG, in_dim: int, n: int, scale: float):
        super().__init__()
        self.register_buffer("freqs", rng.randn(in_dim, n) * scale)
        self.out_dim = in_dim + 2 * n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Fourier.apply(x, self.freqs)


class _Fourier(torch.autograd.Function):
    """[x, sin(xW), cos(xW), rest] whose backward reuses the forward's sin and cos.

    Autograd's own sin and cos backward would evaluate cos and sin again (a third of the
    features' cost per pass). The backward is made of differentiable ops on saved tensors, so
    R1's double backward goes through it.
    """

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, freqs: torch.Tensor  # type: ignore[override]
                ) -> torch.Tensor:
        d, n = freqs.shape[-2:]
        x = inputs[..., :d]
        y = torch.bmm(x, freqs)
        out = torch.empty(*inputs.shape[:-1], inputs.shape[-1] + 2 * n, dtype=y.dtype,
                          device=inputs.device)
        out[..., :d] = x
        torch.sin(y, out=out[..., d:d + n])
        torch.cos(y, out=out[..., d + n:d + 2 * n])
        out[..., d + 2 * n:] = inputs[..., d:]
        ctx.save_for_backward(out, freqs)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor  # type: ignore[override]
                 ) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        out, freqs = ctx.saved_tensors
        d, n = freqs.shape[-2:]
        sin, cos = out[..., d:d + n], out[..., d + n:d + 2 * n]
        # d sin(y) = cos(y) dy and d cos(y) = -sin(y) dy
        grad_y = torch.addcmul(grad[..., d:d + n] * cos, grad[..., d + n:d + 2 * n], sin,
                               value=-1)
        grad_x = torch.baddbmm(grad[..., :d], grad_y, freqs.transpose(1, 2))
        if grad.shape[-1] == d + 2 * n:
            return grad_x, None
        return torch.cat([grad_x, grad[..., d + 2 * n:]], dim=-1), None


def _embed(rng: ReplicaRNG, c: DiscriminatorFields, x_dim: int) -> tuple[nn.Module, int]:
    """D's view of x: Fourier features when configured, else x itself."""
    if c.disc_fourier <= 0:
        return nn.Identity(), x_dim
    ff = FourierFeatures(rng, x_dim, c.disc_fourier, c.disc_fourier_scale)
    return ff, ff.out_dim


def _head(rng: ReplicaRNG, c: DiscriminatorFields, in_dim: int, init_std: float | None,
          dropout_rng: ReplicaRNG, first_dropout: float) -> nn.Sequential:
    """in_dim -> disc_layers x activation(disc_units) -> Linear 1, dropout on each input."""
    pieces = c.disc_pieces if c.disc_activation == "maxout" else 1
    dropout = (first_dropout,) + (c.dropout_hidden,) * c.disc_layers
    return mlp(rng, [in_dim] + [c.disc_units] * c.disc_layers + [1], batchnorm=False,
               init_std=init_std, maxout_pieces=pieces, dropout=dropout,
               dropout_rng=dropout_rng, activation=_activation(c.disc_activation))


def _activation(name: str) -> str:
    return "leaky_relu" if name == "maxout" else name  # maxout is chosen through pieces


class Pack(nn.Module):
    """PacGAN packing (Lin et al. 2018): (R, N, F) -> (R, N / m, m F).

    Consecutive samples form a group, so a batch [real..., fake...] whose halves are multiples
    of m packs into real groups followed by fake groups; D then judges m samples at once, and
    a generator that drops modes is told so by the groups' lack of variety.
    """

    def __init__(self, m: int):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.m == 1:
            return x
        r, n, f = x.shape
        if n % self.m:
            raise GenzooError(f"disc_pack={self.m} needs batches of a multiple of {self.m} "
                              f"pairs per D update, got {n}; change --batch-size or d_steps")
        return x.reshape(r, n // self.m, self.m * f)


class Discriminator(nn.Sequential):
    """D(x) of the GAN: [embedding, Pack, head] -> logits (R, B / pack, 1).

    ``front`` is the parameter-free embedding and ``judge`` the rest, so the Game can embed a
    step's samples once for both of its updates; ``forward`` = judge(front(x)).
    """

    def __init__(self, embed: nn.Module, pack: int, head: nn.Module):
        super().__init__(embed, Pack(pack), head)
        self.pack = pack  # the Game reads it

    def front(self, x: torch.Tensor) -> torch.Tensor:
        return self[0](x)

    def judge(self, features: torch.Tensor) -> torch.Tensor:
        return self[2](self[1](features))


def discriminator(rng: ReplicaRNG, c: DiscriminatorFields, x_dim: int, init_std: float | None,
                  dropout_rng: ReplicaRNG) -> Discriminator:
    """D(x) of the GAN: the joint head's shape on x alone; returns logits (R, B / pack, 1)."""
    embed, in_dim = _embed(rng, c, x_dim)
    head = _head(rng, c, in_dim * c.disc_pack, init_std, dropout_rng, c.dropout_in)
    return Discriminator(embed, c.disc_pack, head)


class JointDiscriminator(nn.Module):
    """D(x, z) = head(concat(branch_x(x), branch_z(z))) on inputs concat(x, z).

    With no branch layers the branches are identities and D is the original toy code's
    concat(x, z) -> maxout head. Branch layers get dropout_in on their input; the head then
    takes dropout_hidden on its (already processed) input. With ``disc_pack`` = m the head sees
    m pairs' features concatenated (PacGAN on the joint D) and returns (R, N / m, 1).
    """

    def __init__(self, rng: ReplicaRNG, c: JointDiscriminatorFields, x_dim: int, z_dim: int,
                 init_std: float | None, dropout_rng: ReplicaRNG):
        super().__init__()
        self.x_dim, self.pack = x_dim, c.disc_pack
        self.packer = Pack(c.disc_pack)
        self.embed, ex = _embed(rng, c, x_dim)
        self.embedded_x = ex  # features of x in front(xz), followed by z's
        self.branch_x = self._branch(rng, c, c.disc_x_layers, ex, init_std, dropout_rng)
        self.embed_z: nn.Module | None = None
        ez = z_dim
        if c.disc_z_fourier > 0:
            self.embed_z = FourierFeatures(rng, z_dim, c.disc_z_fourier, c.disc_z_fourier_scale)
            ez = self.embed_z.out_dim
        self.branch_z = self._branch(rng, c, c.disc_z_layers, ez, init_std, dropout_rng)
        hx = c.disc_branch_units if c.disc_x_layers else ex
        hz = c.disc_branch_units if c.disc_z_layers else ez
        branched = c.disc_x_layers or c.disc_z_layers
        self.head = _head(rng, c, (hx + hz) * c.disc_pack, init_std, dropout_rng,
                          c.dropout_hidden if branched else c.dropout_in)
        # BigBiGAN's unary scores: a linear s_x on the x branch, s_z on the z branch
        self.unary = None
        if getattr(c, "unary_scores", False):
            if not (c.disc_x_layers and c.disc_z_layers) or c.disc_pack != 1:
                raise GenzooError("unary scores need D's x and z branches and no packing: "
                                  "--set disc_x_layers=2 --set disc_z_layers=2 (disc_pack=1)")
            self.unary = nn.ModuleList([mlp(rng, [c.disc_branch_units, 1], batchnorm=False,
                                            init_std=init_std) for _ in range(2)])

    @staticmethod
    def _branch(rng: ReplicaRNG, c: JointDiscriminatorFields, layers: int, in_dim: int,
                init_std: float | None, dropout_rng: ReplicaRNG) -> nn.Module:
        if layers == 0:
            return nn.Identity()
        pieces = c.disc_pieces if c.disc_activation == "maxout" else 1
        dropout = (c.dropout_in,) + (c.dropout_hidden,) * (layers - 1)
        # built as a head of `layers` hidden layers without its output Linear, so every
        # branch layer is a full activation(disc_branch_units) layer (maxout included)
        net = mlp(rng, [in_dim] + [c.disc_branch_units] * layers + [1], batchnorm=False,
                  init_std=init_std, maxout_pieces=pieces, dropout=dropout,
                  dropout_rng=dropout_rng, activation=_activation(c.disc_activation))
        return nn.Sequential(*list(net)[:-1])

    def front(self, xz: torch.Tensor) -> torch.Tensor:
        """The parameter-free part: (x, z) -> [embedding of x, z] (Fourier features pass z
        through in the same pass, or their own features follow)."""
        if self.embed_z is None:
            return self.embed(xz)
        x, z = xz[..., :self.x_dim], xz[..., self.x_dim:]
        return torch.cat([self.embed(x), self.embed_z(z.contiguous())], dim=-1)

    def judge(self, features: torch.Tensor) -> torch.Tensor:
        """Logits of ``front``'s output: branches (if any), packing, head."""
        if isinstance(self.branch_x, nn.Identity) and isinstance(self.branch_z, nn.Identity):
            return self.head(self.packer(features))
        ex, z = features[..., :self.embedded_x], features[..., self.embedded_x:]
        hx, hz = self.branch_x(ex), self.branch_z(z)
        out = self.head(self.packer(torch.cat([hx, hz], dim=-1)))
        if self.unary is None:
            return out
        # (R, N, 3): s_xz, s_x, s_z
        return torch.cat([out, self.unary[0](hx), self.unary[1](hz)], dim=-1)

    def forward(self, xz: torch.Tensor) -> torch.Tensor:
        return self.judge(self.front(xz))


def adam(params: Iterable[nn.Parameter], lr: float,
         betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam over replica-stacked parameters: elementwise, so each replica is independent.

    ``fused`` runs the whole update as one kernel per dtype (on CPU too), which matters when a
    toy step is only a few milliseconds of matmuls.
    """
    return torch.optim.Adam(list(params), lr=lr, betas=betas, fused=True)
