"""The image networks as data: the paper's Tables 3-6 row by row, and a generic DCGAN-style net.

Every network is a list of ``Layer`` rows (operation, kernel, stride, feature maps, BatchNorm,
dropout on the layer's input, nonlinearity), read straight off appendix A of the paper
(/work/shared/paper/ali-paper.txt); ``genzoo_plugins.common.image_nets`` builds modules from
them. Convolutions are "valid" (no padding) as in the original code, which is what makes the
printed kernels and strides take 32×32 (or 64×64) down to 1×1 and back.

Reading notes, where the printed tables need one:

- Feature maps of a maxout layer (Table 3's D) are its units after the max: the convolution
  computes ``pieces`` times as many maps. Only this reading makes D(x, z)'s printed input of
  1024 maps equal D(x)'s 512 plus D(z)'s 512. (The original code's CIFAR10 convolution
  computes the printed number and maxout halves it.)
- G_z's last layer gives the posterior's parameters: 2·z_dim (mean, log σ) for the Gaussian
  encoder the paper uses, z_dim for a deterministic one (BiGAN). Tables 3, 4 and 6 print
  2·z_dim. Table 5 (CelebA) prints 512 for G_z's output and also 512 for G_x's and D(z)'s
  inputs; we take z_dim = 512 (two rows agree) and so G_z ends in 1024 maps.
- D(x, z)'s input is D(x)'s maps plus D(z)'s, computed from the layers: Table 5's printed
  "1024" is 512 + 1024 = 1536 by its own rows.
- Image channels come from the data (1 for grayscale digits), not the printed 3.
- The printed Adam β2 = 10⁻³ (Tables 3, 4, 6) is kept as printed. It is most likely the old
  Blocks convention, where Adam's arguments were 1 − β (its defaults were beta1=0.1,
  beta2=0.001), i.e. PyTorch's β2 = 0.999; ``--set beta2=0.999`` gives that reading.
- Table 5 prints no β2: PyTorch's default 0.999.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from genzoo.core.errors import GenzooError

Op = Literal["conv", "convT"]
Act = Literal["lrelu", "relu", "maxout", "linear", "sigmoid", "tanh"]


@dataclass(frozen=True)
class Layer:
    """One row of a table: a (transposed) convolution with what follows it."""

    op: Op
    kernel: int
    stride: int
    channels: int  # feature maps out (maxout: units after the max over pieces)
    bn: bool  # BatchNorm after the convolution (then the convolution has no bias)
    dropout: float  # dropout on this layer's input, in training only
    act: Act
    padding: int = 0  # the tables use none

    def out_size(self, size: int) -> int:
        if self.op == "conv":
            return (size + 2 * self.padding - self.kernel) // self.stride + 1
        return (size - 1) * self.stride - 2 * self.padding + self.kernel


@dataclass(frozen=True)
class NetSpec:
    """All networks of one model family at one image size, and the table's training settings."""

    name: str  # the value of the image_net setting that selects it
    source: str  # where it comes from
    size: int  # the networks take and make size × size images
    z_dim: int
    encoder: tuple[Layer, ...]  # G_z: x -> posterior parameters (the last layer)
    decoder: tuple[Layer, ...]  # G_x: z (z_dim × 1 × 1) -> x (the last layer gives C maps)
    disc_x: tuple[Layer, ...]  # D(x): x -> features (1 × 1)
    disc_z: tuple[Layer, ...]  # D(z): z -> features (1 × 1)
    disc_joint: tuple[Layer, ...]  # D(x, z): concat(D(x), D(z)) -> logit (its last layer)
    slope: float  # leaky ReLU slope
    pieces: int = 1  # maxout pieces
    # G_z and D see 2x - 1 (images centred on 0) and G_x ends in tanh, mapped back to [0, 1]
    # as (tanh + 1) / 2 = sigmoid(2h); the tables feed [0, 1] and end in a sigmoid, as printed
    center: bool = False
    init_std: float = 0.01  # N(0, init_std) weights, zero biases
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 1e-3
    batch_size: int = 100
    epochs: int = 0  # printed training length ...
    train_size: int = 0  # ... over this many training images (0: not a paper table)

    @property
    def steps(self) -> int:
        """The printed epochs in steps of batch_size."""
        return self.epochs * math.ceil(self.train_size / self.batch_size)


_row = Layer  # a table row: (op, kernel, stride, channels, bn, dropout, act)


C, T = "conv", "convT"
Y, N = True, False

# Table 3: CIFAR10. Leaky ReLU slope 0.1, maxout with 2 pieces in D, 6475 epochs.
CIFAR10 = NetSpec(
    name="cifar10", source="Table 3 (CIFAR10)", size=32, z_dim=64, slope=0.1, pieces=2,
    encoder=(
        _row(C, 5, 1, 32, Y, 0.0, "lrelu"), _row(C, 4, 2, 64, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 128, Y, 0.0, "lrelu"), _row(C, 4, 2, 256, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 512, Y, 0.0, "lrelu"), _row(C, 1, 1, 512, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 128, N, 0.0, "linear")),
    decoder=(
        _row(T, 4, 1, 256, Y, 0.0, "lrelu"), _row(T, 4, 2, 128, Y, 0.0, "lrelu"),
        _row(T, 4, 1, 64, Y, 0.0, "lrelu"), _row(T, 4, 2, 32, Y, 0.0, "lrelu"),
        _row(T, 5, 1, 32, Y, 0.0, "lrelu"), _row(C, 1, 1, 32, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 3, N, 0.0, "sigmoid")),
    disc_x=(
        _row(C, 5, 1, 32, N, 0.2, "maxout"), _row(C, 4, 2, 64, N, 0.5, "maxout"),
        _row(C, 4, 1, 128, N, 0.5, "maxout"), _row(C, 4, 2, 256, N, 0.5, "maxout"),
        _row(C, 4, 1, 512, N, 0.5, "maxout")),
    disc_z=(_row(C, 1, 1, 512, N, 0.2, "maxout"), _row(C, 1, 1, 512, N, 0.5, "maxout")),
    disc_joint=(
        _row(C, 1, 1, 1024, N, 0.5, "maxout"), _row(C, 1, 1, 1024, N, 0.5, "maxout"),
        _row(C, 1, 1, 1, N, 0.5, "linear")),  # printed "Sigmoid": D's logit, sigmoid in the loss
    batch_size=100, epochs=6475, train_size=50_000)

# Table 4: SVHN. Leaky ReLU slope 0.01, 100 epochs.
SVHN = NetSpec(
    name="svhn", source="Table 4 (SVHN)", size=32, z_dim=256, slope=0.01,
    encoder=(
        _row(C, 5, 1, 32, Y, 0.0, "lrelu"), _row(C, 4, 2, 64, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 128, Y, 0.0, "lrelu"), _row(C, 4, 2, 256, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 512, Y, 0.0, "lrelu"), _row(C, 1, 1, 512, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 512, N, 0.0, "linear")),
    decoder=(
        _row(T, 4, 1, 256, Y, 0.0, "lrelu"), _row(T, 4, 2, 128, Y, 0.0, "lrelu"),
        _row(T, 4, 1, 64, Y, 0.0, "lrelu"), _row(T, 4, 2, 32, Y, 0.0, "lrelu"),
        _row(T, 5, 1, 32, Y, 0.0, "lrelu"), _row(C, 1, 1, 32, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 3, N, 0.0, "sigmoid")),
    disc_x=(
        _row(C, 5, 1, 32, N, 0.2, "lrelu"), _row(C, 4, 2, 64, Y, 0.2, "lrelu"),
        _row(C, 4, 1, 128, Y, 0.2, "lrelu"), _row(C, 4, 2, 256, Y, 0.2, "lrelu"),
        _row(C, 4, 1, 512, Y, 0.2, "lrelu")),
    disc_z=(_row(C, 1, 1, 512, N, 0.2, "lrelu"), _row(C, 1, 1, 512, N, 0.2, "lrelu")),
    disc_joint=(
        _row(C, 1, 1, 1024, N, 0.2, "lrelu"), _row(C, 1, 1, 1024, N, 0.2, "lrelu"),
        _row(C, 1, 1, 1, N, 0.2, "linear")),
    batch_size=100, epochs=100, train_size=73_257)

# Table 5: CelebA 64×64. Leaky ReLU slope 0.02, 123 epochs, β2 not printed (0.999).
CELEBA = NetSpec(
    name="celeba", source="Table 5 (CelebA)", size=64, z_dim=512, slope=0.02, beta2=0.999,
    encoder=(
        _row(C, 2, 1, 64, Y, 0.0, "lrelu"), _row(C, 7, 2, 128, Y, 0.0, "lrelu"),
        _row(C, 5, 2, 256, Y, 0.0, "lrelu"), _row(C, 7, 2, 256, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 512, Y, 0.0, "lrelu"), _row(C, 1, 1, 512, N, 0.0, "linear")),
    decoder=(
        _row(T, 4, 1, 512, Y, 0.0, "lrelu"), _row(T, 7, 2, 256, Y, 0.0, "lrelu"),
        _row(T, 5, 2, 256, Y, 0.0, "lrelu"), _row(T, 7, 2, 128, Y, 0.0, "lrelu"),
        _row(T, 2, 1, 64, Y, 0.0, "lrelu"), _row(C, 1, 1, 3, N, 0.0, "sigmoid")),
    disc_x=(
        _row(C, 2, 1, 64, Y, 0.0, "lrelu"), _row(C, 7, 2, 128, Y, 0.0, "lrelu"),
        _row(C, 5, 2, 256, Y, 0.0, "lrelu"), _row(C, 7, 2, 256, Y, 0.0, "lrelu"),
        _row(C, 4, 1, 512, Y, 0.0, "lrelu")),
    disc_z=(_row(C, 1, 1, 1024, N, 0.2, "lrelu"), _row(C, 1, 1, 1024, N, 0.2, "lrelu")),
    disc_joint=(
        _row(C, 1, 1, 2048, N, 0.2, "lrelu"), _row(C, 1, 1, 2048, N, 0.2, "lrelu"),
        _row(C, 1, 1, 1, N, 0.2, "linear")),
    batch_size=100, epochs=123, train_size=162_770)

# Table 6: Tiny ImageNet 64×64. Leaky ReLU slope 0.01, batch 128, 125 epochs.
TINYIMAGENET64 = NetSpec(
    name="tinyimagenet64", source="Table 6 (Tiny ImageNet)", size=64, z_dim=256, slope=0.01,
    encoder=(
        _row(C, 4, 2, 64, Y, 0.0, "lrelu"), _row(C, 4, 1, 64, Y, 0.0, "lrelu"),
        _row(C, 4, 2, 128, Y, 0.0, "lrelu"), _row(C, 4, 1, 128, Y, 0.0, "lrelu"),
        _row(C, 4, 2, 256, Y, 0.0, "lrelu"), _row(C, 4, 1, 256, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 2048, Y, 0.0, "lrelu"), _row(C, 1, 1, 2048, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 512, N, 0.0, "linear")),
    decoder=(
        _row(C, 1, 1, 2048, Y, 0.0, "lrelu"), _row(C, 1, 1, 256, Y, 0.0, "lrelu"),
        _row(T, 4, 1, 256, Y, 0.0, "lrelu"), _row(T, 4, 2, 128, Y, 0.0, "lrelu"),
        _row(T, 4, 1, 128, Y, 0.0, "lrelu"), _row(T, 4, 2, 64, Y, 0.0, "lrelu"),
        _row(T, 4, 1, 64, Y, 0.0, "lrelu"), _row(T, 4, 2, 64, Y, 0.0, "lrelu"),
        _row(C, 1, 1, 3, N, 0.0, "sigmoid")),
    disc_x=(
        _row(C, 4, 2, 64, N, 0.2, "lrelu"), _row(C, 4, 1, 64, Y, 0.2, "lrelu"),
        _row(C, 4, 2, 128, Y, 0.2, "lrelu"), _row(C, 4, 1, 128, Y, 0.2, "lrelu"),
        _row(C, 4, 2, 256, Y, 0.2, "lrelu"), _row(C, 4, 1, 256, Y, 0.2, "lrelu")),
    disc_z=(_row(C, 1, 1, 2048, N, 0.2, "lrelu"), _row(C, 1, 1, 2048, N, 0.2, "lrelu")),
    disc_joint=(
        _row(C, 1, 1, 4096, N, 0.2, "lrelu"), _row(C, 1, 1, 4096, N, 0.2, "lrelu"),
        _row(C, 1, 1, 1, N, 0.2, "linear")),
    batch_size=128, epochs=125, train_size=100_000)

TABLES: dict[str, NetSpec] = {s.name: s for s in (CIFAR10, SVHN, CELEBA, TINYIMAGENET64)}
NETWORKS = ("auto", "dcgan", *TABLES)  # the values of the image_net setting


def canvas(height: int, width: int) -> int:
    """The generic network's square working size: the smallest b·2^k (b in 4..7, k >= 1) that
    holds the image's larger side.

    b is the size after the k stride-2 halvings (a b×b valid convolution then takes it to 1×1),
    so 28×28 images train at their own size (7·4: no padding, no work spent on a border) and
    8×8 ones at 8 (4·2). Smaller or non-square images are zero-padded to it (centred) on the
    way in and the decoder's output is centre-cropped back.
    """
    side, sizes = max(height, width), []
    for b in range(4, 8):
        size = 2 * b
        while size < side:
            size *= 2
        sizes.append(size)
    return min(sizes)


def _base(size: int) -> tuple[int, int]:
    """(b, k) with size = b·2^k, b in 4..7: the canvas's smallest map and its halvings."""
    k = 0
    while size >= 8 and size % 2 == 0:
        size //= 2
        k += 1
    return size, k


def generic(x_shape: tuple[int, ...], *, width: int, z_dim: int, disc_bn: bool,
            dropout_in: float, dropout_hidden: float, slope: float = 0.2,
            init_std: float = 0.02) -> NetSpec:
    """A DCGAN-style family sized from the input (Radford et al. 2015): 4×4 stride-2
    convolutions (padding 1) halve the canvas down to b×b (b in 4..7, see ``canvas``) with
    width, 2·width, ... maps; a b×b valid convolution takes b×b to 1×1. G_x mirrors G_z with
    transposed convolutions, ReLU and a tanh output; inputs are centred (``center``). D(z) and
    the joint head are 1×1 layers, like the tables'; the GAN's D(x) is the joint head on D(x)
    alone."""
    size = canvas(x_shape[1], x_shape[2])
    base, halvings = _base(size)
    chans = [width * 2**i for i in range(halvings)]
    top = 2 * chans[-1]  # D(x)'s and D(z)'s feature maps at 1×1

    def down(ch: int, bn: bool, drop: float) -> Layer:
        return Layer("conv", 4, 2, ch, bn, drop, "lrelu", padding=1)

    def up(ch: int, act: Act) -> Layer:
        return Layer("convT", 4, 2, ch, act != "tanh", 0.0, act, padding=1)

    encoder = tuple(down(ch, True, 0.0) for ch in chans) + (
        Layer("conv", base, 1, 2 * z_dim, False, 0.0, "linear"),)
    decoder = (Layer("convT", base, 1, chans[-1], True, 0.0, "relu"),
               *(up(ch, "relu") for ch in reversed(chans[:-1])),
               up(x_shape[0], "tanh"))
    disc_x = tuple(down(ch, disc_bn and i > 0, dropout_in if i == 0 else dropout_hidden)
                   for i, ch in enumerate(chans)) + (
        Layer("conv", base, 1, top, False, dropout_hidden, "lrelu"),)
    disc_z = (Layer("conv", 1, 1, top, False, dropout_in, "lrelu"),
              Layer("conv", 1, 1, top, False, dropout_hidden, "lrelu"))
    disc_joint = (Layer("conv", 1, 1, top, False, dropout_hidden, "lrelu"),
                  Layer("conv", 1, 1, 1, False, dropout_hidden, "linear"))
    return NetSpec(name="dcgan", source=f"generic DCGAN-style, width {width}", size=size,
                   z_dim=z_dim, encoder=encoder, decoder=decoder, disc_x=disc_x,
                   disc_z=disc_z, disc_joint=disc_joint, slope=slope, init_std=init_std,
                   center=True)


def table_for(image_net: str, dataset: str) -> NetSpec | None:
    """The paper table ``image_net`` names; "auto" picks the dataset's own table, if any."""
    if image_net == "auto":
        return TABLES.get(dataset)
    if image_net == "dcgan":
        return None
    if image_net not in TABLES:
        raise GenzooError(f"image_net={image_net!r} is not a network; use one of "
                          f"{', '.join(NETWORKS)}")
    return TABLES[image_net]


def check_fits(spec: NetSpec, x_shape: tuple[int, ...], dataset: str) -> None:
    """Refuse a table whose fixed image size is not the data's."""
    c, h, w = x_shape
    if (h, w) != (spec.size, spec.size):
        raise GenzooError(f"image_net={spec.name} ({spec.source}) takes {spec.size}×{spec.size} "
                          f"images; {dataset!r} has {h}×{w}; use --set image_net=dcgan (sized "
                          f"from the input)")
    size = spec.size
    for layer in spec.encoder:
        size = layer.out_size(size)
    if size != 1:  # the tables are built so; a wrong row would show here
        raise GenzooError(f"{spec.source}: G_z ends at {size}×{size}, not 1×1")
