"""Replica-batched layers: R independent networks computed as one batched computation.

Inputs are (R, B, features). ``Linear`` holds weights (R, in, out) and runs one ``baddbmm``;
``BatchNorm`` keeps statistics per replica; ``Dropout`` draws its masks from each replica's
own generator. Built from seeds' "init" generators, replica i is initialised exactly as a
one-replica network built from seed i alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG


class Linear(nn.Module):
    def __init__(self, rng: ReplicaRNG, fan_in: int, fan_out: int, init_std: float | None = None,
                 bias: bool = True):
        super().__init__()
        # None: PyTorch's default scale (uniform, 1/sqrt(fan_in)); else N(0, init_std), zero bias
        if init_std is None:
            bound = 1.0 / math.sqrt(fan_in)
            w = (rng.rand(fan_in, fan_out) * 2 - 1) * bound
        else:
            w = rng.randn(fan_in, fan_out) * init_std
        self.weight = nn.Parameter(w)
        # no bias before a BatchNorm (it would be cancelled, and Adam would chase the rounding
        # noise of its zero gradient); the original ALI code does the same
        self.bias = nn.Parameter(torch.zeros(len(rng), 1, fan_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight.shape[-1] == 1 and self.bias is not None:
            # one output (a logit): a product and a row sum are several times faster than
            # baddbmm's matrix-vector product, forward and backward
            return (x * self.weight.transpose(1, 2)).sum(-1, keepdim=True) + self.bias
        if self.bias is None:
            return torch.bmm(x, self.weight)
        return torch.baddbmm(self.bias, x, self.weight)

    def flops(self, batch: int) -> int:
        """Multiply-adds of one forward pass over ``batch`` rows per replica, times two."""
        r, i, o = self.weight.shape
        return 2 * r * batch * i * o


class BatchNorm(nn.Module):
    """BatchNorm1d over the batch axis of each replica separately, optionally with a ReLU.

    Computed by ``F.batch_norm`` on the (B, R * features) view of the input: every (replica,
    feature) pair is one channel, so statistics never mix replicas, and the fused kernel is
    several times faster than reducing over the middle axis of (R, B, features).
    """

    def __init__(self, replicas: int, features: int, momentum: float = 0.1, eps: float = 1e-5,
                 relu: bool = False):
        super().__init__()
        self.momentum, self.eps, self.relu = momentum, eps, relu
        self.weight = nn.Parameter(torch.ones(replicas, 1, features))
        self.bias = nn.Parameter(torch.zeros(replicas, 1, features))
        self.register_buffer("running_mean", torch.zeros(replicas, 1, features))
        self.register_buffer("running_var", torch.ones(replicas, 1, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x, self.relu)

    def normalize(self, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
        """The normalized x (R, B, F), and its ReLU when ``relu``."""
        r, b, f = x.shape
        # running statistics are updated in place through these flat views (unbiased
        # variance, running = (1 - momentum) * running + momentum * batch)
        y = F.batch_norm(x.transpose(0, 1).reshape(b, r * f), self.running_mean.view(-1),
                         self.running_var.view(-1), self.weight.view(-1), self.bias.view(-1),
                         self.training, self.momentum, self.eps)
        if relu:  # in place on BN's own output: on the (R, B, F) view autograd would copy
            y = torch.relu_(y)
        return y.view(b, r, f).transpose(0, 1)


class Maxout(nn.Module):
    """Max over ``pieces`` consecutive units: (R, B, units * pieces) -> (R, B, units)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r, b, f = x.shape
        return x.view(r, b, f // self.pieces, self.pieces).amax(-1)


class Dropout(nn.Module):
    """Inverted dropout whose masks come from each replica's own generator."""

    def __init__(self, p: float, rng: ReplicaRNG):
        super().__init__()
        self.p = p
        self.rng = rng

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = self.rng.rand(*x.shape[1:]).to(x.device) >= self.p
        return x * keep / (1 - self.p)


def mlp(rng: ReplicaRNG, sizes: list[int], *, batchnorm: bool, activation: str = "relu",
        init_std: float | None = None, maxout_pieces: int = 1, dropout: tuple[float, ...] = (),
        dropout_rng: ReplicaRNG | None = None, final_activation: bool = False,
        bn_momentum: float = 0.1) -> nn.Sequential:
    """An MLP ``sizes[0] -> ... -> sizes[-1]``: hidden layers get [BN], activation, [dropout].

    With ``maxout_pieces > 1`` each hidden layer is a maxout layer of ``sizes[i]`` units.
    ``dropout[i]`` applies to the input of layer i (the paper puts 0.2 on the input, 0.5 later).
    """
    layers: list[nn.Module] = []
    r = len(rng)
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        if i < len(dropout) and dropout[i] > 0:
            assert dropout_rng is not None, "dropout needs a generator"
            layers.append(Dropout(dropout[i], dropout_rng))
        last = i == n_layers - 1
        pieces = maxout_pieces if not last else 1
        bn_next = batchnorm and not last
        layers.append(Linear(rng, sizes[i], sizes[i + 1] * pieces, init_std, bias=not bn_next))
        if last and not final_activation:
            break
        if batchnorm and not last:
            fuse = pieces == 1 and activation == "relu"
            layers.append(BatchNorm(r, sizes[i + 1] * pieces, momentum=bn_momentum, relu=fuse))
            if fuse:  # the ReLU's slot stays, so parameter names match unfused networks
                layers.append(nn.Identity())
                continue
        if pieces > 1:
            layers.append(Maxout(pieces))
        elif activation == "relu":  # in place: Linear/BatchNorm backward never reads it
            layers.append(nn.ReLU(inplace=True))
        elif activation == "leaky_relu":
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        else:
            raise GenzooError(f"genzoo.layers.mlp: unknown activation {activation!r}; use relu "
                              f"or leaky_relu (slope 0.2), or maxout_pieces > 1 for maxout")
    return nn.Sequential(*layers)


def count_flops(module: nn.Module, batch: int) -> int:
    """Forward FLOPs of the ``Linear`` layers in ``module`` for ``batch`` rows per replica."""
    return sum(m.flops(batch) for m in module.modules() if isinstance(m, Linear))
