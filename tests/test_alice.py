"""ALICE: the two conditional-entropy terms on tiny cases, and ALICE at λ = 0 being ALI."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from model_cases import TINY, build, fit_overrides, train

from genzoo import api
from genzoo.core import config as config_lib
from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch, DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo.data.toy import grid25
from genzoo.training.trainer import TrainSettings
from genzoo_plugins.alice.model import ALICE, explicit_term
from genzoo_plugins.common.toy_nets import FourierFeatures

TINY_ALICE = {**TINY, "z_dim": 2}
MNIST = DataSpec("mnist5k", (1, 32, 32), kind="image", num_classes=10)


def _image_alice() -> ALICE:
    config = ALICE.make_config(MNIST, "default", {"z_dim": 4, "image_width": 8})
    return ALICE(config, MNIST, [0])


def _batch(model, n: int = 32) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(torch.randn(model.replicas, n, 2, generator=g))


def test_explicit_term_gradient_reaches_encoder_and_decoder() -> None:
    model = build("alice", [0], {**TINY_ALICE, "lambda_x": 1.0, "lambda_z": 1.0})
    model.train()
    model.pairs(_batch(model).x)
    loss = model.cycle_loss()
    assert loss.shape == (1,) and float(loss.detach()) > 0
    loss.sum().backward()
    for net in (model.encoder, model.decoder):
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    # the term is the generator side's alone: D gets no gradient from it
    assert all(p.grad is None for p in model.discriminator.parameters())


@pytest.mark.parametrize("norm, shifted", [("l2", 0.25 + 0.25), ("l1", 0.5 + 0.5)])
def test_a_perfect_autoencoder_has_zero_explicit_loss(norm: str, shifted: float) -> None:
    model = build("alice", [0], {**TINY_ALICE, "cycle_norm": norm, "lambda_x": 1.0,
                                 "lambda_z": 1.0})
    model.train()
    model._enc = lambda x, rng: x.clone()  # G_z = identity (z_dim = x_dim = 2) ...
    model._dec = lambda z: z.clone()  # ... and G_x = identity: both cycles return exactly
    model.pairs(_batch(model).x)
    assert float(model.cycle_loss().detach()) == 0.0
    model._dec = lambda z: z + 0.5  # a decoder that shifts by 0.5 in both coordinates
    model.pairs(_batch(model).x)
    # each cycle is off by 0.5 in both coordinates: mean 0.5² = 0.25 (l2) or 0.5 (l1)
    assert float(model.cycle_loss().detach()) == pytest.approx(shifted)


def test_explicit_term_is_the_mean_over_values_then_batch() -> None:
    a = torch.zeros(2, 3, 4)
    b = torch.ones(2, 3, 4)
    b[1] *= 2
    b[1, 0] = 0.0  # one example of replica 1 reconstructed exactly
    assert explicit_term(a, b).tolist() == pytest.approx([1.0, 8 / 3])
    assert explicit_term(a, b, "l1").tolist() == pytest.approx([1.0, 4 / 3])
    # pixels on [0, 1] counted on [-1, 1], as in the authors' code: differences double
    assert explicit_term(a, b, "l1", span=2.0).tolist() == pytest.approx([2.0, 8 / 3])


def test_image_alice_weighs_the_authors_l1_on_their_pixel_scale() -> None:
    """On images λ = 1 means the authors' λ·mean|x − x'| with pixels on [-1, 1]."""
    model = _image_alice()
    assert model.cycle_norm == "l1" and model.x_span == 2.0
    assert (model.lambda_x, model.lambda_z) == (1.0, 1.0)
    x = torch.rand(1, 4, 1, 32, 32)
    model.train()
    model.pairs(x)
    parts = model.cycles()
    model.cycles = lambda: parts  # the same cycles (a second pass draws new noise)
    _, x_rec, z, z_rec = parts
    expected = ((2 * x - 1) - (2 * x_rec - 1)).abs().mean() + (z - z_rec).abs().mean()
    assert float(model.cycle_loss().detach()) == pytest.approx(float(expected.detach()),
                                                               rel=1e-5)


@pytest.mark.parametrize("which, trained, held", [
    ("cycle_x_updates", "encoder", "decoder"), ("cycle_x_updates", "decoder", "encoder"),
    ("cycle_z_updates", "encoder", "decoder"), ("cycle_z_updates", "decoder", "encoder")])
def test_a_cycle_trains_only_the_networks_it_names(which: str, trained: str,
                                                    held: str) -> None:
    other = "cycle_z" if which == "cycle_x_updates" else "cycle_x"
    lam = {"lambda_x": 1.0, "lambda_z": 0.0} if other == "cycle_z" else \
        {"lambda_x": 0.0, "lambda_z": 1.0}
    model = build("alice", [0], {**TINY_ALICE, **lam, which: trained})
    model.train()
    model.pairs(_batch(model).x)
    model.cycle_loss().sum().backward()
    grads = {name: [p.grad for p in getattr(model, name).parameters()]
             for name in ("encoder", "decoder", "discriminator")}
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads[trained])
    # (the other cycle, at weight 0, may leave zeros behind)
    assert all(g is None or not g.any() for g in grads[held])
    assert all(g is None for g in grads["discriminator"])


def test_a_run_recorded_when_lambda_weighed_a_sum_keeps_its_loss() -> None:
    """Old runs (no cycle_norm recorded) squared errors summed over the example's values with
    pixels on [0, 1]: upgrade_config rescales λ so the loss is the same number."""
    spec = MNIST
    old = {"z_dim": 4, "lambda_x": 0.05, "lambda_z": 0.05}
    new = ALICE.upgrade_config(dict(old), spec)
    assert new["cycle_norm"] == "l2"
    assert new["cycle_x_updates"] == new["cycle_z_updates"] == "both"  # as they trained
    assert new["lambda_x"] == pytest.approx(0.05 * 32 * 32 / 4)
    assert new["lambda_z"] == pytest.approx(0.05 * 4)
    a, b = torch.rand(1, 5, 1, 32, 32), torch.rand(1, 5, 1, 32, 32)
    summed = (a - b).square().flatten(2).sum(-1).mean(1)  # the old term
    assert float(new["lambda_x"] * explicit_term(a, b, "l2", 2.0)) == pytest.approx(
        float(0.05 * summed), rel=1e-5)
    # λ unset meant 1 then too; a current run and an adversarial one are left alone
    assert ALICE.upgrade_config({"z_dim": 4}, spec)["lambda_z"] == pytest.approx(4.0)
    assert ALICE.upgrade_config(dict(new), spec) == new
    adv = {"conditional_entropy": "adversarial", "lambda_x": 0.1}
    assert ALICE.upgrade_config(dict(adv), spec) == {
        **adv, "cycle_x_updates": "both", "cycle_z_updates": "both"}


def test_an_old_run_directory_loads_with_its_old_loss(tmp_path) -> None:
    registry = plugins.registry()
    session = api.start(registry, "alice", "grid25", out=tmp_path / "run", device="cpu",
                        settings=TrainSettings(steps=2, batch_size=16, log_every=1),
                        overrides=fit_overrides(ALICE, TINY_ALICE))
    session.trainer.fit()
    config_path = tmp_path / "run" / "config.json"
    config = json.loads(config_path.read_text())
    for key in ("cycle_norm", "cycle_x_updates", "cycle_z_updates"):
        config["model_config"].pop(key)
    config["model_config"].update(lambda_x=0.5, lambda_z=None)
    config_path.write_text(json.dumps(config))
    reopened = api.open_run(registry, tmp_path / "run")
    assert session.trainer.step == reopened.trainer.step == 2
    model = reopened.model
    assert (model.cycle_norm, model.lambda_x, model.lambda_z) == ("l2", 0.5 * 2, 1.0 * 2)
    assert model.config.cycle_z_updates == "both"


def _fit_cycle_d(model, a: torch.Tensor, b: torch.Tensor, steps: int = 300) -> float:
    """Trains D_xx on (a, a) against (a, b) and returns its final loss."""
    opt = torch.optim.Adam(model.cycle_d["xx"].parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model.cycle_d_loss("xx", a, b).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float(model.cycle_d_loss("xx", a, b).sum())


def test_adversarial_dxx_reaches_its_closed_form_optimum() -> None:
    """D* = p/(p + q): log 4 (D = 1/2 everywhere) when the reconstructions are the inputs
    themselves, and 0 when every reconstruction pair is told apart from (x, x)."""
    settings = {**TINY_ALICE, "conditional_entropy": "adversarial", "disc_units": 32,
                "dropout_in": 0.0, "dropout_hidden": 0.0, "r1_gamma": 0.0}
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]).repeat(8, 1)[None]
    same = _fit_cycle_d(build("alice", [0], settings), x, x.clone())
    assert same == pytest.approx(math.log(4), abs=1e-3)
    apart = _fit_cycle_d(build("alice", [0], settings), x, -x)
    assert apart < 0.05


def test_adversarial_alice_trains_and_logs_its_discriminators() -> None:
    model = build("alice", [0, 1], {**TINY_ALICE, "conditional_entropy": "adversarial"})
    trainer = train(model, 3)
    metrics = model.train_step(trainer.draw(), 3, 4)
    for key in ("loss_d", "loss_g", "cycle_x", "cycle_z", "loss_dxx", "loss_dzz"):
        assert metrics[key].shape == (2,) and torch.isfinite(metrics[key]).all()
    assert "cycle_discriminators" in model.optimizers()


def test_alice_at_lambda_zero_is_ali() -> None:
    # ALI's networks: without the Fourier features ALICE's toy preset adds
    settings = {**TINY_ALICE, "lambda_x": 0.0, "lambda_z": 0.0, "encoder_fourier": 0,
                "disc_z_fourier": 0}
    ali, alice = build("ali", [0], TINY_ALICE), build("alice", [0], settings)
    train(ali, 6)
    train(alice, 6)
    for (name, p), q in zip(ali.state_dict().items(), alice.state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name


def test_alice_refuses_conditional_and_negative_weights() -> None:
    with pytest.raises(GenzooError, match="unsupervised"):
        build("alice", [0], {**TINY_ALICE, "condition": "labels"})
    with pytest.raises(GenzooError, match=">= 0"):
        build("alice", [0], {**TINY_ALICE, "lambda_x": -1.0})



def test_the_presets_weigh_by_data_kind_and_the_paper_one_is_the_authors_code() -> None:
    toy = build("alice", [0], TINY_ALICE)
    assert (toy.lambda_x, toy.lambda_z, toy.cycle_norm) == (0.02, 0.02, "l2")
    assert toy.config.cycle_z_updates == "encoder"
    assert (toy.config.encoder_fourier, toy.config.disc_z_fourier) == (32, 16)
    image = _image_alice()
    assert (image.lambda_x, image.lambda_z, image.cycle_norm) == (1.0, 1.0, "l1")
    paper = ALICE.make_config(MNIST, "paper")
    assert (paper.cycle_x_updates, paper.cycle_z_updates) == ("both", "both")


def test_toy_fourier_features_of_x_for_g_z_and_of_z_for_d() -> None:
    """ALICE's toy preset gives G_z features of x and D features of z; D's gradient still
    reaches z through them (the encoder learns from it), and a run recorded before the
    fields existed (no key) rebuilds without them."""
    model = build("alice", [0], TINY_ALICE)
    assert isinstance(model.encoder.net[0], FourierFeatures)
    assert model.encoder.net[0].freqs.shape == (1, 2, 32)
    assert model.discriminator.embed_z.out_dim == 2 + 2 * 16
    z = torch.randn(1, 8, 2, requires_grad=True)
    x = torch.randn(1, 8, 2)
    model.discriminator(torch.cat([x, z], -1)).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    train(model, 2)  # R1's double backward goes through both feature maps
    recorded = {k: v for k, v in vars(model.config).items()
                if k not in ("encoder_fourier", "encoder_fourier_scale", "disc_z_fourier",
                             "disc_z_fourier_scale")}
    spec = grid25().spec  # as api.open_run rebuilds a run: the recorded fields over the field
    old = ALICE(config_lib.from_dict(ALICE.Config, recorded), spec, [0])  # defaults
    assert not isinstance(old.encoder.net[0], FourierFeatures)
    assert old.discriminator.embed_z is None


def test_the_z_cycle_leaves_g_z_running_statistics_to_real_x() -> None:
    """G_z's pass over G_x(z) in the z-cycle normalises by its batch but does not move G_z's
    BatchNorm running statistics: after a step they are those of the real batch alone."""
    model = build("alice", [0], TINY_ALICE)
    batch = _batch(model)
    reference = copy.deepcopy(model.encoder).train()
    with torch.no_grad():
        reference(batch.x, ReplicaRNG([0], "eval"))
    model.train()
    model.train_step(batch, 1, 10)
    buffers = dict(model.encoder.named_buffers())
    assert any("running_mean" in name for name in buffers)
    for name, expected in reference.named_buffers():
        assert torch.allclose(buffers[name], expected), name
