"""The `interpolation` evaluator: exact ends, linearity in z, the smoothness number, the PNG
in Figure 6's layout, refusals."""

from __future__ import annotations

import pytest
import torch
from image_helpers import Identity, MeanImage, NoConfig, TinyAE, TinyAEConfig
from torchvision.io import read_image

from genzoo.core.errors import GenzooError
from genzoo.data.packaged import digits
from genzoo.data.toy import grid25
from genzoo.evaluators.base import eval_rng
from genzoo.evaluators.interpolation import (
    Interpolation,
    interpolate,
    interpolation_paths,
    interpolation_scores,
)
from genzoo.evaluators.reconstruction import heldout_images
from genzoo.testing import check_evaluator
from genzoo.training.stack import ModelStack


@pytest.fixture(scope="module")
def data():
    return digits()


def pairs(data, n=6):
    x = heldout_images(data, 2 * n, seed=1)  # what the evaluator picks with seed 0
    return x[:n], x[n:]


def test_interpolate_has_exact_ends_and_even_steps():
    z1, z2 = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    path = interpolate(z1, z2, 7)
    assert path.shape == (2, 3, 7, 5)
    assert torch.equal(path[:, :, 0], z1) and torch.equal(path[:, :, -1], z2)
    assert torch.allclose(path[:, :, 3], (z1 + z2) / 2, atol=1e-6)
    steps = path.diff(dim=2)
    assert torch.allclose(steps, steps[:, :, :1].expand_as(steps), atol=1e-5)


def test_identity_paths_are_pixel_blends_scoring_exact_ends_and_even_steps(data):
    x1, x2 = pairs(data)
    model = Identity(NoConfig(), data.spec, [0, 1])
    paths = interpolation_paths(model, x1, x2, eval_rng(model), steps=10)
    assert paths.shape == (2, 6, 10, 1, 8, 8)
    t = torch.linspace(0, 1, 10).reshape(1, 10, 1, 1, 1)
    assert torch.allclose(paths[0], (1 - t) * x1[:, None] + t * x2[:, None], atol=1e-6)
    res = Interpolation(pairs=6).evaluate(model, data)
    assert res.metrics["interpolation_endpoint_mse"] == [0.0, 0.0]
    assert res.metrics["interpolation_largest_step"] == pytest.approx([1 / 9] * 2, rel=1e-5)


def test_a_stacked_linear_autoencoder_decodes_linearly_in_z_with_its_reconstructions_at_the_ends(
        data):
    """A model that is not vectorized, stacked for two seeds: each replica's end decodes are
    its own reconstructions of x1 and x2, and the decodes in between are linear in t."""
    model = ModelStack([TinyAE(TinyAEConfig(), data.spec, [s]) for s in (0, 1)])
    x1, x2 = pairs(data)
    with torch.no_grad():
        paths = interpolation_paths(model, x1, x2, eval_rng(model), steps=9)
        both = torch.cat([x1, x2]).expand(2, 12, 1, 8, 8)
        rec = model.reconstruct(both)
    assert torch.allclose(paths[:, :, 0], rec[:, :6], atol=1e-5)
    assert torch.allclose(paths[:, :, -1], rec[:, 6:], atol=1e-5)
    t = torch.linspace(0, 1, 9).reshape(1, 1, 9, 1, 1, 1)
    blend = (1 - t) * paths[:, :, :1] + t * paths[:, :, -1:]
    assert torch.allclose(paths, blend, atol=1e-5)
    assert not torch.allclose(paths[0], paths[1])  # two seeds, two different models
    res = Interpolation(pairs=6, steps=9).evaluate(model, data)
    expected = float((rec.double() - torch.cat([x1, x2]).double()).square().mean((1, 2, 3, 4))[0])
    assert res.metrics["interpolation_endpoint_mse"][0] == pytest.approx(expected, rel=1e-5)
    assert res.metrics["interpolation_largest_step"] == pytest.approx([1 / 8] * 2, rel=1e-4)


def test_largest_step_is_one_for_a_jump_and_even_for_no_change():
    x1, x2 = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    jump = torch.stack([x1] * 3 + [x2] * 3, 1).unsqueeze(0)  # (1, P=2, steps=6, ...)
    flat = torch.zeros(1, 2, 6, 1, 2, 2)
    assert interpolation_scores(x1, x2, jump)["interpolation_largest_step"].tolist() == [1.0]
    scores = interpolation_scores(x1, x2, flat)
    assert scores["interpolation_largest_step"].tolist() == pytest.approx([0.2])
    assert scores["interpolation_endpoint_mse"].tolist() == [0.5]  # x2's end is off by 1


def test_png_in_figure_6_layout(data, tmp_path):
    """A row per pair: x1, the decodes, x2."""
    model = Identity(NoConfig(), data.spec, [0])
    steps, n = 5, 3
    res = Interpolation(pairs=n, steps=steps).evaluate(model, data, out_dir=tmp_path)
    png = read_image(res.artifacts["interpolations-seed0"]).float() / 255
    pad, side, cols = 2, 8, steps + 2
    assert png.shape[-2:] == (pad + n * (side + pad), pad + cols * (side + pad))
    x1, x2 = pairs(data, n)
    for row in range(n):
        t = torch.linspace(0, 1, steps)
        want = [x1[row], *((1 - s) * x1[row] + s * x2[row] for s in t), x2[row]]
        for col, image in enumerate(want):
            top, left = pad + row * (side + pad), pad + col * (side + pad)
            cell = png[:, top:top + side, left:left + side]
            assert torch.allclose(cell, image, atol=1 / 255 + 1e-6), (row, col)


def test_refuses_models_without_an_encoder_toy_data_and_bad_options(data):
    reason = Interpolation().missing(MeanImage(MeanImage.Config(), data.spec, [0]), data)
    assert reason == "interpolation needs a model that can encode; mean-image cannot"
    toy = grid25()
    assert "scores image datasets" in Interpolation().missing(
        Identity(NoConfig(), toy.spec, [0]), toy)
    with pytest.raises(GenzooError, match=r"interpolation: option steps=1 is not valid; "
                                          r"it takes an integer in 2\.\.10000000"):
        Interpolation(steps=1).evaluate(Identity(NoConfig(), data.spec, [0]), data)


def test_conforms_on_a_stacked_tiny_autoencoder(data):
    model = ModelStack([TinyAE(TinyAEConfig(), data.spec, [s]) for s in (0, 1)])
    result = check_evaluator(Interpolation, model, data)
    assert set(result.metrics) == set(Interpolation.metrics)
