"""Convolutional G_z, G_x, D(x) and D(x, z), built from the layer rows of ``image_specs``.

Replicas. A model trained for R seeds holds R independent copies of each network (an
``nn.ModuleList``); replica i is initialised from seed i's own "init" generator and draws its
dropout masks from seed i's own "noise" generator, so it equals the network a single-seed run
with seed i builds and trains. Inputs and outputs carry the replica axis first; with R = 1 the
one network runs on ``x[0]`` directly, with no batching overhead. Images are usually trained
one seed at a time, so R > 1 simply runs the copies one after another.

The interfaces match ``toy_nets`` so that the models need no second copy: G_x maps z
(R, B, z_dim) to images (R, B, C, H, W) in [0, 1] (a sigmoid output, as in the tables); G_z
maps images to z; both discriminators take the Game's flat pairs (R, B, C·H·W [+ z_dim]) and
unflatten x themselves, so the Game, instance noise and R1 work unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import conditioning, image_specs
from genzoo_plugins.common.image_specs import Layer, NetSpec

FEATURE_GRID = 4  # features(): hidden layers larger than this are max-pooled to 4×4


class Dropout(nn.Module):
    """Elementwise inverted dropout whose masks come from one replica's own generator."""

    def __init__(self, p: float, rng: ReplicaRNG):
        super().__init__()
        self.p, self.rng = p, rng

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = keep_mask(x, self.p, self.rng.generators[0])
        return x * (keep * (1.0 / (1.0 - self.p)))


def keep_mask(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """A bool mask shaped and laid out like ``x``, each entry False with probability ``p``
    rounded to a multiple of 1/65,536.

    Each entry takes 16 random bits, four to one 64-bit draw: on a CPU that is about three
    times cheaper than one ``torch.rand`` float per entry, which cost 8 % of a Table 4 step.
    """
    n = x.numel()
    words = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), generator=gen, device=gen.device)
    keep = (words.view(torch.int16)[:n] >= round(p * 65536) - 32768).to(x.device)
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return keep.as_strided(x.shape, x.stride())  # x's layout: the multiply keeps it
    return keep.view(x.shape)


class Block(nn.Module):
    """One row: [dropout] -> (transposed) convolution -> [BatchNorm] -> nonlinearity."""

    def __init__(self, layer: Layer, in_channels: int, out_channels: int, spec: NetSpec,
                 init_std: float | None, bn_momentum: float, gen: torch.Generator,
                 noise: ReplicaRNG):
        super().__init__()
        self.act, self.slope, self.pieces = layer.act, spec.slope, spec.pieces
        maps = out_channels * (spec.pieces if layer.act == "maxout" else 1)
        conv = nn.Conv2d if layer.op == "conv" else nn.ConvTranspose2d
        # skip_init: no draw from torch's global generator; every weight comes from `gen`
        self.conv = skip_init(conv, in_channels, maps, layer.kernel, stride=layer.stride,
                              padding=layer.padding, bias=not layer.bn)
        with torch.no_grad():
            if init_std is None:  # PyTorch's own default scale, from this replica's stream
                nn.init.kaiming_uniform_(self.conv.weight, a=math.sqrt(5), generator=gen)
            else:
                nn.init.normal_(self.conv.weight, 0.0, init_std, generator=gen)
            if self.conv.bias is not None:
                self.conv.bias.zero_()
        self.bn = nn.BatchNorm2d(maps, momentum=bn_momentum) if layer.bn else None
        self.drop = Dropout(layer.dropout, noise) if layer.dropout > 0 else None

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's output before its nonlinearity (after BatchNorm)."""
        if self.drop is not None:
            x = self.drop(x)
        x = self._linear(x) if self._is_matmul(x) else self.conv(_channels_last(x))
        return self.bn(x) if self.bn is not None else x

    def _is_matmul(self, x: torch.Tensor) -> bool:
        """Whether this (transposed) convolution is a plain matrix product on ``x``: a kernel
        covering the whole input (output 1×1), or a transposed one from a 1×1 input."""
        conv = self.conv
        if conv.padding != (0, 0):
            return False
        if isinstance(conv, nn.ConvTranspose2d):
            return x.shape[2:] == (1, 1)
        return tuple(x.shape[2:]) == tuple(conv.kernel_size)

    def _linear(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution as one GEMM: about 2.5× faster on a CPU than the convolution
        kernels at these shapes (a batch of 100-200, 1×1 outputs or inputs)."""
        w, b = self.conv.weight, self.conv.bias
        if isinstance(self.conv, nn.Conv2d):  # weight (out, in, k, k); x (B, in, k, k)
            return F.linear(x.flatten(1), w.flatten(1), b)[:, :, None, None]
        # transposed, weight (in, out, k, k); x (B, in, 1, 1) -> (B, out, k, k)
        y = (x.flatten(1) @ w.flatten(1)).view(x.shape[0], *w.shape[1:])
        if b is not None:
            y = y + b[:, None, None]
        return _channels_last(y)

    def activate(self, h: torch.Tensor, inplace: bool = True) -> torch.Tensor:
        if self.act == "lrelu":
            return F.leaky_relu(h, self.slope, inplace=inplace)
        if self.act == "relu":
            return F.relu(h, inplace=inplace)
        if self.act == "maxout":
            b, c, hh, ww = h.shape
            return h.view(b, c // self.pieces, self.pieces, hh, ww).amax(2)
        if self.act == "sigmoid":
            return torch.sigmoid(h)
        if self.act == "tanh":
            return torch.tanh(h)
        return h  # linear


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """Feature maps larger than 1×1 go to the convolutions channels-last: oneDNN's kernels
    for that layout are up to 10× faster on a CPU for the tables' shapes (1×1 convolutions on
    32×32 maps, 3-channel inputs, stride-2 layers); BatchNorm and the nonlinearities keep it."""
    if x.dim() == 4 and x.shape[2] * x.shape[3] > 1:
        return x.contiguous(memory_format=torch.channels_last)
    return x


class Trunk(nn.Module):
    """A stack of rows. ``forward(x, taps)`` appends each hidden row's pre-activation output
    to ``taps`` when given; ``final=False`` stops before the last row's nonlinearity."""

    def __init__(self, layers: Sequence[Layer], in_channels: int, spec: NetSpec,
                 init_std: float | None, bn_momentum: float, gen: torch.Generator,
                 noise: ReplicaRNG, out_channels: int | None = None):
        super().__init__()
        blocks = []
        for i, layer in enumerate(layers):
            last = i == len(layers) - 1
            out = out_channels if last and out_channels is not None else layer.channels
            blocks.append(Block(layer, in_channels, out, spec, init_std, bn_momentum, gen,
                                noise))
            in_channels = out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = in_channels

    def forward(self, x: torch.Tensor, taps: list[torch.Tensor] | None = None,
                final: bool = True) -> torch.Tensor:
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            h = block.pre(x)
            if i == n - 1 and not final:
                return h
            if taps is not None and i < n - 1:
                taps.append(h)
            x = block.activate(h, inplace=taps is None)
        return x


class Canvas:
    """Zero-pads images to the network's square size (centred) and crops them back; with
    ``center``, maps [0, 1] to [-1, 1] on the way in (the padding becomes -1, black)."""

    def __init__(self, x_shape: tuple[int, ...], size: int, center: bool = False):
        self.c, self.h, self.w = x_shape
        self.size, self.center = size, center
        self.top, self.left = (size - self.h) // 2, (size - self.w) // 2
        self.identity = (self.h, self.w) == (size, size)

    def unflatten(self, flat: torch.Tensor) -> torch.Tensor:
        return flat.reshape(flat.shape[0], self.c, self.h, self.w)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        if not self.identity:
            x = F.pad(x, (self.left, self.size - self.w - self.left,
                          self.top, self.size - self.h - self.top))
        return x * 2.0 - 1.0 if self.center else x

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return x
        return x[..., self.top : self.top + self.h, self.left : self.left + self.w]


# --- one replica's networks (inputs (B, ...)) --------------------------------------------------


def _embedding(y_dim: int, embed: int, build: dict[str, Any]) -> conditioning.Embedding | None:
    """A conditional network's linear embedding of y (Eq. 7), from the replica's init stream;
    None for an unconditional one (y_dim 0)."""
    return conditioning.Embedding(y_dim, embed, build["init_std"], build["gen"]) if y_dim else None


class EncoderNet(nn.Module):
    """G_z: x (B, C, H, W) -> posterior parameters (B, out) at the network's 1×1 output."""

    def __init__(self, spec: NetSpec, canvas: Canvas, out: int, build: dict[str, Any],
                 y_dim: int = 0, embed: int = 0):
        super().__init__()
        self.canvas = canvas
        # conditional (Eq. 7): y's embedding enters as `embed` constant input feature maps
        self.embed = _embedding(y_dim, embed, build)
        in_channels = canvas.c + (embed if y_dim else 0)
        self.trunk = Trunk(spec.encoder, in_channels, spec, out_channels=out, **build)

    def _input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        x = self.canvas.pad(x)
        if self.embed is None:
            return x
        if y is None:
            raise GenzooError("this encoder is conditional: it needs y")
        return torch.cat([x, self.embed.maps(y, x.shape[2], x.shape[3])], dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.trunk(self._input(x, y)).flatten(1)

    def features(self, x: torch.Tensor, mean_dim: int,
                 y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean and every hidden layer's pre-activation output, each larger than
        4×4 max-pooled to a 4×4 grid (Radford et al.'s protocol), flattened: 8,960 for
        Table 4 (256 + 32·16 + 64·16 + 128·16 + 256·16 + 512 + 512)."""
        taps: list[torch.Tensor] = []
        params = self.trunk(self._input(x, y), taps).flatten(1)
        pooled = [F.adaptive_max_pool2d(h, (min(h.shape[2], FEATURE_GRID),
                                            min(h.shape[3], FEATURE_GRID))).flatten(1)
                  for h in taps]
        return torch.cat([params[:, :mean_dim], *pooled], dim=1)


class DecoderNet(nn.Module):
    """G_x: z (B, z_dim) -> pixel logits (B, C, H, W); ``forward`` gives sigmoid(logits).

    A sigmoid output layer's logits are its pre-activation h; a tanh output layer's image
    (tanh(h) + 1) / 2 is sigmoid(2h), so its logits are 2h."""

    def __init__(self, spec: NetSpec, canvas: Canvas, z_dim: int, build: dict[str, Any],
                 y_dim: int = 0, embed: int = 0):
        super().__init__()
        self.canvas = canvas
        # conditional (Eq. 7): y's embedding is concatenated to z at the 1×1 input
        self.embed = _embedding(y_dim, embed, build)
        in_channels = z_dim + (embed if y_dim else 0)
        self.trunk = Trunk(spec.decoder, in_channels, spec, out_channels=canvas.c, **build)
        self.scale = 2.0 if spec.decoder[-1].act == "tanh" else 1.0

    def logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise GenzooError("this decoder is conditional: it needs y")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = self.canvas.crop(self.trunk(z[:, :, None, None], final=False))
        return h * self.scale if self.scale != 1.0 else h

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.logits(z, y))


class DiscriminatorNet(nn.Module):
    """D(x) (``z_dim`` = 0) or D(x, z) = head(concat(D_x(x), D_z(z))) on flat inputs
    (B, C·H·W [+ z_dim]); returns logits (B, 1). The GAN's D(x) is the joint head on D_x
    alone.

    With ``split``, a training batch is judged in two halves, so that BatchNorm takes the
    statistics of the real half and of the fake half apart: the Game always hands D
    [real pairs; fake pairs] of equal size (its R1 penalty hands it real pairs only, which
    are then simply split in two).
    """

    def __init__(self, spec: NetSpec, canvas: Canvas, z_dim: int, build: dict[str, Any],
                 split: bool = False, y_dim: int = 0, embed: int = 0, outputs: int = 1,
                 unary: bool = False):
        super().__init__()
        self.canvas, self.z_dim, self.split = canvas, z_dim, split
        self.x_dim = canvas.c * canvas.h * canvas.w
        self.disc_x = Trunk(spec.disc_x, canvas.c, spec, **build)
        self.disc_z = Trunk(spec.disc_z, z_dim, spec, **build) if z_dim else None
        joint_in = self.disc_x.out_channels + (self.disc_z.out_channels if z_dim else 0)
        # conditional (Eq. 7): pairs end in y's y_dim values; its embedding joins the head
        self.embed = _embedding(y_dim, embed, build)
        joint_in += embed if y_dim else 0
        # outputs: 1 logit, or K+1 class logits for semi-supervised ALI (k_plus_one)
        self.head = Trunk(spec.disc_joint, joint_in, spec, out_channels=outputs, **build)
        # BigBiGAN's unary scores: s_x on D_x's features, s_z on D_z's (made last, so the
        # other weights draw the same initial values with or without them)
        self.unary = None
        if unary and self.disc_z is not None:
            self.unary = nn.ModuleList([_score_head(t.out_channels, build)
                                        for t in (self.disc_x, self.disc_z)])

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        n = pairs.shape[0]
        if self.split and self.training and n > 1 and n % 2 == 0:
            return torch.cat([self.judge(half) for half in pairs.chunk(2)])
        return self.judge(pairs)

    def judge(self, pairs: torch.Tensor) -> torch.Tensor:
        x = self.canvas.pad(self.canvas.unflatten(pairs[:, : self.x_dim]))
        h = self.disc_x(x)
        end = pairs.shape[1]
        if self.embed is not None:  # (x, z, y): y is the last y_dim values
            end -= self.embed.linear.in_features
            e = self.embed.maps(pairs[:, end:], h.shape[2], h.shape[3])
        hx = hz = h
        if self.disc_z is not None:
            z = pairs[:, self.x_dim : end, None, None]
            hz = self.disc_z(z)
            h = torch.cat([h, hz], dim=1)
        if self.embed is not None:
            h = torch.cat([h, e], dim=1)
        out = self.head(h).flatten(1)
        if self.unary is None:
            return out
        # (B, 3): s_xz, s_x, s_z
        return torch.cat([out, *(head(t).mean((2, 3)) for head, t in
                                 zip(self.unary, (hx, hz), strict=True))], dim=1)


def _score_head(channels: int, build: dict[str, Any]) -> nn.Conv2d:
    """A linear score (a 1×1 convolution to one map, averaged over space by the caller)."""
    head = nn.Conv2d(channels, 1, 1)
    with torch.no_grad():
        head.weight.normal_(0.0, build["init_std"] or 0.02, generator=build["gen"])
        head.bias.zero_()
    return head


# --- the replica axis --------------------------------------------------------------------------


class Replicated(nn.Module):
    """R copies of one network; ``per_replica(fn, *tensors)`` maps (R, B, ...) inputs."""

    def __init__(self, nets: Sequence[nn.Module]):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def per_replica(self, fn: Callable[..., Any], *xs: torch.Tensor | None) -> Any:
        """``None`` inputs (an unconditional model's y) are passed on as None."""
        outs = [fn(net, *(None if x is None else x[i] for x in xs))
                for i, net in enumerate(self.nets)]
        if isinstance(outs[0], tuple):
            return tuple(_stack(list(parts)) for parts in zip(*outs, strict=True))
        return _stack(outs)


def _stack(outs: list[torch.Tensor]) -> torch.Tensor:
    # under bf16 autocast (`--precision bf16`) the networks compute in bfloat16; what leaves
    # them is fp32, so that every loss and evaluator downstream stays in full precision
    outs = [t.float() if t.dtype in (torch.bfloat16, torch.float16) else t for t in outs]
    return outs[0].unsqueeze(0) if len(outs) == 1 else torch.stack(outs)


class Decoder(Replicated):
    """G_x over the replica axis: z (R, B, z_dim) -> x (R, B, C, H, W) in [0, 1]."""

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``y`` (R, B, y_dim): conditional networks' y vector (``conditioning.vector``)."""
        return self.per_replica(lambda net, t, u: net(t, u), z, y)

    def logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.per_replica(lambda net, t, u: net.logits(t, u), z, y)


class Encoder(Replicated):
    """G_z over the replica axis, with ``toy_nets.Encoder``'s interface: ``forward(x, rng)``
    gives a sample z (R, B, z_dim); ``posterior(x)`` the Gaussian's (mean, log sigma)."""

    def __init__(self, nets: Sequence[nn.Module], kind: str, z_dim: int):
        super().__init__(nets)
        self.kind, self.z_dim = kind, z_dim

    def params(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.per_replica(lambda net, t, u: net(t, u), x, y)

    def posterior(self, x: torch.Tensor,
                  y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.params(x, y).chunk(2, dim=-1)
        return mu, log_sigma.clamp(-12.0, 6.0)  # keeps exp() finite early in training

    def forward(self, x: torch.Tensor, rng: ReplicaRNG,
                y: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "gaussian":
            mu, log_sigma = self.posterior(x, y)
            eps = rng.randn(*mu.shape[1:]).to(x.device)
            return torch.addcmul(mu, log_sigma.exp(), eps)  # Eq. 2, the reparameterization
        return self.params(x, y)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(R, B, d): the posterior mean and the pooled hidden layers (EncoderNet.features)."""
        return self.per_replica(lambda net, t, u: net.features(t, self.z_dim, u), x, y)


class Discriminator(Replicated):
    """D over the replica axis: flat pairs (R, B, F) -> logits (R, B, 1)."""

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.per_replica(lambda net, t: net(t), pairs)


# --- builders from a model's config ------------------------------------------------------------


def resolve(c: Any, data: DataSpec) -> NetSpec:
    """The NetSpec a config selects for ``data``: a paper table, or the generic network;
    ``image_disc_bn=none`` takes BatchNorm out of D's rows."""
    table = image_specs.table_for(c.image_net, data.name)
    if table is None:
        return image_specs.generic(
            data.x_shape, width=c.image_width, z_dim=c.z_dim,
            disc_bn=c.image_disc_bn != "none", dropout_in=getattr(c, "dropout_in", 0.0),
            dropout_hidden=getattr(c, "dropout_hidden", 0.0))
    image_specs.check_fits(table, data.x_shape, data.name)
    if c.image_disc_bn == "none":
        def plain(rows: tuple[Layer, ...]) -> tuple[Layer, ...]:
            return tuple(dataclasses.replace(r, bn=False) for r in rows)
        table = dataclasses.replace(table, disc_x=plain(table.disc_x),
                                    disc_z=plain(table.disc_z),
                                    disc_joint=plain(table.disc_joint))
    return table


def _replicas(init: ReplicaRNG, noise: ReplicaRNG, c: Any,
              make: Callable[[dict[str, Any]], nn.Module]) -> list[nn.Module]:
    """One network per replica, replica i from seed i's init and noise generators."""
    return [make({"init_std": c.init_std, "bn_momentum": c.bn_momentum,
                  "gen": gi.generators[0], "noise": ni})
            for gi, ni in zip(init.split(), noise.split(), strict=True)]


def decoder(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec) -> Decoder:
    spec, canvas = _resolved(c, data)
    cond = _condition(c, data)
    return Decoder(_replicas(init, noise, c,
                             lambda b: DecoderNet(spec, canvas, c.z_dim, b, *cond)))


def encoder(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec) -> Encoder:
    if c.encoder == "noise_input":
        raise GenzooError("encoder=noise_input is the toy networks' encoder; on images use "
                          "--set encoder=gaussian (ALI) or encoder=deterministic (BiGAN)")
    spec, canvas = _resolved(c, data)
    out = 2 * c.z_dim if c.encoder == "gaussian" else c.z_dim
    cond = _condition(c, data)
    return Encoder(_replicas(init, noise, c,
                             lambda b: EncoderNet(spec, canvas, out, b, *cond)),
                   c.encoder, c.z_dim)


def discriminator(init: ReplicaRNG, noise: ReplicaRNG, c: Any, data: DataSpec,
                  joint: bool) -> Discriminator:
    """D(x, z) when ``joint``, else D(x)."""
    spec, canvas = _resolved(c, data)
    if getattr(c, "update_order", None) == "simultaneous" and _has_batchnorm(spec):
        raise GenzooError(f"update_order=simultaneous needs a discriminator without "
                          f"BatchNorm (it treats D as a per-sample function); {spec.source}'s "
                          f"D has BatchNorm: use --set update_order=d_then_g")
    z_dim = c.z_dim if joint else 0
    split = c.image_disc_bn == "split" and _has_batchnorm(spec)
    y_dim, embed = _condition(c, data)
    # semi-supervised ALI: K+1 class logits (genzoo_plugins.common.k_plus_one)
    outputs = data.num_classes + 1 if getattr(c, "labels", 0) > 0 else 1
    unary = joint and getattr(c, "unary_scores", False)
    return Discriminator(_replicas(
        init, noise, c, lambda b: DiscriminatorNet(spec, canvas, z_dim, b, split, y_dim, embed,
                                                   outputs, unary)))


def _condition(c: Any, data: DataSpec) -> tuple[int, int]:
    """(y_dim, embedding width) of a conditional model's networks; (0, 0) otherwise."""
    y_dim = conditioning.y_dim(c, data)
    return (y_dim, c.condition_embed) if y_dim else (0, 0)


def _resolved(c: Any, data: DataSpec) -> tuple[NetSpec, Canvas]:
    spec = resolve(c, data)
    return spec, Canvas(tuple(data.x_shape), spec.size, spec.center)


def _has_batchnorm(spec: NetSpec) -> bool:
    return any(layer.bn for rows in (spec.disc_x, spec.disc_z, spec.disc_joint)
               for layer in rows)
