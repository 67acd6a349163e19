"""The moving average of G_x and G_z (``ema_decay``): training untouched, the average itself,
evaluation through it, checkpoints and the conformance kit."""

from __future__ import annotations

import pytest
import torch
from model_cases import TINY_DEFAULTLIKE, TINY_PAPERLIKE, assert_trains_alike, build, train

from genzoo.core import plugins
from genzoo.core.rng import ReplicaRNG
from genzoo.testing import MODEL_CHECKS, check_model


@pytest.mark.parametrize("settings", [TINY_DEFAULTLIKE, TINY_PAPERLIKE])
def test_the_average_leaves_training_as_it_was(settings: dict) -> None:
    assert_trains_alike(settings, {**settings, "ema_decay": 0.9}, 5, "ema.")


def test_the_average_is_the_exponential_moving_average_of_the_weights() -> None:
    model = build("ali", [0], {**TINY_DEFAULTLIKE, "ema_decay": 0.5})
    start = {n: p.detach().clone() for n, p in model.decoder.named_parameters()}
    history = [start]
    trainer = train(model, 1)
    for _ in range(2):
        history.append({n: p.detach().clone() for n, p in model.decoder.named_parameters()})
        model.train()
        model.train_step(trainer.draw(), 0, 4)
    history.append({n: p.detach().clone() for n, p in model.decoder.named_parameters()})
    # avg_0 = w_0; avg_k = 0.5 avg_{k-1} + 0.5 w_k after each of the 3 steps
    for name, avg in model.ema["decoder"].named_parameters():
        expected = history[0][name]
        for w in history[1:]:
            expected = 0.5 * expected + 0.5 * w[name]
        torch.testing.assert_close(avg, expected)


def test_evaluation_goes_through_the_average_and_training_does_not() -> None:
    model = build("ali", [0], {**TINY_DEFAULTLIKE, "ema_decay": 0.9})
    train(model, 4)
    model.eval()
    with torch.no_grad():
        for p in model.ema["decoder"].parameters():
            p.zero_()  # a decoder of zeros (biases too) gives x = 0 ...
        assert model.sample(8, ReplicaRNG([0], "eval")).abs().max() == 0
        model.train()  # ... but training still uses the trained decoder
        assert model._dec(torch.randn(1, 8, 2)).abs().max() > 0


def test_averaged_models_conform_on_images() -> None:
    digits = plugins.registry().dataset("digits")
    cls = plugins.registry().model("ali")
    assert check_model(cls, digits, {"image_width": 4, "z_dim": 4, "ema_decay": 0.9}) == \
        list(MODEL_CHECKS)
