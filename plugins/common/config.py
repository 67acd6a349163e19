"""Config fields shared by the toy models, and the original code's settings (``paper`` presets).

Each model's Config is a dataclass built from the groups below, so a field means the same thing
in every model (``--set decoder_hidden=400`` sizes the same decoder in ali, gan and vae). The
field defaults are the ``default`` preset, tuned for speed and quality on a 2-core CPU (see
docs/models.md); a model may redeclare a field to change its own default. The ``PAPER_*``
dicts at the end are the original code's settings, the ``paper`` presets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.core.config import bounded

Activation = Literal["maxout", "leaky_relu", "relu"]


@dataclass
class DecoderFields:
    z_dim: int = 2  # latent size; the prior p(z) is a z_dim-d standard normal
    decoder_hidden: int = 128  # width of G_x
    decoder_layers: int = 3  # hidden layers of G_x
    batchnorm: bool = True  # BatchNorm after each hidden Linear of G_x and G_z
    bn_momentum: float = 0.1  # running-statistics update rate (the original code: 0.05)
    init_std: float | None = None  # N(0, init_std) weights, zero biases; None = PyTorch init
    # random Fourier features of z for G_x: [z, sin(zW), cos(zW)], W ~ N(0, scale^2) fixed
    decoder_fourier: int = 64  # number of frequencies; 0 = G_x sees z itself
    decoder_fourier_scale: float = 2.0  # std of the frequencies, in radians per unit of z


@dataclass
class EncoderFields:
    # gaussian: x -> (mu, log sigma), z = mu + sigma * eps (Eq. 2); noise_input: the original
    # code's [x, eps] -> z; deterministic: x -> z (BiGAN)
    encoder: Literal["gaussian", "noise_input", "deterministic"] = "gaussian"
    encoder_hidden: int = 128  # width of G_z
    encoder_layers: int = 2  # hidden layers of G_z
    encoder_noise_dim: int = 2  # size of eps for the noise_input encoder
    # random Fourier features of x for G_z (toy data), as G_x has of z: lets a small G_z
    # tell apart points a mode's width apart and so invert G_x inside a mode; 0 = x itself
    encoder_fourier: int = 0
    encoder_fourier_scale: float = 2.0  # std of the frequencies, in radians per unit of x


@dataclass
class DiscriminatorFields:
    disc_units: int = 128  # units per hidden layer of D's joint head (or of D(x) in a GAN)
    disc_layers: int = bounded(3, minimum=1)  # hidden layers of that head (0: a linear D)
    disc_activation: Activation = "leaky_relu"
    disc_pieces: int = bounded(5, minimum=1)  # maxout pieces (with disc_activation = maxout)
    dropout_in: float = bounded(0.0, minimum=0, below=1)  # dropout on D's input
    dropout_hidden: float = bounded(0.0, minimum=0, below=1)  # on the inputs of later layers
    # random Fourier features of x for D (Tancik et al. 2020): [x, sin(xW), cos(xW)] with fixed
    # W ~ N(0, disc_fourier_scale^2); lets a small D draw the grid's sharp modes early
    disc_fourier: int = 64  # number of frequencies; 0 = D sees x itself
    disc_fourier_scale: float = 0.5  # std of the frequencies, in radians per unit of x
    disc_pack: int = 1  # PacGAN: D judges this many samples (or pairs) at once; 1 = off


@dataclass
class JointDiscriminatorFields(DiscriminatorFields):
    # D(x, z) = head(concat(branch_x(x), branch_z(z))); 0 layers = the branch is the identity,
    # which is the original toy code (concat(x, z) straight into the maxout head)
    disc_x_layers: int = 0  # hidden layers of the x branch
    disc_z_layers: int = 0  # hidden layers of the z branch
    disc_branch_units: int = 128  # width of each branch's hidden layers
    # Fourier features of z for D as of x (toy data): lets D see where inside a mode's cell
    # of p(z) the encoder puts its codes; 0 = D sees z itself
    disc_z_fourier: int = 0
    disc_z_fourier_scale: float = 2.0  # std of the frequencies, in radians per unit of z


@dataclass
class UnaryFields:
    # BigBiGAN's unary scores (Donahue & Simonyan 2019): D also scores x alone (s_x, a linear
    # head on D's x branch) and z alone (s_z, on its z branch) beside the joint s_xz; D takes
    # each score's loss, the generator side their sum (the heads' terms times unary_weight)
    unary_scores: bool = False
    unary_weight: float = bounded(1.0, minimum=0)  # weight of s_x's and s_z's terms


@dataclass
class AveragingFields:
    # sample, encode, reconstruct and give features with an exponential moving average of
    # G_x's and G_z's weights (Yazıcı et al. 2019), updated after every step; 0 = the trained
    # weights themselves. Training itself always uses the trained weights.
    ema_decay: float = bounded(0.0, minimum=0, below=1)


@dataclass
class OptimFields:
    lr: float = 1e-3  # Adam learning rate (of the generator side, in a game)
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: Literal["none", "linear", "cosine"] = "linear"  # anneal learning rates to 0 ...
    decay_start: float = 0.5  # ... from this fraction of training (of the phase) onwards
    steps: int = 1500  # suggested training length (CLI default)
    batch_size: int = 256  # suggested batch size per seed (CLI default)


@dataclass
class GameFields(OptimFields):
    generator_loss: Literal["nonsaturating", "saturating"] = "nonsaturating"  # Eq. 4 or Eq. 1
    # simultaneous: one forward pass, D and G both step from it (the original code);
    # d_then_g / g_then_d: alternate, the second update sees the first one's new weights
    update_order: Literal["simultaneous", "d_then_g", "g_then_d"] = "d_then_g"
    lr_d: float | None = None  # Adam learning rate of D; None = lr
    # R1 penalty gamma/2 * |grad D|^2 on real pairs (0 = off), lazily every k steps, scaled
    # by k: on grid25 it balances the modes' mass (ALI's reverse KL 0.35 -> 0.02)
    r1_gamma: float = 3.0
    r1_every: int = 4
    d_steps: int = 1  # D updates per step; each takes batch_size / d_steps of the batch
    instance_noise: float = 0.0  # std of N(0, s^2) added to x of every pair D sees ...
    instance_noise_until: float = 0.4  # ... annealed linearly to 0 at this fraction of training


@dataclass
class ImageFields:
    # image data only (toy data ignore them): which convolutional networks G_z, G_x and D are
    # (plugins/common/image_specs.py); auto = the dataset's paper table (svhn: Table 4,
    # cifar10: 3, celeba: 5, tinyimagenet64: 6), else dcgan, a generic net sized from the input
    image_net: Literal["auto", "dcgan", "cifar10", "svhn", "celeba", "tinyimagenet64"] = "auto"
    image_width: int = 32  # dcgan: feature maps of the first layer, doubled at each halving
    # BatchNorm in D: split = statistics of the real and the fake half of D's batch apart
    # (DCGAN's practice; one joint batch lets D win within ~50 steps on mnist5k), joint = one
    # batch of both (the original ALI code), none = no BatchNorm in D
    image_disc_bn: Literal["split", "joint", "none"] = "split"


# The original toy code's settings (REFERENCE.md; IshmaelBelghazi/ALI experiments/
# ali_mixture.py): 200 epochs of 100,000 samples at batch 100 = 200,000 steps.
PAPER_DECODER = {"z_dim": 2, "decoder_hidden": 400, "decoder_layers": 4, "batchnorm": True,
                 "bn_momentum": 0.05, "init_std": 0.02, "decoder_fourier": 0,
                 "decoder_fourier_scale": 1.0}
PAPER_ENCODER = {"encoder": "noise_input", "encoder_hidden": 400, "encoder_layers": 2,
                 "encoder_noise_dim": 2, "encoder_fourier": 0}
PAPER_DISCRIMINATOR = {"disc_units": 200, "disc_layers": 3, "disc_activation": "maxout",
                       "disc_pieces": 5, "dropout_in": 0.2, "dropout_hidden": 0.5,
                       "disc_fourier": 0, "disc_fourier_scale": 1.0, "disc_pack": 1}
PAPER_JOINT = {**PAPER_DISCRIMINATOR, "disc_x_layers": 0, "disc_z_layers": 0,
               "disc_branch_units": 200, "disc_z_fourier": 0}
PAPER_OPTIM = {"lr": 1e-4, "beta1": 0.8, "beta2": 0.999, "lr_decay": "none",
               "decay_start": 0.0, "steps": 200_000, "batch_size": 100}
PAPER_GAME = {**PAPER_OPTIM, "generator_loss": "nonsaturating",
              "update_order": "simultaneous", "lr_d": None, "r1_gamma": 0.0, "r1_every": 1,
              "d_steps": 1, "instance_noise": 0.0, "instance_noise_until": 0.5}
