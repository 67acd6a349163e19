"""CelebA (Liu et al., 2015), aligned: ``img_align_celeba/`` (or the published
``img_align_celeba.zip``, read in place), ``list_attr_celeba.txt`` (40 binary attributes, -1/1)
and ``list_eval_partition.txt`` (0 train, 1 valid, 2 test). Images are resized to 64 wide and
centre-cropped to 64×64, as in the paper's code; labels are the 40 attributes as 0/1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec
from genzoo.data.cache import cached_arrays, stamp
from genzoo.data.decode import ImageTree, decode_into
from genzoo.data.files import FileSpec, Published, describe_located, flag, locate
from genzoo.data.images import ImageDataset

_ATTR, _PART, _IMAGES = "list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"
_SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}

PUBLISHED = Published(
    name="celeba",
    files=(FileSpec(_IMAGES, alternative=FileSpec(f"{_IMAGES}.zip",
                                                  "00d2c5bc6d35e252742224ab0c1e8fcb")),
           FileSpec(_ATTR, "75e246fa4810816ffd6ee81facbd244c"),
           FileSpec(_PART, "d32c9cbf5e040fd4025c592c306e6668")),
    page="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    manual="CelebA is shared through Google Drive folders, which need a browser",
)


def read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(attribute names, image names, 0/1 int64 matrix (N, A)) from list_attr_celeba.txt."""
    lines = path.read_text().splitlines()
    try:
        count, names = int(lines[0].split()[0]), lines[1].split()
        rows = [line.split() for line in lines[2:] if line.strip()]
        files = [r[0] for r in rows]
        values = np.array([r[1:] for r in rows], dtype=np.int64)
    except (IndexError, ValueError) as exc:
        raise GenzooError(f"{path} is not in the list_attr_celeba.txt format (a count line, "
                          f"an attribute-name line, then 'NAME.jpg -1 1 ...' lines): "
                          f"{exc}") from None
    if count != len(rows) or values.shape != (len(rows), len(names)) \
            or not np.isin(values, (-1, 1)).all():
        raise GenzooError(f"{path}: expected {count} rows of {len(names)} values in -1/1, got "
                          f"{values.shape}; the file is damaged")
    return names, files, (values > 0).astype(np.int64)


def read_partition(path: Path) -> dict[str, int]:
    """Image name -> 0 (train), 1 (valid) or 2 (test) from list_eval_partition.txt."""
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise GenzooError(f"{path}: line {line!r} is not 'NAME.jpg 0|1|2'")
        out[parts[0]] = int(parts[1])
    return out


class CelebA(ImageDataset):
    """CelebA faces 64×64 (or ``size``), labels = 40 binary attributes; train/valid/test."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, download: Any = False,
                 verify: Any = True, cache: Any = True, size: Any = 64, **_: Any):
        self.located = locate(PUBLISHED, data_dir, download=flag(download), verify=flag(verify))
        self.image_size, self._cache = int(size), flag(cache)
        with open(self.located.paths[_ATTR]) as f:
            f.readline()
            names = tuple(f.readline().split())
        if len(names) != 40:
            raise GenzooError(f"{self.located.paths[_ATTR]} names {len(names)} attributes on "
                              f"its second line; CelebA's list_attr_celeba.txt names 40")
        images = self.located.paths.get(_IMAGES) or self.located.paths[f"{_IMAGES}.zip"]
        self.tree = ImageTree(images, inner=_IMAGES if images.suffix == ".zip" else "")
        super().__init__(DataSpec("celeba", (3, self.image_size, self.image_size), kind="image",
                                  attributes=names), tuple(_SPLIT_CODES),
                         info=describe_located(self.located, {"size": self.image_size}))

    def _load_split(self, split: str) -> tuple[Any, Any]:
        attr_path, part_path = self.located.paths[_ATTR], self.located.paths[_PART]
        _, files, attrs = read_attributes(attr_path)
        partition = read_partition(part_path)
        unknown = [f for f in files if f not in partition]
        if unknown:
            raise GenzooError(f"{part_path} does not assign {len(unknown)} images of "
                              f"{attr_path.name} (e.g. {unknown[0]}) to a split")
        keep = np.array([partition[f] == _SPLIT_CODES[split] for f in files], dtype=bool)
        names = [f for f, k in zip(files, keep, strict=True) if k]
        missing = next((n for n in names[:1] + names[-1:] if not self.tree.exists(n)), None)
        if missing is not None:
            raise GenzooError(f"{self.tree} lacks {missing}, listed in {attr_path.name}; the "
                              f"image folder is incomplete")
        size = self.image_size

        def build(alloc: Any) -> None:
            out = alloc("x", (len(names), 3, size, size), np.uint8)
            decode_into(out, names, self.tree.read, size, 3, label=f"CelebA {split} images")

        key = {"sources": stamp([attr_path, part_path]), "images": self.tree.stamp(names),
               "size": size}
        arrays = cached_arrays(f"celeba-{split}", key, build, enabled=self._cache)
        return arrays["x"], attrs[keep]
