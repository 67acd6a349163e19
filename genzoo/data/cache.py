"""Decoded datasets kept as .npy files under ``<cache home>/decoded`` and memory-mapped.

Decoding 200,000 JPEGs takes minutes, so it happens once: the arrays are written into a
temporary folder, which is renamed into place only when complete (a killed process leaves no
half-written cache), under a name keyed by the source files' paths, sizes and mtimes and the
decoding parameters. A changed source file therefore gets a fresh cache instead of stale data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genzoo.core.errors import GenzooError
from genzoo.data.files import cache_home

FORMAT_VERSION = 1  # bump when decoding changes, so old caches are not reused
_MMAP_MIN_BYTES = 1 << 20  # smaller arrays are simply read into memory

Allocator = Callable[[str, tuple[int, ...], Any], np.ndarray]


def stamp(paths: Iterable[Path]) -> list[list[Any]]:
    """(path, size, mtime) of each source file: the part of a cache key that notices edits."""
    return [[str(Path(p).resolve()), st.st_size, st.st_mtime_ns]
            for p in paths for st in [os.stat(p)]]


def cached_arrays(tag: str, key: Mapping[str, Any], build: Callable[[Allocator], None], *,
                  enabled: bool = True) -> dict[str, np.ndarray]:
    """The arrays ``build(alloc)`` fills, from the cache when ``key`` was built before.

    ``build`` calls ``alloc(name, shape, dtype)`` for each array and fills what it gets back
    (a memory-mapped file when caching, so large datasets never sit in memory twice)."""
    if not enabled:
        return _build(build, None)
    text = json.dumps({"format": FORMAT_VERSION, "tag": tag, **key}, sort_keys=True,
                      default=str)
    final = cache_home() / "decoded" / f"{tag}-{hashlib.sha1(text.encode()).hexdigest()[:20]}"
    if (final / "key.json").is_file():
        return _load(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    except OSError as exc:
        warnings.warn(f"cannot cache decoded {tag} under {final.parent} ({exc}); decoding in "
                      f"memory every run", stacklevel=2)
        return _build(build, None)
    try:
        arrays = _build(build, tmp)
        for name, arr in arrays.items():
            if isinstance(arr, np.memmap):
                arr.flush()
            else:
                np.save(tmp / f"{name}.npy", arr)
        arrays.clear()  # closes the memmaps before the rename
        (tmp / "key.json").write_text(text)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "key.json").is_file():  # not merely another process being first
                raise
    except OSError as exc:
        raise GenzooError(f"cannot write the decoded {tag} cache under {final.parent} ({exc}); "
                          f"free some space, set $GENZOO_CACHE to another folder, or pass "
                          f"cache=False") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _load(final)


def _build(build: Callable[[Allocator], None], folder: Path | None) -> dict[str, np.ndarray]:
    """The arrays ``build`` fills: the large ones memory-mapped files in ``folder`` (if any)."""
    arrays: dict[str, np.ndarray] = {}

    def alloc(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        if folder is not None and int(np.prod(shape)) * np.dtype(dtype).itemsize >= _MMAP_MIN_BYTES:
            arrays[name] = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+",
                                                     dtype=dtype, shape=shape)
        else:
            arrays[name] = np.zeros(shape, dtype)
        return arrays[name]

    build(alloc)
    return arrays


def _load(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*.npy")):
        big = path.stat().st_size >= _MMAP_MIN_BYTES
        # copy-on-write: shared read-only pages, yet a writable array for torch.from_numpy
        out[path.stem] = np.load(path, mmap_mode="c" if big else None, allow_pickle=False)
    return out


def note(message: str) -> None:
    """A one-line notice for slow one-off work (decoding a large dataset into the cache)."""
    print(f"genzoo: {message}", file=sys.stderr, flush=True)
