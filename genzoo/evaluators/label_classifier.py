"""A small CNN classifier of a labelled image dataset, fitted once on its training split.

The class-based evaluators (``class-agreement``, ``icp``) judge what a model makes with a
classifier of the dataset's own labels, as BiGAN's and ALICE's papers do. It is a plain
LeNet-style network (two 3×3 convolutions with 2×2 max pooling, a hidden layer of 128, then
the classes), sized from the images, trained with Adam for at least 1,500 steps on the training
split with small random shifts, and scored on the held-out split: that accuracy is reported
beside every class-based score, so a reader knows how far to trust it.

Fitting takes seconds to a minute on a CPU, so the weights are cached under
``<cache home>/classifiers/`` as safetensors, keyed by a sha256 of the training images and
labels (and this module's ``VERSION``): the same data gives the same file, other data a new
one. Training is seeded, so a fresh fit of the same data gives the same weights on one
machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.core.atomic import atomic_file
from genzoo.core.errors import GenzooError
from genzoo.data.cache import note
from genzoo.data.files import cache_home
from genzoo.data.images import to_float

VERSION = 1  # bump when the network or its training changes: old cache files are not reused
EPOCHS = 6  # at least, and at least STEPS steps (small datasets need more passes)
STEPS = 1_500
BATCH = 64
SEED = 0


class Net(nn.Module):
    """conv 3×3 (32) → pool → conv 3×3 (64) → pool → Linear 128 → Linear K, on [0, 1] pixels."""

    def __init__(self, channels: int, height: int, width: int, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.hidden = nn.Linear(64 * (height // 4) * (width // 4), 128)
        self.out = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x * 2.0 - 1.0)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.dropout(F.relu(self.hidden(x.flatten(1))), 0.3, self.training)
        return self.out(x)


@dataclass
class Classifier:
    """The fitted network and its accuracy on the held-out split."""

    net: Net
    accuracy: float  # on the real held-out (test) split
    classes: int
    path: Path | None = None  # the cache file it was read from or written to

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """p(y | x) (n, K) for float images (n, C, H, W) in [0, 1]."""
        self.net.eval()
        parts = [F.softmax(self.net(x[i:i + batch].float().clamp(0, 1)), dim=1)
                 for i in range(0, len(x), batch)]
        return torch.cat(parts) if parts else torch.zeros(0, self.classes)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.probabilities(x).argmax(1)


def _digest(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256(f"v{VERSION} {tuple(x.shape)} {x.dtype}".encode())
    h.update(x.contiguous().numpy().tobytes())
    h.update(y.to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


def _float(x: torch.Tensor) -> torch.Tensor:
    return to_float(x) if x.dtype == torch.uint8 else x.float()


def _shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The batch moved by up to 1/14 of its size in each direction (2 pixels of 28; none for
    8×8 digits), zero fill: cheap augmentation that keeps a classifier fitted on a few
    thousand digits from memorising them."""
    n, _, h, w = x.shape
    pixels = min(h, w) // 14
    if not pixels:
        return x
    padded = F.pad(x, (pixels,) * 4)
    dy, dx = (torch.randint(0, 2 * pixels + 1, (2,), generator=g).tolist())
    return padded[:, :, dy:dy + h, dx:dx + w] if n else x


def fit(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
        y_test: torch.Tensor, classes: int) -> Classifier:
    """A fresh, seeded fit (no cache): Adam on the training split for ``EPOCHS`` epochs or
    ``STEPS`` steps, whichever is longer."""
    g = torch.Generator().manual_seed(SEED)
    # evaluators run under no_grad (api.evaluate): the fit needs its gradients regardless
    with torch.random.fork_rng(), torch.enable_grad():
        torch.manual_seed(SEED)  # the layers' initialisation and dropout masks
        net = Net(x_train.shape[1], x_train.shape[2], x_train.shape[3], classes)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        xf, y = _float(x_train), y_train.long()
        epochs = max(EPOCHS, -(-STEPS * BATCH // max(len(xf), 1)))
        for _ in range(epochs):
            net.train()
            order = torch.randperm(len(xf), generator=g)
            for i in range(0, len(xf), BATCH):
                idx = order[i:i + BATCH]
                loss = F.cross_entropy(net(_shift(xf[idx], g)), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    clf = Classifier(net, 0.0, classes)
    clf.accuracy = float((clf.predict(_float(x_test)) == y_test.long()).double().mean())
    return clf


def for_dataset(dataset) -> Classifier:
    """The classifier of an image dataset with class labels: read from the cache, or fitted
    on its ``train`` split (and scored on ``test``) and cached."""
    from safetensors.torch import load_file, save_file

    spec = dataset.spec
    if spec.kind != "image" or spec.num_classes <= 0 or spec.attributes:
        raise GenzooError(f"a label classifier needs an image dataset with class labels; "
                          f"{spec.name!r} has none")
    x_train, y_train = dataset.examples("train")
    x_test, y_test = dataset.examples("test")
    if y_train is None or y_test is None or len(x_train) == 0 or len(x_test) == 0:
        raise GenzooError(f"dataset {spec.name!r} needs labelled train and test splits for "
                          f"its classifier")
    c, h, w = x_train.shape[1:]
    path = cache_home() / "classifiers" / f"{spec.name}-{_digest(x_train, y_train)[:32]}" \
        f".safetensors"
    if path.is_file():
        try:
            tensors = load_file(str(path))
            net = Net(c, h, w, spec.num_classes)
            net.load_state_dict({k: v for k, v in tensors.items() if k != "accuracy"})
            return Classifier(net, float(tensors["accuracy"]), spec.num_classes, path)
        except Exception:  # noqa: BLE001 -- a damaged cache file is refitted, not fatal
            pass
    note(f"fitting a classifier of {spec.name}'s labels on its {len(x_train)} training "
         f"images (cached for next time)")
    clf = fit(x_train, y_train, x_test, y_test, spec.num_classes)
    try:
        with atomic_file(path) as tmp:
            save_file({**{k: v.contiguous() for k, v in clf.net.state_dict().items()},
                       "accuracy": torch.tensor(clf.accuracy, dtype=torch.float64)},
                      str(tmp))
        clf.path = path
    except OSError as exc:
        note(f"cannot cache the classifier in {path.parent} ({exc}); it is refitted next time")
    return clf
