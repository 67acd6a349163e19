"""One writer per directory: an OS lock (``flock``) on ``DIR/.genzoo.lock``.

The lock belongs to an open file, so it dies with its process: a killed run leaves no stale
lock behind, and nothing has to clean up after it. The file holds the holder's pid and what
it is doing, for the message a second writer gets. Where ``fcntl`` is missing (Windows) the
lock is a no-op.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from genzoo.core.errors import GenzooError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".genzoo.lock"


class DirLock:
    """An exclusive lock on ``directory`` (created if needed), taken by ``acquire``."""

    def __init__(self, directory: Path, what: str):
        self.directory, self.what = Path(directory), what
        self._file: IO[str] | None = None

    def acquire(self) -> DirLock:
        if self._file is not None or fcntl is None:
            return self
        path = self.directory / LOCK_NAME
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            f = open(path, "a+")  # noqa: SIM115 - held open for the lock's life
        except OSError as exc:
            raise GenzooError(f"cannot write to {self.directory} ({exc.strerror or exc}); "
                              f"choose another directory") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise GenzooError(f"{self.directory} is in use by {holder}; wait for it to "
                              f"finish or choose another directory") from None
        f.seek(0)
        f.truncate()
        f.write(f"genzoo process {os.getpid()} ({self.what})")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            f, self._file = self._file, None
            f.truncate(0)
            f.close()  # closing the file drops the flock

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
