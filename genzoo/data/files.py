"""Offline-first lookup of a dataset's published files, their md5 check, and ``download``.

Where files are looked for, in this order (the first folder holding every required file wins):

1. the ``data_dir`` option (CLI ``--data-dir D``): ``D/<dataset>/`` and then ``D/`` itself, so
   ``D`` may be a collection of datasets or the dataset's own folder;
2. ``$GENZOO_DATA/<dataset>/``;
3. ``~/.cache/genzoo/data/<dataset>/`` (``$GENZOO_CACHE/data/<dataset>/`` when set).

A published md5 is checked once per file version: the digest is remembered in
``~/.cache/genzoo/md5.json`` keyed by the file's path, device, inode, size, mtime and ctime, so
a 1 GB file is not re-hashed on every run while a file edited in place (even with its mtime
restored) is hashed again (the threat model: docs/guide.md).
A mismatch is an error (``verify=False`` turns the check off for files that are deliberately
not the published ones, such as synthetic files in the same format).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import threading
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.core.atomic import atomic_file, atomic_write_json, file_digest
from genzoo.core.errors import GenzooError

ENV_DATA = "GENZOO_DATA"
ENV_CACHE = "GENZOO_CACHE"
NETWORK_TIMEOUT_S = 10.0  # a download that cannot even connect within this gives up


@dataclass(frozen=True)
class FileSpec:
    """One published file (or folder) of a dataset, relative to the dataset's folder."""

    path: str  # "/"-separated, e.g. "cifar-10-batches-py/data_batch_1"
    md5: str | None = None  # the published md5, checked when given (files only)
    optional: bool = False
    alternative: FileSpec | None = None  # accepted instead, e.g. the .zip of an image folder

    def describe(self) -> str:
        text = self.path + (f" (md5 {self.md5})" if self.md5 else "")
        if self.alternative is not None:
            text += f" or {self.alternative.describe()}"
        return text


@dataclass(frozen=True)
class Download:
    """What ``download=True`` fetches into the dataset's folder."""

    url: str
    filename: str
    md5: str | None = None
    extract: bool = False  # unpack a .zip / .tar.gz in place and remove the archive


@dataclass(frozen=True)
class Published:
    """A dataset's published files: what is needed, where it is published, how to fetch it."""

    name: str  # the per-dataset subfolder under each root
    files: tuple[FileSpec, ...]
    page: str  # where a person finds the files
    downloads: tuple[Download, ...] = ()
    manual: str = ""  # why --download cannot fetch them, when it cannot


@dataclass
class Located:
    """The folder a dataset was found in and the path of each file present there."""

    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)  # FileSpec.path -> the path found
    verified: bool = False  # False when the md5 check was turned off (verify=False)
    md5_checked: list[str] = field(default_factory=list)  # the files whose md5 matched


def cache_home() -> Path:
    """``$GENZOO_CACHE`` or ``~/.cache/genzoo``: default data root, md5 memo, decoded arrays."""
    env = os.environ.get(ENV_CACHE, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genzoo"


def search_folders(name: str, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The folders searched for dataset ``name``, in lookup order."""
    folders: list[Path] = []
    if data_dir is not None and str(data_dir).strip():
        root = Path(data_dir).expanduser()
        folders += [root / name, root]
    env = os.environ.get(ENV_DATA, "").strip()
    if env:
        folders.append(Path(env).expanduser() / name)
    folders.append(cache_home() / "data" / name)
    return folders


def flag(value: Any) -> bool:
    """A boolean option that may have come back from config.json as a string."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", "", "none"):
            return False
        raise GenzooError(f"expected a boolean option (true/false), got {value!r}")
    return bool(value)


def locate(published: Published, data_dir: str | os.PathLike[str] | None = None, *,
           download: bool = False, verify: bool = True) -> Located:
    """Find ``published``'s files (fetching them first if ``download`` and they are missing)
    and check their md5s. Raises GenzooError with one line of guidance when they are absent."""
    folders = search_folders(published.name, data_dir)
    found = _first_complete(published, folders)
    if found is None and download:
        fetch(published, folders[0])
        found = _first_complete(published, folders)
    if found is None:
        raise GenzooError(_missing_message(published, folders, data_dir))
    if verify:
        for spec in (s for first in published.files for s in _chain(first)):
            path = found.paths.get(spec.path)
            if spec.md5 and path is not None and path.is_file():
                check_md5(path, spec.md5, published)
                found.md5_checked.append(spec.path)
    found.verified = verify
    return found


def _chain(spec: FileSpec | None) -> Iterator[FileSpec]:
    """``spec`` and its alternatives, in order."""
    while spec is not None:
        yield spec
        spec = spec.alternative


def _first_complete(published: Published, folders: Sequence[Path]) -> Located | None:
    for folder in folders:
        paths: dict[str, Path] = {}
        for spec in published.files:
            hit = next((s.path for s in _chain(spec) if (folder / s.path).exists()), None)
            if hit is not None:
                paths[hit] = folder / hit
            elif not spec.optional:
                break
        else:
            return Located(folder, paths)
    return None


def _missing_message(published: Published, folders: Sequence[Path],
                     data_dir: str | os.PathLike[str] | None) -> str:
    need = ", ".join(s.describe() for s in published.files if not s.optional)
    places = ", ".join(str(f) for f in folders)
    if not os.environ.get(ENV_DATA, "").strip():
        places += f" (${ENV_DATA} is unset)"
    how = ("`genzoo train --download` fetches them" if published.downloads
           else f"download them by hand ({published.manual})" if published.manual
           else "download them by hand")
    where = "" if data_dir is not None else " or pass --data-dir DIR"
    return (f"dataset {published.name!r} needs {need}; looked in {places}; they are published "
            f"at {published.page}; {how}, or put them in one of those folders{where}")


# --- md5 ---------------------------------------------------------------------------------------

_MEMO_LOCK = threading.Lock()


def _memo_path() -> Path:
    return cache_home() / "md5.json"


def _stamp(st: os.stat_result) -> list[int]:
    # ctime cannot be set back by a user (os.utime restores mtime, not ctime), and the inode
    # changes when a file is replaced, so a file edited in place is always hashed again.
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _read_memo() -> dict[str, Any]:
    try:
        memo = json.loads(_memo_path().read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def file_md5(path: Path) -> str:
    """The md5 of ``path``, remembered per file version so a large file is hashed once.

    A version is (device, inode, size, mtime, ctime). The memo guards against staleness, not
    against its owner: whoever can edit it can edit the data files and genzoo itself (see
    docs/guide.md, "Dataset files")."""
    path = path.resolve()
    key = str(path)
    stamp = _stamp(path.stat())
    with _MEMO_LOCK:
        entry = _read_memo().get(key)
    if (isinstance(entry, dict) and entry.get("stamp") == stamp
            and isinstance(entry.get("md5"), str)):
        return entry["md5"]
    md5 = file_digest(path, "md5")
    if _stamp(path.stat()) != stamp:
        return md5  # changed while it was read: not remembered
    with _MEMO_LOCK:
        memo = _read_memo()  # re-read: another process may have added entries meanwhile
        memo[key] = {"stamp": stamp, "md5": md5}
        try:
            atomic_write_json(_memo_path(), memo)
        except OSError:
            pass  # an unwritable cache only costs a re-hash next time
    return md5


def check_md5(path: Path, expected: str, published: Published) -> None:
    """Raise GenzooError unless ``path`` has the published md5 ``expected``."""
    actual = file_md5(path)
    if actual != expected.lower():
        raise GenzooError(
            f"{path} has md5 {actual}, but the published {path.name} of {published.name!r} has "
            f"md5 {expected}: it is damaged or a different file; replace it with the one "
            f"published at {published.page} (if it is deliberately your own file in the same "
            f"format, `genzoo train --no-verify` or verify=False skips the check)")


# --- download ----------------------------------------------------------------------------------

def _open_url(url: str, timeout: float) -> Any:
    """urlopen, with the whole connection attempt (DNS included) bounded by ``timeout``."""
    result: dict[str, Any] = {}

    def attempt() -> None:
        try:
            result["response"] = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        except BaseException as exc:  # handed to the caller below
            result["error"] = exc

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():  # DNS resolution ignores socket timeouts; do not wait for it
        raise TimeoutError(f"no answer within {timeout:.0f}s")
    if "error" in result:
        raise result["error"]
    return result["response"]


def fetch(published: Published, folder: Path, timeout: float = NETWORK_TIMEOUT_S) -> None:
    """Download ``published``'s files into ``folder``; one-line GenzooError without a network."""
    if not published.downloads:
        raise GenzooError(f"dataset {published.name!r} cannot be downloaded automatically: "
                          f"{published.manual or 'no direct link is published'}; fetch it from "
                          f"{published.page} and put it in {folder}")
    for item in published.downloads:
        target = folder / item.filename
        try:
            response = _open_url(item.url, timeout)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            place = "unpack it in" if item.extract else "put it in"
            raise GenzooError(f"cannot download {item.url} ({reason}); no network here? Fetch "
                              f"{item.filename} by hand from {published.page} and {place} "
                              f"{folder}") from None
        folder.mkdir(parents=True, exist_ok=True)  # only once something can be fetched
        try:
            with atomic_file(target, suffix=".part") as tmp:
                with open(tmp, "wb") as out, response:
                    shutil.copyfileobj(response, out, 1 << 22)
                if item.md5:
                    check_md5(tmp, item.md5, published)
        except OSError as exc:
            raise GenzooError(f"downloading {item.url} failed ({exc}); try again, or fetch it "
                              f"by hand from {published.page}") from None
        if item.extract:
            _extract(target, folder)
            target.unlink()


def _extract(archive: Path, folder: Path) -> None:
    dest = folder.resolve()
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if not (dest / member).resolve().is_relative_to(dest):
                    raise GenzooError(f"archive member {member!r} would be written outside "
                                      f"{dest}; the archive is not the published one")
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")  # refuses links and paths outside dest


def describe_located(located: Located, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a file-backed dataset records in config.json."""
    checked = located.md5_checked if located.verified else "off (verify=False)"
    return {"folder": str(located.folder), "md5_checked": checked, **(extra or {})}
