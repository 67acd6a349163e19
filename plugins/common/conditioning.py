"""Conditional ALI's y (§4.4, Eq. 7): config fields, the y vector and its linear embedding.

y is what a conditional model is conditioned on: a class label (``condition=labels``, one-hot
over the dataset's K classes) or a vector of binary attributes (``condition=attributes``,
CelebA's 40, in {0, 1}). Models take y as the data give it — class indices (R, n) or 0/1
attributes (R, n, A) — and ``vector`` turns it into floats (R, n, y_dim). Each network that
sees y (G_z, G_x and D) maps it through its own ``Embedding``, a Linear(y_dim, embed):
G_x concatenates it to z at its 1×1 input, G_z concatenates it as constant feature maps to
the image's channels, D concatenates it to D(x)'s and D(z)'s feature maps at the joint head's
1×1 input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils import skip_init

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec


@dataclass
class ConditionFields:
    # conditional ALI (Eq. 7): what y is; none = unconditional, labels = one-hot class labels,
    # attributes = the dataset's binary attributes (CelebA's 40)
    condition: Literal["none", "labels", "attributes"] = "none"
    condition_embed: int = 32  # width of each network's linear embedding of y
    # semi-supervised ALI (§4.3): labelled training examples, class-balanced (K+1-class D);
    # 0 = unsupervised
    labels: int = 0


def y_dim(c: Any, data: DataSpec) -> int:
    """The size of y's vector for config ``c`` on ``data`` (0 when unconditional)."""
    condition = getattr(c, "condition", "none")
    if condition == "none":
        return 0
    if data.kind != "image":
        raise GenzooError(f"condition={condition} is implemented for image datasets; "
                          f"{data.name!r} is toy data")
    if condition == "labels":
        if data.num_classes <= 0 or data.attributes:
            raise GenzooError(f"condition=labels needs a dataset with class labels; "
                              f"{data.name!r} has none (attributes: use condition=attributes)")
        return data.num_classes
    if not data.attributes:
        raise GenzooError(f"condition=attributes needs a dataset with binary attributes (like "
                          f"celeba); {data.name!r} has none")
    return len(data.attributes)


def vector(y: torch.Tensor, condition: str, dim: int) -> torch.Tensor:
    """Data labels -> float y: one-hot (R, n, K) from class indices (R, n), or 0/1 attributes
    (R, n, A) as floats (CelebA's -1 is already 0 in the loaded labels)."""
    if condition == "labels":
        if y.dim() != 2:
            raise GenzooError(f"a class-conditional model takes y as class indices (R, n), "
                              f"got shape {tuple(y.shape)}")
        if int(y.min()) < 0 or int(y.max()) >= dim:
            raise GenzooError(f"class labels must be in 0..{dim - 1}")
        return nn.functional.one_hot(y.long(), dim).float()
    if y.dim() != 3 or y.shape[-1] != dim:
        raise GenzooError(f"an attribute-conditional model takes y as (R, n, {dim}) 0/1 "
                          f"attributes, got shape {tuple(y.shape)}")
    return y.float()


class Embedding(nn.Module):
    """y (B, y_dim) -> (B, width): one network's linear embedding of y."""

    def __init__(self, dim: int, width: int, init_std: float | None, gen: torch.Generator):
        super().__init__()
        self.linear = skip_init(nn.Linear, dim, width)
        with torch.no_grad():
            if init_std is None:
                nn.init.kaiming_uniform_(self.linear.weight, a=math.sqrt(5), generator=gen)
            else:
                nn.init.normal_(self.linear.weight, 0.0, init_std, generator=gen)
            self.linear.bias.zero_()

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.linear(y)

    def maps(self, y: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The embedding as constant feature maps (B, width, height, width)."""
        return self.linear(y)[:, :, None, None].expand(-1, -1, height, width)


class Marginal(nn.Module):
    """The training data's y marginal, per replica, counted from the batches seen (buffers, so
    checkpoints keep it): what a conditional model uses when it is given no y.

    ``draw`` samples y from it — a class from the class frequencies, or each attribute on with
    its frequency (independently); before any training, uniform classes or all attributes
    off. ``mean`` is the expected y vector (class frequencies, attribute rates)."""

    def __init__(self, replicas: int, dim: int, condition: str):
        super().__init__()
        self.condition = condition
        self.register_buffer("counts", torch.zeros(replicas, dim, dtype=torch.float64))
        self.register_buffer("seen", torch.zeros(replicas, dtype=torch.float64))

    def observe(self, y: torch.Tensor | None, dim: int, dataset: str) -> torch.Tensor:
        """A training batch's labels or attributes ``y`` as y vectors (R, B, dim), counted."""
        if y is None:
            raise GenzooError(f"conditional ALI needs labels; dataset {dataset!r} gave none")
        vectors = vector(y, self.condition, dim)
        self.update(vectors)
        return vectors

    def update(self, y: torch.Tensor) -> None:
        """Count a batch's y vectors (R, B, dim)."""
        self.counts += y.detach().sum(1).to(self.counts)
        self.seen += y.shape[1]

    def probs(self) -> torch.Tensor:
        """(R, dim): class frequencies or attribute rates (the untrained fallback above)."""
        seen = self.seen.clamp(min=1.0)[:, None]
        p = (self.counts / seen).float()
        if self.condition == "labels":
            untrained = (self.seen == 0)[:, None]
            p = torch.where(untrained, torch.full_like(p, 1.0 / p.shape[1]), p)
        return p

    def mean(self, n: int) -> torch.Tensor:
        return self.probs()[:, None, :].expand(-1, n, -1)

    def draw(self, n: int, generators: list[torch.Generator]) -> torch.Tensor:
        """(R, n, dim) y vectors drawn with each replica's own generator."""
        p = self.probs().cpu()
        out = []
        for p_r, g in zip(p, generators, strict=True):
            p_r = p_r.to(g.device)
            if self.condition == "labels":
                k = torch.multinomial(p_r, n, replacement=True, generator=g)
                out.append(nn.functional.one_hot(k, p_r.shape[0]).float())
            else:
                out.append(torch.bernoulli(p_r.expand(n, -1), generator=g))
        return torch.stack(out).to(self.counts.device)
