"""Files written whole or not at all (a temporary file beside the target, fsync, rename), and
files hashed: the one of each that run directories, caches, downloads and reports use.

A reader (or a process killed mid-write) sees either the old file or the new one, never half
of one."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _file_mode() -> int:
    """The mode an ordinary ``open()`` would give a new file (mkstemp's is owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextmanager
def atomic_file(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` for the caller to write (by any means: a writer that
    opens files itself, a memory map); when the block ends normally it is made ordinary-mode,
    fsynced and renamed onto ``path``, otherwise removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)  # after the caller's writer, which may make a new file
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (never memoised by mtime here: coarse ticks could
    hide a file damaged in place)."""
    with open(path, "rb") as f:
        if hasattr(hashlib, "file_digest"):  # Python 3.11+
            return hashlib.file_digest(f, algorithm).hexdigest()
        digest = hashlib.new(algorithm)
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
        return digest.hexdigest()


def atomic_write_json(path: Path, obj: Any) -> None:
    # allow_nan=False: NaN and Infinity are not JSON; a caller writes null for them
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False)
                              + "\n").encode())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
