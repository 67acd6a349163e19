"""Several single-seed models presented as one replicated model.

The host trains a model that is not ``vectorized`` for several seeds by stacking one instance
per seed; every caller (trainer, evaluators, compare) then sees the same replica-axis API.
The members run one after another: correct for any model, fast only for vectorized ones.
"""

from __future__ import annotations

import torch
from torch import nn

from genzoo.core.model import Batch, Model
from genzoo.core.rng import ReplicaRNG


class ModelStack(Model):
    vectorized = True

    def __init__(self, members: list[Model]):
        nn.Module.__init__(self)
        first = members[0]
        self.name = first.name
        self.capabilities = first.capabilities
        self.prior_name = first.prior_name
        self.config = first.config
        self.data = first.data
        self.seeds = [s for m in members for s in m.seeds]
        self.members = nn.ModuleList(members)
        self.noise = ReplicaRNG.from_generators(self.seeds, "noise",
                                                [g for m in members for g in m.noise.generators])

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {f"{i}.{name}": opt for i, m in enumerate(self.members)
                for name, opt in m.optimizers().items()}

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        results = [m.train_step(_slice(batch, i), step, total_steps)
                   for i, m in enumerate(self.members)]
        return {k: torch.cat([r[k].reshape(1) for r in results]) for k in results[0]}

    def _per_member(self, rng: ReplicaRNG | None) -> list[ReplicaRNG | None]:
        return rng.split() if rng is not None else [None] * len(self.members)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.cat([m.sample(n, r) for m, r in zip(self.members, self._per_member(rng),
                                                          strict=True)])

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.cat([m.encode(x[i : i + 1], r) for i, (m, r)
                          in enumerate(zip(self.members, self._per_member(rng), strict=True))])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.decode(z[i : i + 1]) for i, m in enumerate(self.members)])

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.cat([m.reconstruct(x[i : i + 1], r) for i, (m, r)
                          in enumerate(zip(self.members, self._per_member(rng), strict=True))])

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.classify(x[i : i + 1]) for i, m in enumerate(self.members)])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.features(x[i : i + 1]) for i, m in enumerate(self.members)])

    def schedules(self) -> list[str]:
        return self.members[0].schedules()

    @property
    def z_dim(self) -> int | None:
        return self.members[0].z_dim

    def sample_prior(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.cat([m.sample_prior(n, r) for m, r
                          in zip(self.members, self._per_member(rng), strict=True)])

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [m.sample_scored(n, r) for m, r in zip(self.members, self._per_member(rng),
                                                        strict=True)]
        return torch.cat([x for x, _ in parts]), torch.cat([lg for _, lg in parts])

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [m.score_latent(z[i : i + 1]) for i, m in enumerate(self.members)]
        return torch.cat([x for x, _ in parts]), torch.cat([lg for _, lg in parts])

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.prior_log_prob(z[i : i + 1]) for i, m in enumerate(self.members)])

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return torch.cat([m.score_data(x[i : i + 1], r) for i, (m, r)
                          in enumerate(zip(self.members, self._per_member(rng), strict=True))])


def _slice(batch: Batch, i: int) -> Batch:
    return Batch(batch.x[i : i + 1], None if batch.y is None else batch.y[i : i + 1])
