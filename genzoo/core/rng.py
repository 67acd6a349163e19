"""Per-seed random streams, so that seeds trained together equal seeds trained alone.

Every seed owns independent generators for each purpose ("init", "data", "noise", "eval"),
derived with numpy's SeedSequence. A replicated model draws replica i's noise from seed i's
generator only, so replica i of a vectorized run sees exactly the numbers a single-seed run
with that seed would see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

STREAMS = {"init": 0, "data": 1, "noise": 2, "eval": 3, "heldout": 4,
           "init_extra": 5}  # init_extra: networks a subclass adds (ALICE's D_xx, D_zz)


def derive_seed(seed: int, stream: str) -> int:
    return int(np.random.SeedSequence([int(seed), STREAMS[stream]]).generate_state(1)[0])


class ReplicaRNG:
    """One ``torch.Generator`` per seed; draws are stacked along a leading replica axis."""

    def __init__(self, seeds: Sequence[int], stream: str, device: str | torch.device = "cpu"):
        self.seeds = list(seeds)
        self.stream = stream
        self.device = torch.device(device)
        self.generators = []
        for s in self.seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(derive_seed(s, stream))
            self.generators.append(g)

    @classmethod
    def from_generators(cls, seeds: Sequence[int], stream: str,
                        generators: list[torch.Generator]) -> ReplicaRNG:
        """A view over existing generators (they are shared, not copied)."""
        rng = cls.__new__(cls)
        rng.seeds, rng.stream, rng.generators = list(seeds), stream, list(generators)
        rng.device = generators[0].device
        return rng

    def split(self) -> list[ReplicaRNG]:
        """One single-replica view per seed, sharing this object's generators."""
        return [ReplicaRNG.from_generators([s], self.stream, [g])
                for s, g in zip(self.seeds, self.generators, strict=True)]

    def __len__(self) -> int:
        return len(self.generators)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A tensor of shape ``(replicas, *shape)`` of standard normals."""
        return torch.stack([torch.randn(shape, generator=g, device=self.device, dtype=dtype)
                            for g in self.generators])

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.stack([torch.rand(shape, generator=g, device=self.device, dtype=dtype)
                            for g in self.generators])

    def randint(self, high: int, *shape: int) -> torch.Tensor:
        return torch.stack([torch.randint(high, shape, generator=g, device=self.device)
                            for g in self.generators])

    def get_state(self) -> torch.Tensor:
        """All generators' states as one uint8 tensor ``(replicas, state_bytes)``."""
        return torch.stack([g.get_state() for g in self.generators])

    def set_state(self, state: torch.Tensor) -> None:
        if state.shape[0] != len(self.generators):
            raise ValueError(f"RNG state has {state.shape[0]} replicas, expected "
                             f"{len(self.generators)}")
        for g, s in zip(self.generators, state, strict=True):
            g.set_state(s.clone())
