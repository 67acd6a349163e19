"""genzoo: a zoo of generative models with inference behind one evaluation API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genzoo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from genzoo.errors import GenzooError  # noqa: E402
from genzoo.hookspecs import hookimpl  # noqa: E402

__all__ = ["GenzooError", "hookimpl", "__version__"]
