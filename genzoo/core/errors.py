"""The one exception type users see: its message is a single line that says what to do."""

from __future__ import annotations

import os
import stat


class GenzooError(Exception):
    """A user-facing failure. The CLI prints its message on one line and exits with code 2."""


class PluginError(GenzooError):
    """A plugin could not be loaded or registered something invalid."""


class ReportedElsewhere(GenzooError):
    """A failure another process prints (rank 0 of a compare under torchrun): the CLI exits
    with code 2 without a line of its own, so the user reads the failure once."""


def what_is(path: str | os.PathLike[str]) -> str:
    """What is at ``path``, for a message: "does not exist", "is a named pipe (FIFO)", ..."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    kinds = ((stat.S_ISDIR, "is a folder"), (stat.S_ISREG, "is a file"),
             (stat.S_ISFIFO, "is a named pipe (FIFO)"), (stat.S_ISSOCK, "is a socket"),
             (stat.S_ISCHR, "is a character device"), (stat.S_ISBLK, "is a block device"))
    return next((text for test, text in kinds if test(mode)), "is not a file or folder")
