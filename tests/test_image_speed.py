"""The image networks' fast paths compute what the plain layers compute: convolutions as
matrix products, channels-last feature maps, 16-bit dropout masks; and bf16 autocast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from host_helpers import run_cli

from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo.training.trainer import Numerics, Trainer, TrainSettings
from genzoo_plugins.common import image_specs
from genzoo_plugins.common.image_nets import Block, EncoderNet, keep_mask
from genzoo_plugins.common.image_specs import Layer

SVHN = image_specs.SVHN


def block(layer: Layer, cin: int, cout: int) -> Block:
    gen = torch.Generator().manual_seed(0)
    b = Block(layer, cin, cout, SVHN, 0.1, 0.1, gen, ReplicaRNG([0], "noise"))
    if b.conv.bias is not None:
        with torch.no_grad():
            b.conv.bias.normal_(generator=gen)  # zero at init: give it something to add
    return b.eval()


@pytest.mark.parametrize("layer, cin, cout, size", [
    (Layer("conv", 4, 1, 8, False, 0.0, "linear"), 6, 8, 4),    # kernel covers the input
    (Layer("conv", 4, 2, 8, True, 0.0, "linear"), 6, 8, 4),     # ... strided, no bias
    (Layer("conv", 1, 1, 8, False, 0.0, "linear"), 6, 8, 1),    # 1×1 on 1×1
    (Layer("convT", 4, 1, 8, False, 0.0, "linear"), 6, 8, 1),   # transposed, from 1×1
    (Layer("convT", 4, 2, 8, True, 0.0, "linear"), 6, 8, 1),
])
def test_convolutions_taken_as_matrix_products_match_the_convolution(layer, cin, cout,
                                                                     size) -> None:
    b = block(layer, cin, cout)
    x = torch.randn(5, cin, size, size, requires_grad=True)
    assert b._is_matmul(x)
    y = b.pre(x)
    conv = b.conv
    ref = conv._conv_forward(x, conv.weight, conv.bias) if layer.op == "conv" else conv(x)
    if b.bn is not None:
        ref = b.bn(ref)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, conv.weight], g)
    ref_grads = torch.autograd.grad(ref, [x, conv.weight], g)
    for a, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5)


def test_spatial_convolutions_stay_convolutions() -> None:
    b = block(Layer("conv", 4, 2, 8, False, 0.0, "linear"), 3, 8)
    assert not b._is_matmul(torch.randn(2, 3, 10, 10))
    assert not block(Layer("convT", 4, 2, 8, False, 0.0, "linear"), 3, 8)._is_matmul(
        torch.randn(2, 3, 4, 4))


def test_table4_encoder_equals_plain_nchw_layers() -> None:
    """The whole SVHN G_z (channels-last maps, matrix-product layers) against the same weights
    run through plain NCHW convolutions, BatchNorm and leaky ReLU."""
    data = DataSpec("svhn", (3, 32, 32), kind="image")
    cls = plugins.registry().model("ali")
    c = cls.make_config(data, "default")
    net = cls(c, data, [0]).encoder.nets[0].eval()
    assert isinstance(net, EncoderNet)
    x = torch.rand(4, 3, 32, 32)
    h = x
    for blk in net.trunk.blocks:
        h = F.conv2d(h.contiguous(), blk.conv.weight, blk.conv.bias, blk.conv.stride)
        if blk.bn is not None:
            h = F.batch_norm(h, blk.bn.running_mean, blk.bn.running_var, blk.bn.weight,
                             blk.bn.bias, False)
        h = F.leaky_relu(h, SVHN.slope) if blk.act == "lrelu" else h
    with torch.no_grad():
        torch.testing.assert_close(net(x), h.flatten(1), rtol=1e-4, atol=1e-5)


def test_keep_masks_drop_at_rate_p_in_the_input_layout() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.empty(50, 16, 30, 30).contiguous(memory_format=torch.channels_last)
    keep = keep_mask(x, 0.2, g)
    assert keep.dtype == torch.bool and keep.shape == x.shape
    assert keep.stride() == x.stride()  # laid out like x: no copy when multiplying
    assert abs(1 - keep.float().mean().item() - 0.2) < 0.002  # 720,000 draws: ~5 sd
    # per channel too: the 16-bit cut does not favour any position in a 64-bit draw
    per_channel = 1 - keep.float().mean((0, 2, 3))
    assert (per_channel - 0.2).abs().max() < 0.01
    again = keep_mask(x, 0.2, torch.Generator().manual_seed(1))
    assert torch.equal(keep, again)
    assert not torch.equal(keep, keep_mask(x, 0.2, g))  # the stream moved on
    odd = keep_mask(torch.empty(3, 7), 0.5, g)  # numel not a multiple of 4
    assert odd.shape == (3, 7)


def test_bf16_autocast_trains_images_and_keeps_fp32_state() -> None:
    digits = plugins.registry().dataset("digits")
    cls = plugins.registry().model("ali")
    config = cls.make_config(digits.spec, overrides={"image_width": 4, "z_dim": 4})

    def trained(precision: str):
        model = cls(config, digits.spec, [0])
        settings = TrainSettings(steps=3, batch_size=16, log_every=1, checkpoint_every=0,
                                 precision=precision)
        Trainer(model, digits, settings).fit()
        return model

    fp32, bf16 = trained("fp32"), trained("bf16")
    weights = bf16.state_dict()
    assert all(v.dtype in (torch.float32, torch.int64) for v in weights.values())
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    key = "decoder.nets.0.trunk.blocks.0.conv.weight"
    assert not torch.equal(fp32.state_dict()[key], weights[key])  # autocast took effect
    torch.testing.assert_close(fp32.state_dict()[key], weights[key], rtol=0.1, atol=1e-3)
    with torch.no_grad():
        assert bf16.eval().sample(4, ReplicaRNG([0], "eval")).dtype == torch.float32


def test_precision_is_checked() -> None:
    with pytest.raises(GenzooError, match="--precision must be one of fp32, tf32, bf16"):
        TrainSettings(precision="fp16").validate()
    toy = plugins.registry().dataset("grid25")
    cls = plugins.registry().model("gan")
    model = cls(cls.make_config(toy.spec), toy.spec, [0])
    with pytest.raises(GenzooError, match="bf16 is for image data"):
        Trainer(model, toy, TrainSettings(steps=1, precision="bf16"))
    with pytest.raises(GenzooError, match="tf32 is for CUDA GPUs"):
        Trainer(model, toy, TrainSettings(steps=1, precision="tf32"), device="cpu")


@pytest.mark.filterwarnings("ignore::UserWarning")  # autocast names a CUDA it does not find
def test_on_cuda_tf32_is_on_only_under_tf32_and_restored_after() -> None:
    flags = lambda: (torch.backends.cuda.matmul.allow_tf32,  # noqa: E731
                     torch.backends.cudnn.allow_tf32)
    before = flags()
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with Numerics("fp32", torch.device("cuda")):
            assert flags() == (False, False)  # fp32 means fp32, whatever torch's default
        assert flags() == (True, True)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        with Numerics("tf32", torch.device("cuda")):
            assert flags() == (True, True)
        assert flags() == (False, False)
        with Numerics("tf32", torch.device("cpu")):
            assert flags() == (False, False)  # nothing to switch on a CPU
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_cli_records_precision_and_resumes_with_it(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert run_cli(["train", "gan", "--dataset", "digits", "--steps", "2", "--batch-size", "8",
                    "--set", "image_width=4", "--set", "z_dim=4", "--precision", "bf16",
                    "--out", str(out), "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["precision"] == "bf16"
    assert run_cli(["train", "--resume", str(out), "--steps", "3", "--no-progress"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["precision"] == "bf16"
    capsys.readouterr()
    assert run_cli(["train", "gan", "--toy", "grid25", "--steps", "2", "--precision", "bf16",
                    "--out", str(tmp_path / "toy"), "--no-progress"]) == 2
    assert "bf16 is for image data" in capsys.readouterr().err
