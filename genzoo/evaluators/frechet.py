"""FID and KID through torch-fidelity's ``inception-v3-compat`` extractor, offline.

Images reach the extractor exactly as torch-fidelity feeds it: uint8 (n, 3, H, W), grayscale
repeated to three channels; it resizes them to 299×299 itself. Mean and covariance come from
torch-fidelity's ``fid_features_to_statistics`` and KID from its ``kid_features_to_metric``
(its defaults, the subset size capped at the sample counts). FID is torch-fidelity's formula
with its matrix square-root term computed through symmetric matrices (``trace_sqrt_product``):
the same number (tests hold it to 1e-6 of ``fid_statistics_to_metric``), in about a second
instead of the ~10-40 s its ``eigvals`` of a 2048×2048 product takes on a 2-core CPU.

A set of real images is summarised once: its features, mean and covariance are cached under
``<cache home>/fid-stats/``, keyed by a sha256 of the uint8 pixels (and shapes) and by the
extractor's weights, so evaluating a second model against the same data passes only the
generated images through the network. The files are safetensors, written atomically.

Speed on the CPU: each conv's batch norm is folded into the conv (``fuse_conv_bn_eval``) and
activations run channels-last, under ``torch.inference_mode``. Both change only rounding
(features agree with the unfused network to ~1e-5; tests/test_fid.py holds them to 1e-4).
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.core.errors import GenzooError, what_is
from genzoo.data.cache import note
from genzoo.data.files import cache_home
from genzoo.evaluators.inception import FidWeights, build_extractor, find_weights

STATS_VERSION = 1  # bump when what the cached statistics hold changes
DEFAULT_BATCH = 100
KID_SUBSETS = 100  # torch-fidelity's defaults
KID_SUBSET_SIZE = 1000

Chunks = Sequence[torch.Tensor]  # uint8 (n_i, C, H, W) runs of images of one shape, in order


class InceptionFeatures:
    """torch-fidelity's FeatureExtractorInceptionV3 ("2048" pool features), made fast."""

    def __init__(self, weights: FidWeights, *, device: str | torch.device = "cpu",
                 batch_size: int = DEFAULT_BATCH):
        self.weights = weights
        self.id = weights.extractor_id
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.net = fuse_batch_norms(build_extractor(weights)).to(self.device)
        self.net = self.net.to(memory_format=torch.channels_last)
        self.images_seen = 0  # how many images went through the network (tests count it)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """uint8 (n, 1 or 3, H, W) -> float32 features (n, 2048)."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise GenzooError(f"FID takes uint8 images (n, 1 or 3, H, W), got {images.dtype} "
                              f"{tuple(images.shape)}")
        out = np.empty((len(images), 2048), dtype=np.float32)
        with torch.inference_mode(), _fp32_only():
            for start in range(0, len(images), self.batch_size):
                x = images[start:start + self.batch_size].to(self.device)
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                (features,) = self.net(x.contiguous())
                out[start:start + len(x)] = features.float().cpu().numpy()
                self.images_seen += len(x)
        return out


def fuse_batch_norms(net: torch.nn.Module) -> torch.nn.Module:
    """The extractor with each BasicConv2d's batch norm folded into its conv (in place)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    from torch_fidelity.feature_extractor_inceptionv3 import BasicConv2d

    net.eval()
    for module in net.modules():
        if isinstance(module, BasicConv2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = torch.nn.Identity()
    return net


@contextmanager
def _fp32_only() -> Iterator[None]:
    """TF32 convolutions on a GPU would move the features by ~1e-3: keep them in fp32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


_EXTRACTORS: dict[tuple[str, str], InceptionFeatures] = {}


def extractor(weights: str | Path | None = None, *, device: str | torch.device = "cpu",
              batch_size: int = DEFAULT_BATCH) -> InceptionFeatures:
    """The extractor for the weights found (see genzoo.evaluators.inception), built once per process
    and device (building takes seconds; ``fid`` and ``kid`` share it)."""
    found = find_weights(weights)
    key = (found.sha256, str(torch.device(device)))
    if batch_size <= 0:
        raise GenzooError(f"the FID batch size must be a positive integer, got {batch_size}")
    if key not in _EXTRACTORS:
        _EXTRACTORS.clear()  # one network (~100 MB) held at a time
        _EXTRACTORS[key] = InceptionFeatures(found, device=device, batch_size=batch_size)
    net = _EXTRACTORS[key]
    net.batch_size = int(batch_size)
    return net


# --- statistics ----------------------------------------------------------------------------------

@dataclass
class Stats:
    """What FID and KID need of one set of images."""

    features: np.ndarray  # float32 (n, 2048)
    mu: np.ndarray  # float32 (2048,), as torch-fidelity computes it
    sigma: np.ndarray  # float64 (2048, 2048)
    root: np.ndarray | None = None  # sigma's symmetric square root, once computed
    cached: bool = False  # True when read back from the cache
    path: Path | None = None  # the cache file, which keeps ``root`` once it is computed

    @classmethod
    def of(cls, features: np.ndarray) -> Stats:
        from torch_fidelity.metric_fid import fid_features_to_statistics

        if len(features) < 2:
            raise GenzooError(f"FID needs at least 2 images on each side, got {len(features)}")
        stats = fid_features_to_statistics(torch.from_numpy(features))
        return cls(features, stats["mu"], stats["sigma"])

    def sqrt_sigma(self) -> np.ndarray:
        """The PSD square root of sigma (eigh; tiny negative eigenvalues from rounding are
        zero), kept in the cache file so a cached reference pays for it once."""
        if self.root is None:
            w, v = np.linalg.eigh(self.sigma)
            self.root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
            if self.path is not None:
                _write_stats(self.path, self)
        return self.root


def content_digest(chunks: Chunks) -> str:
    """sha256 of the images' shapes and uint8 pixels, in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(repr(tuple(chunk.shape)).encode())
        digest.update(memoryview(np.ascontiguousarray(chunk.numpy())).cast("B"))
    return digest.hexdigest()


def stats_path(net: InceptionFeatures, digest: str) -> Path:
    return cache_home() / "fid-stats" / f"{net.id}-{digest[:32]}-v{STATS_VERSION}.safetensors"


def image_stats(chunks: Chunks, net: InceptionFeatures, *, cache: bool = True,
                label: str = "images") -> Stats:
    """Statistics of real images: from the cache when these pixels were summarised before."""
    chunks = [c for c in chunks if len(c)]
    path = stats_path(net, content_digest(chunks)) if cache else None
    if path is not None and path.is_file():
        stats = _read_stats(path)
        if stats is not None:
            return stats
    total = sum(len(c) for c in chunks)
    if total >= 2 * net.batch_size:
        note(f"computing Inception features of {total} {label} (cached for next time)")
    stats = Stats.of(np.concatenate([net(c) for c in chunks]) if chunks
                     else np.empty((0, 2048), np.float32))
    if path is not None:
        _write_stats(path, stats)
        stats.path = path
    return stats


def _read_stats(path: Path) -> Stats | None:
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
        if not all(np.isfinite(a).all() for a in arrays.values()):
            return None  # NaN in a cache entry would poison every later FID: recompute it
        return Stats(arrays["features"], arrays["mu"], arrays["sigma"],
                     root=arrays.get("root"), cached=True, path=path)
    except Exception:  # noqa: BLE001 -- a damaged cache file is recomputed, not fatal
        return None


def _write_stats(path: Path, stats: Stats) -> None:
    from safetensors.numpy import save

    from genzoo.core.atomic import atomic_write_bytes

    arrays = {"features": np.ascontiguousarray(stats.features), "mu": stats.mu,
              "sigma": stats.sigma}
    if stats.root is not None:
        arrays["root"] = stats.root
    try:
        atomic_write_bytes(path, save(arrays))
    except OSError as exc:
        note(f"cannot cache FID statistics in {path.parent} ({exc}); they are recomputed "
             f"next time")


def fid(a: Stats, b: Stats, method: str = "auto") -> float:
    """Fréchet distance between two sets of features: torch-fidelity's formula
    ``|mu_a - mu_b|² + tr Σa + tr Σb - 2 tr sqrt(Σa Σb)``, its last term computed through
    symmetric matrices (see ``trace_sqrt_product``), not ``eigvals`` of the non-symmetric
    product, which takes ~10 s for 2048×2048 on a 2-core CPU."""
    diff = a.mu - b.mu
    return float(diff.dot(diff) + np.trace(a.sigma) + np.trace(b.sigma)
                 - 2 * trace_sqrt_product(a, b, method))


def trace_sqrt_product(a: Stats, b: Stats, method: str = "auto") -> float:
    """tr sqrt(Σa Σb), the sum of the square roots of the eigenvalues of Σa Σb.

    - "features": with centred features Xa, Xb those eigenvalues are the squared singular
      values of Xa Xbᵀ / sqrt((na-1)(nb-1)), an na × nb matrix: cheap for small sets;
    - "covariance": they are the eigenvalues of the symmetric PSD Rb Σa Rb, Rb = sqrt(Σb)
      (``b`` is the reference, whose root is cached): two matmuls and one ``eigvalsh``.

    "auto" picks the smaller problem."""
    na, nb = len(a.features), len(b.features)
    if method == "auto":
        method = "features" if na * nb <= a.sigma.shape[0] ** 2 else "covariance"
    if method == "features":
        xa = _centred(a.features)
        xb = _centred(b.features)
        s = np.linalg.svd(xa @ xb.T, compute_uv=False)
        return float(s.sum() / np.sqrt((na - 1) * (nb - 1)))
    if method == "covariance":
        root = b.sqrt_sigma()
        m = root @ a.sigma @ root
        w = np.linalg.eigvalsh((m + m.T) / 2)
        return float(np.sqrt(np.clip(w, 0, None)).sum())
    raise ValueError(f"unknown method {method!r}")


def _centred(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)  # as np.cov centres them
    return x - x.mean(axis=0)


def kid(a: Stats, b: Stats, *, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets (torch-fidelity's defaults, its seed);
    the subset size is capped at the smaller sample count."""
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    size = min(int(subset_size), len(a.features), len(b.features))
    if size < 2:
        raise GenzooError("KID needs at least 2 images on each side")
    out = kid_features_to_metric(torch.from_numpy(a.features), torch.from_numpy(b.features),
                                 kid_subsets=int(subsets), kid_subset_size=size, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> uint8, rounded as genzoo writes PNGs (so the FID of samples
    equals the FID of their saved PNGs)."""
    return (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


# --- generated images ----------------------------------------------------------------------------

_GENERATED: weakref.WeakKeyDictionary[Any, tuple[Any, list[np.ndarray]]] = \
    weakref.WeakKeyDictionary()


def sample_features(model: Any, n: int, rng: Any, net: InceptionFeatures, *,
                    key: Any = None) -> list[np.ndarray]:
    """Features of ``n`` samples from each replica of ``model`` (a list, one per replica).

    Remembered for the model's current weights under ``key``, so ``fid`` and ``kid`` in one
    evaluation sample and embed the images once."""
    fingerprint = (key, n, net.id, net.batch_size, _weights_version(model))
    hit = _GENERATED.get(model)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    parts: list[list[np.ndarray]] = [[] for _ in range(model.replicas)]
    with torch.no_grad():
        for start in range(0, n, net.batch_size):
            x = to_uint8(model.sample(min(net.batch_size, n - start), rng))
            for r in range(model.replicas):
                parts[r].append(net(x[r]))
    out = [np.concatenate(p) for p in parts]
    _GENERATED[model] = (fingerprint, out)
    return out


def _weights_version(model: torch.nn.Module) -> tuple[Any, ...]:
    """Changes whenever a parameter or buffer is replaced or modified in place."""
    return tuple((id(t), t.data_ptr(), t._version) for t in
                 (*model.parameters(), *model.buffers()))


# --- images from folders and datasets ------------------------------------------------------------

def folder_images(path: Path, limit: int | None = None) -> list[torch.Tensor]:
    """The images below ``path`` (a folder or .zip; sorted by name; the first ``limit``),
    decoded as torch-fidelity reads a folder: PIL ``convert("RGB")`` at the image's own size.
    Returns runs of images of one shape, in order."""
    from genzoo.data.decode import ImageTree, is_image, open_image

    tree = ImageTree(path)
    names = [n for n in tree.files() if is_image(n)][:limit]
    if not names:
        raise GenzooError(f"{path} holds no image files (.png, .jpg, ...)")
    chunks: list[torch.Tensor] = []
    run: list[np.ndarray] = []
    for name in names:
        try:
            with open_image(tree.read(name), f"{path}/{name}") as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
        except GenzooError:
            raise
        except Exception as exc:  # PIL raises many types for a bad file
            raise GenzooError(f"cannot decode {path}/{name} ({exc}); remove it or replace it "
                              f"with a readable image") from None
        if run and run[-1].shape != arr.shape:
            chunks.append(torch.from_numpy(np.stack(run)))
            run = []
        run.append(arr)
    chunks.append(torch.from_numpy(np.stack(run)))
    return chunks


def dataset_images(dataset: Any, split: str, limit: int | None = None) -> torch.Tensor:
    """The first ``limit`` uint8 images of a dataset split in published order (or, for a
    dataset without ``examples``, ``limit`` images drawn with a fixed seed)."""
    if getattr(dataset.spec, "kind", "") != "image":
        raise GenzooError(f"FID compares images; {dataset.spec.name!r} is "
                          f"{dataset.spec.kind} data")
    listed = dataset.examples(split)
    if listed is not None:
        x = listed[0]
        return x[:limit] if limit else x
    if not limit:
        raise GenzooError(f"dataset {dataset.spec.name!r} cannot list its images; give the "
                          f"number of reference images (fid_reference)")
    return to_uint8(dataset.draw(limit, torch.Generator().manual_seed(0), split=split)[0])


@dataclass
class Source:
    """One side of `genzoo fid`: a folder of images or a dataset split."""

    label: str
    chunks: list[torch.Tensor]


def resolve_source(text: str, registry: Any, data_options: dict[str, Any] | None = None,
                   limit: int | None = None) -> Source:
    """An existing path is a folder (or .zip) of images; otherwise ``NAME`` or ``NAME:SPLIT``
    names a dataset (split ``train`` unless given)."""
    path = Path(text).expanduser()
    if path.exists() and not (path.is_dir() or path.is_file()):
        raise GenzooError(f"{path} {what_is(path)}; pass a folder or .zip of images, or a "
                          f"dataset name")
    if path.exists():
        return Source(str(path), folder_images(path, limit or None))
    name, split = text, "train"
    head, sep, tail = text.rpartition(":")
    if sep and head and tail in ("train", "test"):
        name, split = head, tail
    try:
        dataset = registry.dataset(name, **(data_options or {}))
    except GenzooError as exc:
        raise GenzooError(f"{text!r} is neither a folder of images nor a dataset ({exc})") \
            from None
    return Source(f"{name}:{split}", [dataset_images(dataset, split, limit)])


def compare_sources(a: str, b: str, registry: Any, *, weights: str | Path | None = None,
                    with_kid: bool = False, batch_size: int = DEFAULT_BATCH,
                    limit: int | None = None, device: str = "cpu", cache: bool = True,
                    data_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """FID (and KID) between two folders of images and/or dataset splits."""
    sources = [resolve_source(s, registry, data_options, limit) for s in (a, b)]
    net = extractor(weights, device=device, batch_size=batch_size)
    stats = [image_stats(s.chunks, net, cache=cache, label=s.label) for s in sources]
    out: dict[str, Any] = {"fid": fid(*stats)}
    if with_kid:
        out["kid"], out["kid_std"] = kid(*stats)
    out.update({"a": sources[0].label, "b": sources[1].label,
                "images": [len(s.features) for s in stats],
                "weights": str(net.weights.path), "weights_origin": net.weights.origin})
    return out
