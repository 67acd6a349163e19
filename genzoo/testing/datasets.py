"""``check_dataset``: a dataset plugin's conformance check.

What the host and the evaluators read from a dataset, checked on the dataset itself so that a
wrong draw is blamed on the dataset and not on the first model that trains on it.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from genzoo.core.model import DataSpec
from genzoo.data.base import Dataset
from genzoo.testing.models import ConformanceError

KINDS = ("toy", "image")


def check_dataset(dataset: Dataset, *, n: int = 16, splits: tuple[str, ...] = ("train", "test")
                  ) -> None:
    """Check ``dataset`` (an instance, as its factory builds it).

    ``spec`` is a ``DataSpec`` of a known kind; ``draw(n, generator, split)`` returns float32
    examples of shape (n, *x_shape), finite, in [0, 1] for images, for every split; labels
    are int64 (n,) in range where the spec declares classes (or (n, A) in {0, 1} for
    attributes) and mode labels in range where ``mixture()`` declares modes; the same
    generator state draws the same examples, another draws others, and torch's global
    generator is left alone; ``describe()`` is JSON.
    """
    label = getattr(getattr(dataset, "spec", None), "name", None) or type(dataset).__name__

    def fail(what: str) -> ConformanceError:
        return ConformanceError(f"check_dataset failed for dataset {label!r}: {what}")

    if not isinstance(dataset, Dataset):
        raise fail(f"{type(dataset).__name__} does not subclass genzoo.data.base.Dataset")
    spec = dataset.spec
    if not isinstance(spec, DataSpec):
        raise fail(f"spec is {type(spec).__name__}, not a genzoo.DataSpec")
    if spec.kind not in KINDS:
        raise fail(f"spec.kind is {spec.kind!r}; use one of {', '.join(KINDS)}")
    if not (isinstance(spec.x_shape, tuple) and spec.x_shape
            and all(isinstance(d, int) and d > 0 for d in spec.x_shape)):
        raise fail(f"spec.x_shape {spec.x_shape!r} must be a tuple of positive ints")
    mixture = dataset.mixture()
    for split in splits:
        x, y = _draw(dataset, n, 0, split, fail)
        if x.dtype != torch.float32:
            raise fail(f"draw(split={split!r}) returned x of dtype {x.dtype}; models train in "
                       f"float32 (convert with .float())")
        if tuple(x.shape) != (n, *spec.x_shape):
            raise fail(f"draw({n}, split={split!r}) returned x of shape {tuple(x.shape)}, "
                       f"expected {(n, *spec.x_shape)} (n, *spec.x_shape)")
        if not torch.isfinite(x).all():
            raise fail(f"draw(split={split!r}) returned values that are not finite")
        if spec.kind == "image" and (x.min() < 0 or x.max() > 1):
            raise fail(f"image values must be in [0, 1]; draw(split={split!r}) gave "
                       f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
        _check_labels(spec, mixture, y, n, split, fail)
        again = _draw(dataset, n, 0, split, fail)
        if not (torch.equal(x, again[0]) and _same(y, again[1])):
            raise fail(f"two draws with identically seeded generators differ (split "
                       f"{split!r}); draw every random number from the generator argument")
        if torch.equal(x, _draw(dataset, n, 1, split, fail)[0]):
            raise fail(f"draws with generators of different seeds are identical (split "
                       f"{split!r}); draw the examples with the generator argument")
    if mixture is not None and tuple(mixture.means.shape[1:]) != spec.x_shape:
        raise fail(f"mixture().means has shape {tuple(mixture.means.shape)}; expected "
                   f"(modes, *{spec.x_shape})")
    try:
        json.dumps(dataset.describe(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise fail(f"describe() is not JSON ({exc}); config.json records it") from None


def _draw(dataset: Dataset, n: int, seed: int, split: str,
          fail: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    state = torch.random.get_rng_state()
    try:
        out = dataset.draw(n, torch.Generator().manual_seed(seed), split=split)
    except Exception as exc:
        raise fail(f"draw({n}, split={split!r}) raised {type(exc).__name__}: {exc}") from exc
    if not torch.equal(state, torch.random.get_rng_state()):
        raise fail("draw() used torch's global generator; use the generator argument")
    if not (isinstance(out, tuple) and len(out) == 2 and torch.is_tensor(out[0])
            and (out[1] is None or torch.is_tensor(out[1]))):
        raise fail(f"draw() must return (x, labels or None) as tensors, got "
                   f"{type(out).__name__}")
    return out


def _check_labels(spec: DataSpec, mixture: Any, y: torch.Tensor | None, n: int, split: str,
                  fail: Any) -> None:
    wants = ("classes" if spec.num_classes else "attributes" if spec.attributes
             else "modes" if mixture is not None else None)
    if wants is None:
        return
    if y is None:
        what = {"classes": f"spec.num_classes = {spec.num_classes}",
                "attributes": f"{len(spec.attributes)} spec.attributes",
                "modes": f"mixture() with {len(mixture.means)} modes"}[wants]
        raise fail(f"draw(split={split!r}) returned no labels, but the dataset declares "
                   f"{what}; return each example's {wants[:-1]} label (the evaluators that "
                   f"score {wants} read them)")
    if wants == "attributes":
        if tuple(y.shape) != (n, len(spec.attributes)) or not ((y == 0) | (y == 1)).all():
            raise fail(f"attribute labels must be (n, {len(spec.attributes)}) of 0/1, got "
                       f"shape {tuple(y.shape)}")
        return
    top = spec.num_classes if wants == "classes" else len(mixture.means)
    if y.dtype != torch.int64 or tuple(y.shape) != (n,):
        raise fail(f"{wants[:-1]} labels must be int64 of shape ({n},), got {y.dtype} "
                   f"{tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= top):
        raise fail(f"{wants[:-1]} labels must be in 0..{top - 1}, got "
                   f"{int(y.min())}..{int(y.max())}")


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))
