"""Seeds trained together (one vectorized model) equal each seed trained alone."""

from __future__ import annotations

import pytest
import torch
from model_cases import BUNDLED, TINY_DEFAULTLIKE, TINY_PAPERLIKE, build, train


def replica(state: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    return {k: v[i] for k, v in state.items()}


@pytest.mark.parametrize("settings", [TINY_PAPERLIKE, TINY_DEFAULTLIKE],
                         ids=["paperlike", "defaultlike"])
@pytest.mark.parametrize("name", BUNDLED)
def test_replica_equals_single_seed_run(name: str, settings: dict) -> None:
    # 8 steps with encoder_fraction 0.5 runs both phases of the two-phase models
    overrides = {**settings, "encoder_fraction": 0.5}
    together = build(name, [0, 1, 2], overrides)
    alone = build(name, [1], overrides)
    train(together, steps=8)
    train(alone, steps=8)
    a, b = together.state_dict(), alone.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key][1], b[key][0], rtol=1e-4, atol=1e-5), key
    # the replicas really are different networks (distinct seeds, distinct weights)
    some = next(k for k in a if k.endswith("weight"))
    assert not torch.allclose(a[some][0], a[some][1])
    # and they sample what the single-seed run samples, from the same eval stream
    from genzoo.core.rng import ReplicaRNG

    with torch.no_grad():
        xs = together.sample(64, ReplicaRNG([0, 1, 2], "eval"))
        x1 = alone.sample(64, ReplicaRNG([1], "eval"))
    assert torch.allclose(xs[1], x1[0], rtol=1e-4, atol=1e-4)
