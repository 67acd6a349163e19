"""Semi-supervised ALI (§4.3): a discriminator over K+1 classes (Salimans et al. 2016).

D(x, z) outputs K+1 logits l_1..l_K, l_{K+1}; p(k | x, z) = softmax(l)_k. Class K+1 is "a
decoder pair (G_x(z), z)"; classes 1..K are the data's classes, for encoder pairs (x, G_z(x)).
Write b = logsumexp(l_1..l_K) - l_{K+1}: then p(K+1 | pair) = sigmoid(-b), so b plays the
binary game's logit and the unlabelled terms are the binary losses of ``game`` on b.

A training batch holds n_u unlabelled and n_l labelled encoder pairs, then as many decoder pairs
as encoder pairs. Per replica (means over each group):

- D loss = mean_u softplus(-b)            (-log p(k ≤ K) on unlabelled encoder pairs)
         + mean_dec softplus(b)           (-log p(K+1) on decoder pairs)
         + mean_l [logsumexp(l) - l_y]    (-log p(y) on labelled encoder pairs, over K+1)
- generator side (non-saturating, the default; no feature matching):
         mean_u softplus(b) + mean_dec softplus(-b)
  i.e. -log p(K+1) for unlabelled encoder pairs (the encoder wants them judged decoder pairs)
  and -log(1 - p(K+1)) for decoder pairs (the decoder wants them judged real, any class).
  The saturating form is minus the unlabelled part of the D loss. Labelled pairs train D only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch
from genzoo_plugins.common.game import Game, Pairs


def binary_logit(logits: torch.Tensor) -> torch.Tensor:
    """(..., K+1) class logits -> (...) logit of "not class K+1": logsumexp(l_1..K) - l_K+1."""
    return torch.logsumexp(logits[..., :-1], dim=-1) - logits[..., -1]


def d_loss(logits: torch.Tensor, n_real: int, labels: torch.Tensor) -> torch.Tensor:
    """D's loss per replica (R,) on logits (R, n_real + n_fake, K+1): the first n_real
    encoder pairs, the last ``labels.shape[1]`` of them labelled by ``labels`` (R, n_l)."""
    n_l = labels.shape[1]
    n_u = n_real - n_l
    b_u = binary_logit(logits[:, :n_u])
    b_fake = binary_logit(logits[:, n_real:])
    loss = F.softplus(-b_u).mean(1) + F.softplus(b_fake).mean(1)
    if n_l:
        lab = logits[:, n_u:n_real]
        picked = lab.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
        loss = loss + (torch.logsumexp(lab, dim=-1) - picked).mean(1)
    return loss


def g_loss(logits: torch.Tensor, n_real: int, n_labelled: int, kind: str) -> torch.Tensor:
    """The generator side's loss per replica (R,), on unlabelled encoder and decoder pairs."""
    b_u = binary_logit(logits[:, : n_real - n_labelled])
    b_fake = binary_logit(logits[:, n_real:])
    if kind == "nonsaturating":
        return F.softplus(b_u).mean(1) + F.softplus(-b_fake).mean(1)
    return -(F.softplus(-b_u).mean(1) + F.softplus(b_fake).mean(1))


class ClassGame(Game):
    """The Game with a K+1-class D. Set ``labels`` (R, n_l) before each ``step``: the labels
    of the last n_l real examples of the batch (the labelled ones)."""

    labels: torch.Tensor | None = None
    half_losses = False  # its G loss mixes the halves (the labelled real ones included)

    def step_labelled(self, make_pairs: Callable[[torch.Tensor], Pairs], batch: Batch,
                      index: int, progress: float) -> dict[str, torch.Tensor]:
        """``step`` on a batch of [unlabelled; labelled] examples (``LabelledSubset``: the
        labelled ones last, with labels >= 0; the unlabelled ones' are -1)."""
        if batch.y is None:
            raise GenzooError("semi-supervised ALI needs labelled batches")
        n_l = int((batch.y[0] >= 0).sum())
        self.labels = batch.y[:, batch.y.shape[1] - n_l:]
        return self.step(make_pairs, batch.x, index, progress)

    def _labels(self, logits: torch.Tensor) -> torch.Tensor:
        if self.labels is None:
            return logits.new_zeros((logits.shape[0], 0), dtype=torch.long)
        return self.labels

    def loss_d(self, logits: torch.Tensor, b: int) -> torch.Tensor:
        return d_loss(logits, b, self._labels(logits))

    def loss_g(self, logits: torch.Tensor, b: int) -> torch.Tensor:
        return g_loss(logits, b, self._labels(logits).shape[1], self.config.generator_loss)
