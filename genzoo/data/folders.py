"""Datasets that are folders of images: ``tinyimagenet64`` and ``folder:PATH``.

A split's labels come from its layout:

- ``val_annotations.txt`` next to ``images/`` (Tiny ImageNet's val/): one ``NAME CLASS ...``
  line per image;
- class subfolders (two or more, no loose images): the first folder below the split is the
  class, images anywhere below it (``train/n01443537/images/x.JPEG``), classes sorted by name;
- anything else: unlabelled.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.cache import cached_arrays
from genzoo.data.decode import ImageTree, decode_into, is_image
from genzoo.data.files import Download, FileSpec, Published, describe_located, flag, locate
from genzoo.data.images import ImageDataset

_TINY = "tiny-imagenet-200"
PUBLISHED_TINY = Published(
    name="tinyimagenet64",
    files=(FileSpec(_TINY, alternative=FileSpec(f"{_TINY}.zip",
                                                "90528d7ca1a48142e341f4ef8d21d0de")),),
    page="http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    # the .zip is read in place: no 120,000 small files to unpack
    downloads=(Download("http://cs231n.stanford.edu/tiny-imagenet-200.zip", f"{_TINY}.zip",
                        "90528d7ca1a48142e341f4ef8d21d0de"),),
)
_HOLDOUT_BUCKETS = 10  # an unsplit folder holds out the images whose name hashes to bucket 0
_TEST_DIRS = ("test", "val", "valid")


def scan_split(tree: ImageTree, files: Sequence[str], prefix: str,
               classes: Sequence[str] | None = None
               ) -> tuple[list[str], np.ndarray | None, list[str]]:
    """The images below ``prefix`` (names relative to the tree), their labels or None, and the
    class names. ``classes`` (from the train split) fixes the label of each class name."""
    below = [f[len(prefix):] for f in files if f.startswith(prefix)]
    if "val_annotations.txt" in below:
        rows = [line.split() for line in tree.read(prefix + "val_annotations.txt").decode()
                .splitlines() if line.strip()]
        found = set(below)
        names = sorted(r[0] for r in rows if f"images/{r[0]}" in found)
        wnid = {r[0]: r[1] for r in rows}
        classes = list(classes or sorted(set(wnid.values())))
        return _labelled(tree, prefix, [f"images/{n}" for n in names],
                         [wnid[n] for n in names], classes)
    images = [f for f in below if is_image(f)]
    tops = sorted({f.split("/", 1)[0] for f in images if "/" in f})
    loose = any("/" not in f for f in images)
    if not loose and (len(tops) >= 2 or (classes and tops)):
        classes = list(classes or tops)
        return _labelled(tree, prefix, images, [f.split("/", 1)[0] for f in images], classes)
    return [prefix + f for f in images], None, []


def _labelled(tree: ImageTree, prefix: str, names: list[str], class_of: list[str],
              classes: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(class_of) - set(index))
    if unknown:
        raise GenzooError(f"{tree}/{prefix} has images of class {unknown[0]!r}, which the "
                          f"train split does not have; the splits disagree")
    labels = np.array([index[c] for c in class_of], dtype=np.int64)
    return [prefix + n for n in names], labels, classes


class ImageFolder(ImageDataset):
    """Images from an ImageTree, decoded once to ``size``×``size`` (centre crop)."""

    def __init__(self, name: str, tree: ImageTree, splits: dict[str, tuple[list[str], Any]],
                 classes: Sequence[str], *, size: int, channels: int, cache: bool,
                 info: dict[str, Any]):
        if channels not in (1, 3):
            raise GenzooError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        self.tree, self._splits = tree, splits
        self._size, self._channels, self._cache = size, channels, cache
        super().__init__(DataSpec(name, (channels, size, size), kind="image",
                                  num_classes=len(classes)), tuple(splits),
                         class_names=classes, info={**info, "size": size,
                                                    "images": {s: len(v[0]) for s, v in
                                                               splits.items()}})

    def _load_split(self, split: str) -> tuple[Any, Any]:
        names, labels = self._splits[split]
        size, channels = self._size, self._channels

        def build(alloc: Any) -> None:
            out = alloc("x", (len(names), channels, size, size), np.uint8)
            decode_into(out, names, self.tree.read, size, channels,
                        label=f"{self.spec.name} {split} images")

        key = {"images": self.tree.stamp(names), "size": size, "channels": channels}
        arrays = cached_arrays(f"{self.spec.name}-{split}", key, build, enabled=self._cache)
        return arrays["x"], labels


def tinyimagenet64(data_dir: str | os.PathLike[str] | None = None, download: Any = False,
                   verify: Any = True, cache: Any = True, size: Any = 64,
                   **_: Any) -> ImageFolder:
    """Tiny ImageNet (200 classes) centre-cropped 64×64; test = the published val/ (the
    published test/ has no labels)."""
    located = locate(PUBLISHED_TINY, data_dir, download=flag(download), verify=flag(verify))
    folder = located.paths.get(_TINY)
    tree = ImageTree(folder) if folder is not None else \
        ImageTree(located.paths[f"{_TINY}.zip"], inner=_TINY)
    files = tree.files()
    train, train_y, classes = scan_split(tree, files, "train/")
    if train_y is None or not train:
        raise GenzooError(f"{tree}/train has no class subfolders of images; expected "
                          f"train/<wnid>/images/*.JPEG as published")
    test, test_y, _ = scan_split(tree, files, "val/", classes)
    return ImageFolder("tinyimagenet64", tree, {"train": (train, train_y), "test": (test, test_y)},
                       classes, size=int(size), channels=3, cache=flag(cache),
                       info=describe_located(located))


def image_folder(spec: str = "", data_dir: Any = None, cache: Any = True, size: Any = 64,
                 channels: Any = 3, **_: Any) -> ImageFolder:
    """Any folder (or .zip) of images: ``folder:PATH``. Class subfolders give labels;
    train/ and test/ (or val/) subfolders give the splits, else 1 in 10 images (by a hash of
    the name) is held out as test."""
    if not spec:
        raise GenzooError("name the folder: --dataset folder:PATH")
    path = Path(spec).expanduser()
    if not path.exists():
        raise GenzooError(f"folder {path} does not exist; pass --dataset folder:PATH with a "
                          f"folder of images")
    tree = ImageTree(path)
    files = tree.files()
    tops = {f.split("/", 1)[0] for f in files if "/" in f}
    test_dir = next((d for d in _TEST_DIRS if d in tops), None)
    info: dict[str, Any] = {"folder": str(path.resolve())}
    if "train" in tops and test_dir is not None:
        train, train_y, classes = scan_split(tree, files, "train/")
        test, test_y, _ = scan_split(tree, files, f"{test_dir}/", classes or None)
        if (train_y is None) != (test_y is None):
            raise GenzooError(f"{path}: train/ and {test_dir}/ must both have class subfolders "
                              f"or neither")
        splits = {"train": (train, train_y), "test": (test, test_y)}
    else:
        names, labels, classes = scan_split(tree, files, "")
        held = np.array([zlib.crc32(n.encode()) % _HOLDOUT_BUCKETS == 0 for n in names], bool)
        if held.all() or not held.any():
            held[:] = False  # too few images to hold any out: test repeats train, said below
            info["test"] = "same images as train (too few to hold out)"
        splits = {s: ([n for n, h in zip(names, held, strict=True) if h == want],
                      None if labels is None else labels[held == want])
                  for s, want in (("train", False), ("test", True))}
        if not held.any():
            splits["test"] = splits["train"]
    if not splits["train"][0]:
        raise GenzooError(f"{path} holds no image files (.jpg, .png, .bmp, .webp, .tif ...)")
    return ImageFolder("folder", tree, splits, classes, size=int(size),
                       channels=int(channels), cache=flag(cache), info=info)
