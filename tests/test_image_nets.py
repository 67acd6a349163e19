"""The image networks: each paper table's shapes, the SVM features, presets and refusals."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import image_specs
from genzoo_plugins.common.image_specs import TABLES

EVAL = lambda seeds=(0,): ReplicaRNG(list(seeds), "eval")  # noqa: E731


def build(name: str, data: DataSpec, preset: str = "default", seeds=(0,), **overrides):
    cls = plugins.registry().model(name)
    return cls(cls.make_config(data, preset, overrides), data, list(seeds))


def spec_of(table: str) -> DataSpec:
    size = TABLES[table].size
    return DataSpec(table, (3, size, size), kind="image", num_classes=10)


# printed sizes: spatial size after each hidden layer of G_z, and the feature vector's length
HIDDEN_SIZES = {"cifar10": [28, 13, 10, 4, 1, 1], "svhn": [28, 13, 10, 4, 1, 1],
                "celeba": [63, 29, 13, 4, 1], "tinyimagenet64": [31, 28, 13, 10, 4, 1, 1, 1]}


@pytest.mark.parametrize("table", list(TABLES))
def test_paper_table_networks_have_the_printed_shapes(table: str) -> None:
    spec, data = TABLES[table], spec_of(table)
    model = build("ali", data, "paper").eval()
    assert model.config.image_net == table and model.config.z_dim == spec.z_dim
    x = torch.rand(1, 2, *data.x_shape)
    with torch.no_grad():
        z = model.encode(x, EVAL())
        xs = model.decode(z)
        logits = model.discriminator(torch.cat([x.flatten(2), z], dim=-1))
        feats = model.features(x)
    assert z.shape == (1, 2, spec.z_dim)
    assert xs.shape == (1, 2, 3, spec.size, spec.size) and 0 <= xs.min() and xs.max() <= 1
    assert logits.shape == (1, 2, 1)
    # G_z's 1×1 output is the Gaussian's (mean, log sigma); Tables 3, 4 and 6 print 2·z_dim
    net = model.encoder.nets[0]
    assert net.trunk.blocks[-1].conv.out_channels == 2 * spec.z_dim
    if table != "celeba":
        assert spec.encoder[-1].channels == 2 * spec.z_dim
    # the valid convolutions' sizes, and features = mean + every hidden layer pooled to 4×4
    sizes, size = [], spec.size
    for layer in spec.encoder[:-1]:
        size = layer.out_size(size)
        sizes.append(size)
    assert sizes == HIDDEN_SIZES[table]
    pooled = sum(layer.channels * min(s, 4) ** 2
                 for layer, s in zip(spec.encoder[:-1], sizes, strict=True))
    assert feats.shape == (1, 2, spec.z_dim + pooled)
    # D(x, z)'s input is D(x)'s maps plus D(z)'s
    d = model.discriminator.nets[0]
    assert d.head.blocks[0].conv.in_channels == spec.disc_x[-1].channels + spec.disc_z[-1].channels
    # the printed initialisation: N(0, 0.01) weights
    w = net.trunk.blocks[1].conv.weight
    assert abs(w.std().item() - 0.01) < 0.001
    if table == "svhn":
        # 256 (mean) + 32·16 + 64·16 + 128·16 + 256·16 (pooled to 4×4) + 512 + 512
        assert feats.shape[-1] == 8960
        with torch.no_grad():
            assert torch.equal(feats[..., :256], model.encoder.posterior(x)[0])
        # the GAN's D(x) (the joint head on D(x) alone) gives one logit too
        gan = build("gan", data, "paper").eval()
        with torch.no_grad():
            assert gan.discriminator(x.flatten(2)).shape == (1, 2, 1)
            assert gan.sample(2, EVAL()).shape == (1, 2, 3, 32, 32)


def test_table3_maxout_units_are_the_printed_feature_maps() -> None:
    model = build("ali", spec_of("cifar10"), "paper")
    d = model.discriminator.nets[0]
    first = d.disc_x.blocks[0]
    assert first.conv.out_channels == 2 * 32 and first.act == "maxout" and first.pieces == 2
    assert d.head.blocks[0].conv.in_channels == 1024  # as printed: 512 + 512
    assert first.drop.p == 0.2 and d.disc_x.blocks[1].drop.p == 0.5
    assert all(b.bn is None for b in d.disc_x.blocks)  # Table 3's D has no BatchNorm


def test_paper_presets_hold_the_printed_settings() -> None:
    ali = plugins.registry().model("ali")
    for table in TABLES.values():
        c = ali.make_config(spec_of(table.name), "paper")
        assert (c.lr, c.beta1, c.batch_size, c.init_std) == (1e-4, 0.5, table.batch_size, 0.01)
        assert c.beta2 == (0.999 if table.name == "celeba" else 1e-3)  # as printed
        assert c.update_order == "d_then_g" and c.d_steps == 1 and c.instance_noise == 0
    svhn = ali.make_config(spec_of("svhn"), "paper")
    assert svhn.steps == 100 * 733  # 100 epochs of 73,257 images at batch 100
    # `default` on a dataset with a table is the table; elsewhere the small generic net
    assert ali.make_config(spec_of("svhn")) == svhn
    mnist = DataSpec("mnist5k", (1, 32, 32), kind="image", num_classes=10)
    small = ali.make_config(mnist)
    assert (small.image_net, small.image_width, small.z_dim, small.lr) == ("dcgan", 32, 64, 2e-4)
    assert ali.make_config(mnist, "paper").image_width == 64
    bigan = plugins.registry().model("bigan")
    assert bigan.make_config(mnist).encoder == "deterministic"
    assert bigan.make_config(spec_of("svhn"), "paper").encoder == "deterministic"
    vae = plugins.registry().model("vae").make_config(mnist)
    assert (vae.lr, vae.beta1) == (1e-3, 0.9) and not hasattr(vae, "update_order")


def test_toy_presets_are_unchanged() -> None:
    from genzoo.data.toy import grid25
    from genzoo_plugins.ali.model import PAPER_TOY

    for name in ("ali", "bigan", "gan", "gan-inverse", "gan-posthoc", "vae"):
        cls = plugins.registry().model(name)
        assert cls.make_config(grid25().spec) == cls.Config(), name
    ali = plugins.registry().model("ali")
    paper = ali.make_config(grid25().spec, "paper")
    assert all(getattr(paper, k) == v for k, v in PAPER_TOY.items())


def test_generic_network_fits_any_image_size() -> None:
    for shape in [(1, 25, 25), (1, 8, 8), (3, 20, 12), (1, 28, 28), (1, 33, 10)]:
        data = DataSpec("folder:x", shape, kind="image")
        model = build("ali", data, image_width=4, z_dim=3).eval()
        x = torch.rand(1, 5, *shape)
        with torch.no_grad():
            assert model.sample(5, EVAL()).shape == (1, 5, *shape)
            assert model.reconstruct(x, EVAL()).shape == (1, 5, *shape)
    # the smallest b·2^k (b in 4..7) holding the larger side: 28×28 digits need no padding
    assert image_specs.canvas(28, 28) == 28 and image_specs.canvas(8, 8) == 8
    assert image_specs.canvas(25, 25) == 28 and image_specs.canvas(33, 10) == 40
    assert image_specs.canvas(32, 32) == 32 and image_specs.canvas(20, 12) == 20


def test_toy_features_are_mean_and_hidden_layers() -> None:
    from genzoo.data.toy import grid25

    data = grid25().spec
    model = build("ali", data).eval()
    c = model.config
    with torch.no_grad():
        f = model.features(torch.randn(1, 7, 2))
        mu, _ = model.encoder.posterior(torch.randn(1, 7, 2))
    assert f.shape == (1, 7, c.z_dim + c.encoder_hidden * c.encoder_layers)
    x = torch.randn(1, 7, 2)
    with torch.no_grad():
        assert torch.allclose(model.features(x)[..., : c.z_dim], model.encoder.posterior(x)[0])


def test_vae_on_images_is_bernoulli() -> None:
    data = DataSpec("digits", (1, 8, 8), kind="image")
    model = build("vae", data, image_width=4, z_dim=3).eval()
    x = torch.rand(1, 4, 1, 8, 8)
    z = torch.randn(1, 4, 3)
    with torch.no_grad():
        p = model.decode(z)
        want = -(x * p.log() + (1 - x) * (1 - p).log())
        assert torch.allclose(model.nll(x, z), want, atol=1e-5)


def test_bad_image_settings_are_one_line_errors() -> None:
    digits = DataSpec("digits", (1, 8, 8), kind="image")
    with pytest.raises(GenzooError, match="takes 32×32 images.*image_net=dcgan"):
        build("ali", digits, image_net="svhn")
    with pytest.raises(GenzooError, match="noise_input is the toy"):
        build("ali", digits, encoder="noise_input")
    small = DataSpec("folder:x", (1, 16, 16), kind="image")  # D(x): 2 layers, BN in the 2nd
    with pytest.raises(GenzooError, match="simultaneous.*BatchNorm.*d_then_g"):
        build("gan", small, update_order="simultaneous", image_width=4)
    # without BatchNorm in D the simultaneous order is fine
    build("gan", small, update_order="simultaneous", image_disc_bn="none", image_width=4)


def test_image_config_fields_are_one_group() -> None:
    from genzoo_plugins.common.config import ImageFields

    names = {f.name for f in dataclasses.fields(ImageFields)}
    for name in ("ali", "bigan", "gan", "gan-inverse", "gan-posthoc", "vae"):
        fields = {f.name for f in dataclasses.fields(plugins.registry().model(name).Config)}
        assert names <= fields


def test_split_batchnorm_judges_real_and_fake_halves_apart() -> None:
    small = DataSpec("folder:x", (1, 16, 16), kind="image")
    real, fake = torch.rand(1, 6, 256), torch.rand(1, 6, 256) * 0.5
    no_dropout = {"image_width": 4, "z_dim": 3, "dropout_in": 0.0, "dropout_hidden": 0.0}
    split = build("gan", small, **no_dropout).discriminator.train()
    both = torch.cat([real, fake], dim=1)
    net = split.nets[0]  # judge(): one BatchNorm batch
    halves = torch.cat([net.judge(real[0]), net.judge(fake[0])])[None]
    assert torch.allclose(split(both), halves, atol=1e-6)
    joint = build("gan", small, **no_dropout, image_disc_bn="joint").discriminator
    assert not torch.allclose(joint.train()(both), halves, rtol=1e-2, atol=0)
    # in eval mode BatchNorm uses its running statistics: no batch coupling either way
    joint.eval()
    assert torch.allclose(joint(both), torch.cat([joint(real), joint(fake)], dim=1), atol=1e-6)
