"""Image files to uint8 arrays: folders or .zip archives of images, centre-crop and resize.

PIL is imported only here and only when images are decoded, so `genzoo` starts fast.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.data.cache import note

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                            ".ppm", ".pgm"})
_CHUNK = 2048  # images decoded per thread-pool round; bounds memory held in flight
# The largest image decoded (width × height): 64 megapixels, 192 MB as RGB. PIL reads the size
# from the header before decoding, so a 20000×20000 PNG of a few kB is refused, not allocated.
MAX_PIXELS = 64_000_000


def is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


class ImageTree:
    """A folder, or a folder inside a .zip archive, read by "/"-separated relative paths."""

    def __init__(self, path: Path, inner: str = ""):
        self.path = Path(path)
        self.inner = inner.strip("/")  # the folder inside a .zip, e.g. "img_align_celeba"
        self._zip: zipfile.ZipFile | None = None
        self._stats: dict[str, list[int]] = {}

    @property
    def is_zip(self) -> bool:
        return self.path.is_file() and self.path.suffix.lower() == ".zip"

    def __str__(self) -> str:
        return f"{self.path}:{self.inner}" if self.is_zip else str(self.path)

    def files(self) -> list[str]:
        """Every file below the tree, sorted, relative to it."""
        if self.is_zip:
            prefix = self.inner + "/" if self.inner else ""
            return sorted(n[len(prefix):] for n in self._zipfile().namelist()
                          if n.startswith(prefix) and not n.endswith("/"))
        out = []
        for dirpath, _, filenames in os.walk(self.path):
            rel = os.path.relpath(dirpath, self.path)
            for name in filenames:
                out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
        return sorted(out)

    def exists(self, rel: str) -> bool:
        if self.is_zip:
            try:
                self._zipfile().getinfo(self._member(rel))
                return True
            except KeyError:
                return False
        return (self.path / rel).is_file()

    def read(self, rel: str) -> bytes:
        if self.is_zip:
            return self._zipfile().read(self._member(rel))
        return (self.path / rel).read_bytes()

    def stamp(self, rels: Sequence[str]) -> list[Any]:
        """A cache key part that changes when any of ``rels`` changes."""
        if self.is_zip:
            st = self.path.stat()
            return [str(self.path.resolve()), self.inner, st.st_size, st.st_mtime_ns, len(rels)]
        return [str(self.path.resolve()), *([rel, st.st_size, st.st_mtime_ns]
                                            for rel in rels for st in [os.stat(self.path / rel)])]

    def _member(self, rel: str) -> str:
        return f"{self.inner}/{rel}" if self.inner else rel

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise GenzooError(f"{self.path} is not a readable .zip archive ({exc}); "
                                  f"replace it with the published file") from None
        return self._zip


def open_image(data: bytes, name: str) -> Any:
    """A PIL image of ``data``, refused in one line when its header declares more than
    ``MAX_PIXELS`` pixels (a decompression bomb or a photo far larger than any dataset's)."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # PIL's own bound, above ours: the header is absurd
        raise GenzooError(f"{name} declares more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels "
                          f"(a decompression bomb?); genzoo decodes at most {MAX_PIXELS:,}; "
                          f"resize it or remove it") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise GenzooError(f"{name} is {w}×{h} pixels, more than the {MAX_PIXELS:,} genzoo "
                          f"decodes; resize it (e.g. to the dataset's size) or remove it")
    return img


def decode_image(data: bytes, size: int, channels: int, name: str = "image") -> np.ndarray:
    """One encoded image to uint8 (channels, size, size): the shorter side resized to ``size``
    (Lanczos), then the centre ``size`` × ``size`` crop. CelebA's 178×218 becomes 64×78 and
    rows 7..70, exactly the 64×64 version the paper's code (Fuel's celeba_64) trained on."""
    from PIL import Image

    with open_image(data, name) as img:
        img = img.convert("RGB" if channels == 3 else "L")
        w, h = img.size
        if min(w, h) != size:
            scale = size / min(w, h)
            img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                             Image.Resampling.LANCZOS)
            w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        if (w, h) != (size, size):
            img = img.crop((left, top, left + size, top + size))
        arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def decode_into(out: np.ndarray, names: Sequence[str], read: Callable[[str], bytes],
                size: int, channels: int, *, label: str = "images") -> None:
    """Decode ``names`` (read with ``read``) into ``out[i]`` with a pool of threads (PIL
    releases the GIL while decoding and resizing)."""
    workers = max(1, min(8, os.cpu_count() or 1))
    if len(names) > 5000:
        note(f"decoding {len(names):,} {label} once into the cache ({workers} threads); "
             f"later runs memory-map the result")

    def one(name: str) -> np.ndarray:
        try:
            return decode_image(read(name), size, channels, name)
        except GenzooError:
            raise
        except Exception as exc:  # PIL raises many types for a bad file
            raise GenzooError(f"cannot decode image {name} of {label} ({exc}); remove or "
                              f"replace that file") from None

    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            for i, arr in enumerate(pool.map(one, chunk)):
                out[start + i] = arr
