"""The `reconstruction` evaluator: known answers, the PNG layout, refusals, the CLI path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from host_helpers import run_cli, use_registry
from image_helpers import Constant, Identity, ImagePlugin, NoConfig, TinyAE, TinyAEConfig
from torchvision.io import read_image

from genzoo.core.errors import GenzooError
from genzoo.data.packaged import digits
from genzoo.data.toy import grid25
from genzoo.evaluators.reconstruction import (
    Reconstruction,
    derangement,
    heldout_images,
    heldout_indices,
    reconstruction_scores,
)
from genzoo.testing import check_evaluator
from genzoo.training.stack import ModelStack


@pytest.fixture(scope="module")
def data():
    return digits()


class Inverter(Identity):
    """Reconstructs 1 - x: every pixel off by |1 - 2x|, and distinguishable in a PNG."""

    name = "inverter"

    def reconstruct(self, x, rng=None):
        return 1 - x


def test_identity_scores_zero_on_every_replica(data, tmp_path):
    res = Reconstruction().evaluate(Identity(NoConfig(), data.spec, [0, 1, 2]), data,
                                    out_dir=tmp_path)
    assert res.metrics == {"reconstruction_mse": [0.0] * 3,
                           "reconstruction_normalized": [0.0] * 3}
    assert sorted(res.artifacts) == [f"reconstructions-seed{s}" for s in range(3)]


def test_input_blind_reconstructions_score_one(data):
    """A reconstruction that ignores its input is as far from its own image as from another:
    with a permutation the two sums hold the same terms, so a constant scores exactly 1."""
    x = heldout_images(data, 1000)
    res = Reconstruction().evaluate(Constant(NoConfig(), data.spec, [0, 1]), data)
    assert res.metrics["reconstruction_normalized"] == pytest.approx([1.0, 1.0], abs=1e-12)
    expected = float((x.double() - 0.4).square().mean())  # the model's 0.4 is a float32
    assert res.metrics["reconstruction_mse"] == pytest.approx([expected] * 2, rel=1e-6)


def test_scores_are_per_replica_with_a_ratio_of_sums():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]).reshape(3, 1, 1, 2)
    rec = torch.stack([x, x + 0.5])  # replica 0 perfect, replica 1 off by 0.5 everywhere
    other = torch.tensor([[1, 2, 0], [1, 2, 0]])
    scores = reconstruction_scores(x, rec, other)
    assert scores["reconstruction_mse"].tolist() == pytest.approx([0.0, 0.25])
    # replica 1: own error 3 * 2 * 0.25 = 1.5; against the next image: x+0.5 vs x[other]
    against = ((x + 0.5) - x[other[1]]).square().sum()
    assert scores["reconstruction_normalized"][1] == pytest.approx(1.5 / float(against))


def test_derangement_moves_every_index():
    g = torch.Generator().manual_seed(3)
    for n in (2, 3, 10, 101):
        p = derangement(n, g)
        assert sorted(p.tolist()) == list(range(n))
        assert not (p == torch.arange(n)).any()


def test_heldout_images_are_fixed_distinct_and_whole_split_when_small(data):
    test_x, _ = data.examples("test")
    a, b = heldout_images(data, 50), heldout_images(data, 50)
    assert torch.equal(a, b) and len(a) == 50
    assert len({tuple(v.flatten().tolist()) for v in (a * 255).round()}) >= 45  # few twins
    assert not torch.equal(a, heldout_images(data, 50, seed=1))
    whole = heldout_images(data, 10_000)
    assert torch.equal((whole * 255).round().to(torch.uint8), test_x)


def test_png_in_the_papers_layout(data, tmp_path):
    """Odd columns (1st, 3rd, ...) hold originals, even columns their reconstructions."""
    pairs = 12
    res = Reconstruction(grid_pairs=pairs).evaluate(Inverter(NoConfig(), data.spec, [0]),
                                                    data, out_dir=tmp_path)
    png = read_image(res.artifacts["reconstructions-seed0"]).float() / 255  # (1, H', W')
    scored = heldout_images(data, 1000)
    x = scored[heldout_indices(len(scored), pairs)]  # a spread of the scored images
    assert len(set(x.flatten(1).sum(1).tolist())) > 1
    per_row, pad, side = 10, 2, 8  # 10 pairs a row, torchvision's 2-pixel padding
    for k in range(pairs):
        row, pair = divmod(k, per_row)
        top = pad + row * (side + pad)
        for col, want in ((2 * pair, x[k]), (2 * pair + 1, 1 - x[k])):
            left = pad + col * (side + pad)
            cell = png[:, top:top + side, left:left + side]
            assert torch.allclose(cell, want, atol=1 / 255 + 1e-6), (k, col)
    assert png.shape[-1] == pad + 2 * per_row * (side + pad)


def test_refuses_toy_data_and_models_that_cannot_reconstruct(data):
    toy = grid25()
    with pytest.raises(GenzooError, match="scores image datasets.*inference"):
        Reconstruction().check(Identity(NoConfig(), toy.spec, [0]), toy)

    class EncoderOnly(Identity):
        name = "encoder-only"
        capabilities = frozenset({"encode"})

    reason = Reconstruction().missing(EncoderOnly(NoConfig(), data.spec, [0]), data)
    assert reason == "reconstruction needs a model that can reconstruct; encoder-only cannot"


def test_wrong_output_shape_is_one_line(data):
    class Shrinks(Identity):
        name = "shrinks"

        def reconstruct(self, x, rng=None):
            return x[..., :4, :4]

    with pytest.raises(GenzooError, match=r"reconstruct returned shape \(1, 250, 1, 4, 4\)"):
        Reconstruction().evaluate(Shrinks(NoConfig(), data.spec, [0]), data)


@pytest.fixture
def registry(monkeypatch):
    reg = use_registry(monkeypatch, [("tiny-images", ImagePlugin)])
    return reg


def test_cli_evaluates_a_run_and_refuses_a_sampler_in_one_line(registry, tmp_path: Path,
                                                               capsys):
    ae, sampler = tmp_path / "ae", tmp_path / "sampler"
    for model, out in (("tiny-ae", ae), ("mean-image", sampler)):
        assert run_cli(["train", model, "--dataset", "digits", "--steps", "5", "--out",
                        str(out), "--no-progress"]) == 0
    capsys.readouterr()

    assert run_cli(["evaluate", str(ae), "--metric", "reconstruction",
                    "--metric", "interpolation"]) == 0
    results = json.loads((ae / "results.json").read_text())["evaluators"]
    assert set(results["reconstruction"]["metrics"]) == set(Reconstruction.metrics)
    for ev in ("reconstruction", "interpolation"):
        for path in results[ev]["artifacts"].values():
            assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reconstruction_mse" in capsys.readouterr().out

    assert run_cli(["evaluate", str(sampler), "--metric", "reconstruction"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "reconstruction needs a model that can reconstruct; mean-image cannot" in err


def test_conforms_on_a_stacked_tiny_autoencoder(data):
    model = ModelStack([TinyAE(TinyAEConfig(), data.spec, [s]) for s in (0, 1)])
    result = check_evaluator(Reconstruction, model, data, options={"heldout": 100})
    assert set(result.metrics) == set(Reconstruction.metrics)
