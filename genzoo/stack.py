"""Several single-seed models presented as one replicated model.

The host trains a model that is not ``vectorized`` for several seeds by stacking one instance
per seed; every caller (trainer, evaluators, compare) then sees the same replica-axis API.
The members run one after another: correct for any model, fast only for vectorized ones.
"""

from __future__ import annotations

import torch
from torch import nn

from genzoo.model import Batch, Model
from genzoo.rng import ReplicaRNG


class ModelStack(Model):
    vectorized = True

    def __init__(self, members: list[Model]):
        nn.Module.__init__()
        first = members[0]
        self.name = first.name
        self.capabilities = first.capabilities
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

    def _each(self, method: str, rng: ReplicaRNG | None, *args: object) -> torch.Tensor:
        rngs = rng.split() if rng is not None else [None] * len(self.members)
        outs = []
        for i, (m, r) in enumerate(zip(self.members, rngs, strict=True)):
            member_args = [a[i : i + 1] if isinstance(a, torch.Tensor) else a for a in args]
            call = getattr(m, method)
            outs.append(call(*member_args, r) if method != "decode" and method != "classify"
                        else call(*member_args))
        return torch.cat(outs)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._each("sample", rng, n)

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._each("encode", rng, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._each("decode", None, z)

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self._each("reconstruct", rng, x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self._each("classify", None, x)


def _slice(batch: Batch, i: int) -> Batch:
    return Batch(batch.x[i : i + 1], None if batch.y is None else batch.y[i : i + 1])
